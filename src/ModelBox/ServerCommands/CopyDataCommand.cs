using System.CommandLine;
using ModelBox.Cli.Hosting;
using ModelBox.Server.Configuration;
using ModelBox.Storage.Relational.Transfer;
using Spectre.Console;

namespace ModelBox.Cli.ServerCommands;

/// <summary>`modelbox server copy-data`: everything of one deployment into another (docs/reliability.md).</summary>
internal static class CopyDataCommand
{
    public static Command Create()
    {
        var from = new Option<string>("--from-config")
        {
            Description = "TOML configuration of the deployment to copy from (an embedded one may be served meanwhile: it is copied from a snapshot)",
            Required = true,
        };
        var to = new Option<string>("--to-config") { Description = "TOML configuration of the empty deployment to copy into (e.g. PostgreSQL + S3)", Required = true };
        var batchRows = new Option<int>("--batch-rows") { Description = "Rows per committed batch in the target", DefaultValueFactory = _ => 20_000 };
        // For the interruption tests: hold still after this many committed batches, so that a SIGKILL lands mid-copy.
        var holdAfterBatches = new Option<int?>("--hold-after-batches") { Hidden = true };
        var blobConcurrency = new Option<int>("--blob-concurrency") { Description = "Blobs copied at once", DefaultValueFactory = _ => 4 };
        var sample = new Option<int?>("--verify-sample") { Description = "After the copy, read and hash N random blobs of the target instead of all of them" };
        var copy = new Command("copy-data",
            "Copy all metadata, metric points, change records and blobs from one configuration to another (e.g. embedded -> PostgreSQL + S3) with "
            + "ids and change sequences as they are; resumable after an interruption (run it again), verified at the end")
        { from, to, batchRows, blobConcurrency, sample, holdAfterBatches };
        copy.SetAction(async (parseResult, cancellationToken) =>
        {
            if (parseResult.GetValue(batchRows) < 1)
            {
                await Console.Error.WriteLineAsync("error: --batch-rows: must be at least 1");
                return 2;
            }

            if (parseResult.GetValue(blobConcurrency) is < 1 or > 64)
            {
                await Console.Error.WriteLineAsync("error: --blob-concurrency: must be from 1 to 64");
                return 2;
            }

            ServerConfig target;
            try
            {
                target = ServerConfigLoader.Load(parseResult.GetValue(to));
            }
            catch (ConfigurationException ex)
            {
                await Console.Error.WriteLineAsync($"error: --to-config: {ex.Message}");
                return 1;
            }

            return await ServerCommand.RunMaintenanceAsync(parseResult.GetValue(from), async config =>
            {
                if (config.MetadataStorage == "integrated" && target.MetadataStorage == "integrated"
                    && string.Equals(config.SqliteDatabasePath, target.SqliteDatabasePath, StringComparison.Ordinal))
                {
                    await Console.Error.WriteLineAsync("error: --from-config and --to-config name the same embedded database");
                    return 1;
                }

                // The target must not take writes before it holds everything. The source must hold still for the copy to be
                // one state (and resumable): an embedded source is locked like a server locks it, or, while a server serves
                // it, copied from a snapshot (see SourceSnapshot).
                using var targetLock = target.MetadataStorage == "integrated" ? DataFolderLock.Acquire(target.DataDir) : null;
                await using var sourceDeployment = Deployment.Open(config, readOnly: true);
                await using var targetDeployment = Deployment.Open(target, readOnly: false);
                await targetDeployment.Store.MigrateAsync(cancellationToken);
                var resuming = await DataCopier.IsResumingAsync(targetDeployment.Dialect, cancellationToken);
                await using var snapshot = config.MetadataStorage == "integrated"
                    ? await SourceSnapshot.OpenAsync(sourceDeployment, target, resuming, cancellationToken)
                    : null;
                var copier = new DataCopier(snapshot?.Dialect ?? sourceDeployment.Dialect, sourceDeployment.Blobs, targetDeployment.Dialect, targetDeployment.Blobs)
                {
                    BatchRows = parseResult.GetValue(batchRows),
                    BlobConcurrency = parseResult.GetValue(blobConcurrency),
                    LiveSource = snapshot?.Dialect is null ? null : sourceDeployment.Dialect,
                    TargetFiles = targetDeployment.Files,
                };
                Console.WriteLine($"{(resuming ? "resuming the copy" : "copying")} from {sourceDeployment.Describe} to {targetDeployment.Describe}");
                if (snapshot?.Describe is { } described)
                {
                    Console.WriteLine(described);
                }

                try
                {
                    await RunWithProgressAsync(copier, parseResult.GetValue(holdAfterBatches), cancellationToken);
                }
                catch (InvalidOperationException ex)
                {
                    await Console.Error.WriteLineAsync($"error: {ex.Message}");
                    return 1;
                }

                foreach (var deleted in copier.DeletedAfterSnapshot)
                {
                    Console.WriteLine(
                        $"file {deleted.FileId} (blob {deleted.Sha256}) was deleted from the source at {deleted.DeletedAt:u}, after the snapshot, "
                        + "and its blob removed: the target holds its deletion too (a change record of the target's own)");
                }

                var comparisons = await copier.CompareAsync(null, cancellationToken);
                foreach (var comparison in comparisons.Where(c => c.SourceRows > 0 || !c.Equal))
                {
                    Console.WriteLine($"  {comparison.Table}: {comparison.SourceRows} rows -> {comparison.TargetRows} rows{(comparison.Equal ? ", equal" : ", DIFFERENT")}");
                }

                var report = await VerifyCommand.VerifyAsync(targetDeployment, parseResult.GetValue(sample), cancellationToken, duringCopy: true);
                var different = comparisons.Where(c => !c.Equal).Select(c => c.Table).ToList();
                if (different.Count > 0)
                {
                    await Console.Error.WriteLineAsync(
                        $"error: the target differs from the source in {string.Join(", ", different)}: was the source written to during the copy "
                        + "(a PostgreSQL/MySQL source), or between an interrupted copy and its resume? Empty the target and copy again");
                    return 1;
                }

                if (!report.Clean)
                {
                    return 1;
                }

                await copier.CompleteAsync(cancellationToken);
                if (snapshot is not null)
                {
                    await snapshot.DeleteAsync();
                }

                Console.WriteLine("copy complete and verified");
                return 0;
            });
        });
        return copy;
    }

    /// <summary>Progress bars on a terminal, one line per finished stage otherwise (logs, scripts).</summary>
    private static async Task RunWithProgressAsync(DataCopier copier, int? holdAfterBatches, CancellationToken cancellationToken)
    {
        var batches = 0;
        void Hold(CopyProgress progress)
        {
            if (progress.Stage == "batch" && ++batches == holdAfterBatches)
            {
                Console.Error.WriteLine($"holding after {batches} batches");
                Thread.Sleep(Timeout.Infinite);
            }
        }

        if (Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            string? current = null;
            long done = 0;
            var lines = new InlineProgress<CopyProgress>(p =>
            {
                Hold(p);
                if (p.Item != current && current is not null)
                {
                    Console.Error.WriteLine($"copied {current}: {done}");
                }

                (current, done) = (p.Item, p.Done);
            });
            await copier.CopyAsync(lines, cancellationToken);
            if (current is not null)
            {
                Console.Error.WriteLine($"copied {current}: {done}");
            }

            return;
        }

        await AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new SpinnerColumn(), new ElapsedTimeColumn())
            .StartAsync(async context =>
            {
                var tasks = new Dictionary<string, ProgressTask>(StringComparer.Ordinal);
                await copier.CopyAsync(new InlineProgress<CopyProgress>(p =>
                {
                    Hold(p);
                    if (!tasks.TryGetValue(p.Item, out var task))
                    {
                        foreach (var finished in tasks.Values)
                        {
                            finished.Value = finished.MaxValue;
                            finished.StopTask();
                        }

                        task = tasks[p.Item] = context.AddTask(p.Item, maxValue: double.MaxValue);
                        task.IsIndeterminate = true;
                    }

                    task.Description = $"{p.Item}: {p.Done:N0}";
                }), cancellationToken);
                foreach (var task in tasks.Values)
                {
                    task.IsIndeterminate = false;
                    task.MaxValue = 1;
                    task.Value = 1;
                    task.StopTask();
                }
            });
    }
}
