using System.CommandLine;

namespace ModelBox.Cli.ClientCommands;

/// <summary><c>modelbox client health</c>: is the server serving, and what is it.</summary>
internal static class HealthCommand
{
    public static Command Create(ClientGlobalOptions global)
    {
        var command = new Command("health", "Report a server's health, version and backends (exit 1 unless it is serving)");
        command.Aliases.Add("status");
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var status = await client.GetServerStatusAsync(ct);
            output.WriteObject(
                new
                {
                    status = status.Status,
                    version = status.Version,
                    metadata_storage = status.MetadataStorage,
                    artifact_storage = status.ArtifactStorage,
                    started_at = status.StartedAt,
                    host_name = status.HostName,
                    address = client.Address,
                },
                [
                    ("STATUS", status.Status),
                    ("VERSION", status.Version),
                    ("METADATA STORAGE", status.MetadataStorage),
                    ("ARTIFACT STORAGE", status.ArtifactStorage),
                    ("STARTED", CommandOutput.Time(status.StartedAt)),
                    ("HOST", status.HostName),
                    ("ADDRESS", client.Address),
                ]);
            if (!status.IsServing)
            {
                throw new CliOperationException($"the server at {client.Address} is {status.Status}");
            }
        });
        return command;
    }
}
