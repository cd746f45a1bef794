using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
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
            Description = "A file or directory of the checkpoint: recorded where it is (size and SHA-256 computed here, file:// URI), or uploaded with --upload; repeatable",
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

            var experiment = parseResult.GetRequiredValue(experimentId);
            var references = uploadFiles ? [] : await LocalReferencesAsync(files, ct);
            var result = await client.CreateCheckpointAsync(experiment, epochValue, metricValues, metadataValue, references, ct);
            var checkpoint = result.Value;
            string? note = null;
            if (result.AlreadyExisted)
            {
                // A create of an existing epoch keeps the checkpoint as it was; files the user named are still attached to it,
                // and the answer says so rather than "nothing was changed".
                if (files.Count > 0 && !uploadFiles)
                {
                    await client.TrackArtifactsAsync(references.Select(r => r with { ParentId = checkpoint.Id }), ct);
                }

                note = files.Count == 0
                    ? $"the experiment already had a checkpoint at epoch {epochValue}; nothing was changed"
                    : $"the experiment already had a checkpoint at epoch {epochValue}: its metrics and metadata were kept, and {Files(files.Count)} " +
                      (uploadFiles ? "uploaded and attached to it" : "recorded on it by reference (not uploaded)");
            }

            if (uploadFiles)
            {
                await ArtifactCommands.UploadAsync(client, output, checkpoint.Id, files, ct);
            }

            if (files.Count > 0)
            {
                checkpoint = await client.GetCheckpointAsync(checkpoint.Id, ct);
            }

            Write(output, checkpoint, note);
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

    private static string Files(int count) => count == 1 ? "1 file was" : $"{count} files were";

    /// <summary>
    /// References to files that stay where they are: the server cannot read them, so their size and SHA-256 (and MD5, as the
    /// original SDKs record it) are computed here, and the URI is the absolute <c>file://</c> path on this machine.
    /// </summary>
    private static async Task<List<TrackedFile>> LocalReferencesAsync(List<(string LocalPath, string Name)> files, CancellationToken ct)
    {
        var references = new List<TrackedFile>(files.Count);
        foreach (var (local, name) in files)
        {
            using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            var buffer = new byte[1 << 16];
            long size = 0;
            await using (var stream = new FileStream(local, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, useAsync: true))
            {
                int read;
                while ((read = await stream.ReadAsync(buffer, ct)) > 0)
                {
                    sha256.AppendData(buffer, 0, read);
                    md5.AppendData(buffer, 0, read);
                    size += read;
                }
            }

            references.Add(new TrackedFile
            {
                Kind = FileKind.Checkpoint,
                Path = name,
                Uri = new Uri(Path.GetFullPath(local)).AbsoluteUri,
                SizeBytes = size,
                Sha256 = Convert.ToHexStringLower(sha256.GetHashAndReset()),
                Md5 = Convert.ToHexStringLower(md5.GetHashAndReset()),
            });
        }

        return references;
    }

    private static void Write(CommandOutput output, Checkpoint c, string? note = null)
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
        if (note is not null)
        {
            fields.Add(("Note", note));
        }

        output.WriteObject(c, fields);
    }
}
