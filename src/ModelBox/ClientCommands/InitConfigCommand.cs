using System.CommandLine;

namespace ModelBox.Cli.ClientCommands;

/// <summary><c>modelbox client init-config</c>: writes a client config file to start from.</summary>
internal static class InitConfigCommand
{
    public static Command Create(ClientGlobalOptions global)
    {
        var path = new Option<string>("--path")
        {
            Description = "Where to write the file",
            HelpName = "file",
            DefaultValueFactory = _ => ClientSettings.DefaultConfigFileName,
        };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing file" };
        var command = new Command("init-config", "Write a client config file (server_addr)") { path, force };
        global.SetLocalAction(command, async (parseResult, output, ct) =>
        {
            var target = Path.GetFullPath(parseResult.GetRequiredValue(path));
            if (File.Exists(target) && !parseResult.GetValue(force))
            {
                throw new CliOperationException($"'{target}' already exists; pass --force to overwrite it");
            }

            // Seed the file with the address the user would connect to now, so init-config + edit is never a surprise.
            var serverAddress = parseResult.GetValue(global.ServerAddress) ?? ClientSettings.DefaultServerAddress;
            await File.WriteAllTextAsync(target, ClientSettings.Template(serverAddress), ct);
            output.WriteOutcome($"Wrote client config {target}.", new { path = target, server_addr = serverAddress });
        });
        return command;
    }
}
