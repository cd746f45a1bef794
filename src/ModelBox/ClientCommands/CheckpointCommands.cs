using System.CommandLine;
using System.Globalization;
using ModelBox.Client;

namespace ModelBox.Cli.ClientCommands;

/// <summary><c>modelbox client checkpoints ...</c>: snapshots of an experiment at an epoch.</summary>
internal static class CheckpointCommands
{
    private static readonly Column<Checkpoint>[] s_columns =
    [
        new("ID", c => c.Id),
        new("EPOCH", c => c.Epoch.ToString(CultureInfo.InvariantCulture)),
        new("METRICS", c => Metrics(c)),
        new("FILES", c => c.Files.Count.ToString(CultureInfo.InvariantCulture)),
        new("CREATED", c => CommandOutput.Time(c.CreatedAt)),
    ];

    public static Command Create(ClientGlobalOptions global)
    {
        var command = new Command("checkpoints", "Create and list checkpoints of an experiment");
        command.Aliases.Add("checkpoint");
        command.Add(CreateCommand(global));
        command.Add(ListCommand(global));
        command.Add(GetCommand(global));
        return command;
    }

    private static Command CreateCommand(ClientGlobalOptions global)
    {
        var experimentId = ExperimentIdOption();
        var epoch = new Option<long>("--epoch") { Description = "The epoch (0 or more)", Required = true };
        var metrics = new Option<string[]>("--metric") { Description = "A metric value as key=number, repeatable", HelpName = "key=value" };
        var metadata = ExperimentCommands.MetadataOption();
        var paths = new Option<string[]>("--path")
        {
            Description = "A file or directory of the checkpoint; recorded by path, or uploaded with --upload; repeatable",
            AllowMultipleArgumentsPerToken = true,
        };
        var upload = new Option<bool>("--upload") { Description = "Upload the --path files to ModelBox (the server verifies their MD5)" };
        var command = new Command("create", "Create a checkpoint (returns the existing one for the same epoch)") { experimentId, epoch, metrics, metadata, paths, upload };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var epochValue = parseResult.GetValue(epoch);
            if (epochValue < 0)
            {
                throw new CliUsageException($"--epoch must be 0 or more, not {epochValue}");
            }

            var metricValues = CliValues.ParseMetrics(parseResult.GetValue(metrics));
            var metadataValue = CliValues.ParseMetadata(parseResult.GetValue(metadata));
            var files = ArtifactCommands.Expand(parseResult.GetValue(paths) ?? []);
            var uploadFiles = parseResult.GetValue(upload);
            if (uploadFiles && files.Count == 0)
            {
                throw new CliUsageException("--upload needs at least one --path");
            }

            var tracked = uploadFiles ? [] : files.Select(f => new TrackedFile { Path = f.Name, Kind = FileKind.Checkpoint }).ToList();
            var result = await client.CreateCheckpointAsync(
                parseResult.GetRequiredValue(experimentId), epochValue, metricValues, metadataValue, tracked, ct);
            var checkpoint = result.Value;
            if (uploadFiles)
            {
                await ArtifactCommands.UploadAsync(client, output, checkpoint.Id, files, ct);
                checkpoint = await client.GetCheckpointAsync(checkpoint.Id, ct);
            }

            Write(output, checkpoint, result.AlreadyExisted);
        });
        return command;
    }

    private static Command ListCommand(ClientGlobalOptions global)
    {
        var experimentId = ExperimentIdOption();
        var command = new Command("list", "List the checkpoints of an experiment by epoch") { experimentId };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var checkpoints = await client.ListCheckpointsAsync(parseResult.GetRequiredValue(experimentId), ct).ToListAsync(ct);
            output.WriteList(checkpoints, s_columns, "No checkpoints.");
        });
        return command;
    }

    private static Command GetCommand(ClientGlobalOptions global)
    {
        var id = ExperimentCommands.IdArgument();
        var command = new Command("get", "Show a checkpoint") { id };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
            Write(output, await client.GetCheckpointAsync(parseResult.GetRequiredValue(id), ct)));
        return command;
    }

    private static Option<string> ExperimentIdOption() => new("--experiment-id") { Description = "The experiment id", Required = true };

    private static string Metrics(Checkpoint c) =>
        string.Join(", ", c.Metrics.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => string.Create(CultureInfo.InvariantCulture, $"{m.Key}={m.Value}")));

    private static void Write(CommandOutput output, Checkpoint c, bool alreadyExisted = false)
    {
        var fields = new List<(string, string)>
        {
            ("ID", c.Id),
            ("Experiment", c.ExperimentId),
            ("Epoch", c.Epoch.ToString(CultureInfo.InvariantCulture)),
            ("Metrics", Metrics(c)),
            ("Files", c.Files.Count.ToString(CultureInfo.InvariantCulture)),
            ("Metadata", CommandOutput.Metadata(c.Metadata)),
            ("Created", CommandOutput.Time(c.CreatedAt)),
        };
        if (alreadyExisted)
        {
            fields.Add(("Note", "the experiment already had a checkpoint at this epoch; nothing was changed"));
        }

        output.WriteObject(c, fields);
    }
}
