using Tomlyn;
using Tomlyn.Model;

namespace ModelBox.Cli.ClientCommands;

/// <summary>
/// Where the CLI finds its server: <c>--server-addr</c>, then <c>MODELBOX_SERVER_ADDR</c>, then <c>server_addr</c>
/// in the client TOML (<c>--config-path</c>, or <c>./modelbox_client.toml</c> when it exists), then <c>localhost:8085</c>.
/// Its token: <c>MODELBOX_TOKEN</c>, then <c>token</c> in the same file (never a command-line option: those end up in
/// shell histories and process listings).
/// </summary>
internal sealed record ClientSettings(string ServerAddress, string? Token = null)
{
    public const string TokenVariable = "MODELBOX_TOKEN";
    private const string TokenKey = "token";

    public const string DefaultServerAddress = "localhost:8085";
    public const string DefaultConfigFileName = "modelbox_client.toml";
    public const string ServerAddressVariable = "MODELBOX_SERVER_ADDR";
    private const string ServerAddressKey = "server_addr";

    public static ClientSettings Resolve(string? serverAddressOption, string? configPathOption, Func<string, string?> environment, string currentDirectory)
    {
        var settings = ResolveAddress(serverAddressOption, configPathOption, environment, currentDirectory, out var file);
        var token = environment(TokenVariable) is { } fromEnvironment && !string.IsNullOrWhiteSpace(fromEnvironment) ? fromEnvironment.Trim() : file?.Token;
        return settings with { Token = token };
    }

    private static ClientSettings ResolveAddress(
        string? serverAddressOption, string? configPathOption, Func<string, string?> environment, string currentDirectory, out ClientSettings? file)
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

        var defaultFile = Path.Combine(currentDirectory, DefaultConfigFileName);
        file = fromExplicitFile ?? (File.Exists(defaultFile) ? Load(defaultFile) : null);

        if (!string.IsNullOrWhiteSpace(serverAddressOption))
        {
            return new ClientSettings(serverAddressOption.Trim());
        }

        if (environment(ServerAddressVariable) is { } fromEnvironment && !string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return new ClientSettings(fromEnvironment.Trim());
        }

        return file ?? new ClientSettings(DefaultServerAddress);
    }

    /// <summary>The file <c>modelbox client init-config</c> writes.</summary>
    public static string Template(string serverAddress) =>
        $"""
        # ModelBox client configuration, read by `modelbox client ...`.
        # The --server-addr option and the {ServerAddressVariable} environment variable override it.

        # The server's gRPC address: host:port (plaintext HTTP/2) or http(s)://host:port.
        {ServerAddressKey} = "{serverAddress}"

        # An API token for a server with access control enforced (`modelbox client tokens create`); the
        # {TokenVariable} environment variable overrides it. Keep this file private (chmod 600) when it holds one.
        # {TokenKey} = "mbx_..."

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
        string? token = null;
        foreach (var (key, value) in table)
        {
            if (!string.Equals(key, ServerAddressKey, StringComparison.Ordinal) && !string.Equals(key, TokenKey, StringComparison.Ordinal))
            {
                throw new CliUsageException($"unknown key '{key}' in client config '{path}'; the keys are '{ServerAddressKey}' and '{TokenKey}'");
            }

            if (value is not string text || string.IsNullOrWhiteSpace(text))
            {
                throw new CliUsageException(key == TokenKey
                    ? $"'{TokenKey}' in client config '{path}' must be a non-empty string (an API token, mbx_...)"
                    : $"'{ServerAddressKey}' in client config '{path}' must be a non-empty string such as \"{DefaultServerAddress}\"");
            }

            if (key == TokenKey)
            {
                token = text.Trim();
            }
            else
            {
                serverAddress = text.Trim();
            }
        }

        return new ClientSettings(serverAddress, token);
    }
}
