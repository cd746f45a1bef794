using Tomlyn;
using Tomlyn.Model;

namespace ModelBox.Cli.ClientCommands;

/// <summary>
/// Where the CLI finds its server: <c>--server-addr</c>, then <c>MODELBOX_SERVER_ADDR</c>, then <c>server_addr</c>
/// in the client TOML (<c>--config-path</c>, or <c>./modelbox_client.toml</c> when it exists), then <c>localhost:8085</c>.
/// </summary>
internal sealed record ClientSettings(string ServerAddress)
{
    public const string DefaultServerAddress = "localhost:8085";
    public const string DefaultConfigFileName = "modelbox_client.toml";
    public const string ServerAddressVariable = "MODELBOX_SERVER_ADDR";
    private const string ServerAddressKey = "server_addr";

    public static ClientSettings Resolve(string? serverAddressOption, string? configPathOption, Func<string, string?> environment, string currentDirectory)
    {
        // An explicitly named config file is read even when a higher source wins, so a broken file never goes unnoticed.
        ClientSettings? fromExplicitFile = null;
        if (!string.IsNullOrWhiteSpace(configPathOption))
        {
            var path = Path.GetFullPath(configPathOption, currentDirectory);
            if (!File.Exists(path))
            {
                throw new CliUsageException($"client config file '{configPathOption}' (--config-path) does not exist");
            }

            fromExplicitFile = Load(path);
        }

        if (!string.IsNullOrWhiteSpace(serverAddressOption))
        {
            return new ClientSettings(serverAddressOption.Trim());
        }

        if (environment(ServerAddressVariable) is { } fromEnvironment && !string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return new ClientSettings(fromEnvironment.Trim());
        }

        if (fromExplicitFile is not null)
        {
            return fromExplicitFile;
        }

        var defaultFile = Path.Combine(currentDirectory, DefaultConfigFileName);
        return File.Exists(defaultFile) ? Load(defaultFile) : new ClientSettings(DefaultServerAddress);
    }

    /// <summary>The file <c>modelbox client init-config</c> writes.</summary>
    public static string Template(string serverAddress) =>
        $"""
        # ModelBox client configuration, read by `modelbox client ...`.
        # The --server-addr option and the {ServerAddressVariable} environment variable override it.

        # The server's gRPC address: host:port (plaintext HTTP/2) or http(s)://host:port.
        {ServerAddressKey} = "{serverAddress}"

        """;

    public static ClientSettings Load(string path)
    {
        TomlTable table;
        try
        {
            table = TomlSerializer.Deserialize<TomlTable>(File.ReadAllText(path))
                ?? throw new CliUsageException($"cannot parse client config '{path}': the file is empty");
        }
        catch (TomlException exception)
        {
            // Tomlyn reports one diagnostic per line; an error line should stay one line.
            var diagnostics = exception.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            throw new CliUsageException($"cannot parse client config '{path}': {string.Join("; ", diagnostics)}");
        }

        var serverAddress = DefaultServerAddress;
        foreach (var (key, value) in table)
        {
            if (!string.Equals(key, ServerAddressKey, StringComparison.Ordinal))
            {
                throw new CliUsageException($"unknown key '{key}' in client config '{path}'; the only key is '{ServerAddressKey}'");
            }

            if (value is not string text || string.IsNullOrWhiteSpace(text))
            {
                throw new CliUsageException($"'{ServerAddressKey}' in client config '{path}' must be a non-empty string such as \"{DefaultServerAddress}\"");
            }

            serverAddress = text.Trim();
        }

        return new ClientSettings(serverAddress);
    }
}
