using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using ModelBox.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Storage.Relational.Transfer;
using ModelBox.Testing;

namespace ModelBox.EndToEnd.Tests.Maintenance;

/// <summary>
/// `modelbox server copy-data` from the embedded deployment into another, killed with SIGKILL after its first committed
/// batch and run again: it resumes, verifies, and the target then reads the same through the API as the source did,
/// including a watcher's cursor from before the move. From a source that a server serves under a write load, the copy
/// reads a snapshot: the target holds exactly what was committed when it was taken, also after a kill and a resume.
/// </summary>
public abstract class CopyDataTests : IAsyncLifetime
{
    protected string Root { get; } = Directory.CreateTempSubdirectory("modelbox-copy-").FullName;

    /// <summary>The [sections] of the target's TOML configuration (besides data_dir).</summary>
    protected abstract string TargetToml { get; }

    /// <summary>The environment a server on the target runs with.</summary>
    protected abstract IReadOnlyDictionary<string, string> TargetEnvironment { get; }

    /// <summary>Rows the copy has committed into the target so far, by its progress table; null before it exists.</summary>
    protected abstract Task<long?> CopiedRowsAsync();

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual Task DisposeAsync()
    {
        Directory.Delete(Root, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_copy_killed_midway_resumes_verifies_and_the_target_reads_the_same_with_cursors_intact()
    {
        var sourceDir = Path.Combine(Root, "source");
        var data = new DeploymentDataSet("copy-" + Guid.NewGuid().ToString("N")[..8]);
        string before;
        long cursor;
        var sourceEnvironment = new Dictionary<string, string> { ["MODELBOX_DATA_DIR"] = sourceDir };
        await using (var source = await ModelBoxProcess.StartAsync(sourceEnvironment, Root))
        {
            await using var client = new ModelBoxClient(source.Address);
            await data.PopulateAsync(client, Root, pointsPerSeries: 3000);
            before = await data.SnapshotAsync(client, Root);
            cursor = (await data.ChangesAsync(client))[^1].Sequence;
        }

        var copyArgs = await CopyArgsAsync(sourceDir);

        // SIGKILL in the middle of the metric points: the copy holds still after its 30th committed batch until killed.
        await RunUntilHeldThenKillAsync(copyArgs, 30);

        // Part of the points are in, in whole batches.
        Assert.InRange(await CopiedRowsAsync() ?? 0, 1, 9012);

        var interrupted = await ModelBoxExecutable.RunAsync(["server", "verify", "--config-path", TargetConfig], workingDirectory: Root);
        Assert.Equal(1, interrupted.ExitCode);
        Assert.Contains("FINDING [copy-data]", interrupted.Stdout, StringComparison.Ordinal);

        var resumed = await ModelBoxExecutable.RunAsync(copyArgs, workingDirectory: Root);
        Assert.True(resumed.ExitCode == 0, resumed.Stdout + resumed.Stderr);
        Assert.Contains("resuming the copy", resumed.Stdout, StringComparison.Ordinal);
        Assert.Contains("metric_points: 9012 rows -> 9012 rows, equal", resumed.Stdout, StringComparison.Ordinal);
        Assert.Contains("copy complete and verified", resumed.Stdout, StringComparison.Ordinal);

        await using var target = await ModelBoxProcess.StartAsync(TargetEnvironment, Root);
        await using var copied = new ModelBoxClient(target.Address);
        Assert.Equal(before, await data.SnapshotAsync(copied, Root));

        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await using var watch = copied.WatchNamespaceAsync(data.Namespace, cursor, timeout.Token).GetAsyncEnumerator(timeout.Token);
        var next = watch.MoveNextAsync();
        var created = (await copied.CreateExperimentAsync("after-copy", "o", data.Namespace, Framework.Unknown)).Value;
        Assert.True(await next);
        Assert.Equal(created.Id, watch.Current.ObjectId);
        Assert.Equal(cursor + 1, watch.Current.Sequence);
    }

    [Fact]
    public async Task A_copy_from_a_serving_server_holds_what_was_committed_at_its_snapshot_and_resumes_from_that_snapshot()
    {
        var sourceDir = Path.Combine(Root, "source");
        var data = new DeploymentDataSet("online-" + Guid.NewGuid().ToString("N")[..8]);
        var loadNamespace = "load-" + Guid.NewGuid().ToString("N")[..8];
        var copyArgs = await CopyArgsAsync(sourceDir);

        await using var source = await ModelBoxProcess.StartAsync(new Dictionary<string, string> { ["MODELBOX_DATA_DIR"] = sourceDir }, Root);
        await using var client = new ModelBoxClient(source.Address);
        await data.PopulateAsync(client, Root, pointsPerSeries: 300);
        var before = await data.SnapshotAsync(client, Root);

        // The write load: one writer, so that what it wrote is one history (per run: create, log points, upload), of which
        // a snapshot holds a prefix. A run is listed once all three were acknowledged.
        var runs = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var run = (await client.CreateExperimentAsync($"run-{i}", "o", loadNamespace, Framework.Unknown)).Value;
                await client.LogMetricsBatchAsync([new MetricSeriesPoints(run.Id, "loss", Enumerable.Range(0, 40)
                    .Select(step => new MetricPoint(step, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000 + step), MetricValue.FromDouble(1.0 / (step + i + 1))))
                    .ToList())]);
                using var bytes = new MemoryStream(RandomNumberGenerator.GetBytes(10_000 + i));
                await client.UploadFileAsync(run.Id, bytes, $"weights-{i}.bin");
                runs.Enqueue(run.Id);
            }
        });
        await WaitForRunsAsync(runs, writer, 3);
        var acknowledgedBefore = runs.Count;

        // Interrupted (SIGKILL) after its 5th committed batch, then run again while the server keeps taking writes.
        var first = await RunUntilHeldThenKillAsync(copyArgs, 5);
        Assert.Contains("the source is served (PID ", first, StringComparison.Ordinal);
        Assert.Single(Directory.GetFiles(Path.Combine(sourceDir, "copy-data"), "*.sqlite"));
        var resumed = await ModelBoxExecutable.RunAsync(copyArgs, workingDirectory: Root);
        Assert.True(resumed.ExitCode == 0, resumed.Stdout + resumed.Stderr);
        Assert.Contains("resuming from the snapshot of the source taken", resumed.Stdout, StringComparison.Ordinal);
        Assert.Contains("copy complete and verified", resumed.Stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(sourceDir, "copy-data")));

        // One more run acknowledged after the copy ended: it cannot be in the snapshot.
        await WaitForRunsAsync(runs, writer, runs.Count + 1);
        await stop.CancelAsync();
        await writer;
        var history = runs.ToArray();

        await using var target = await ModelBoxProcess.StartAsync(TargetEnvironment, Root);
        await using var copied = new ModelBoxClient(target.Address);
        Assert.Equal(before, await data.SnapshotAsync(copied, Root));
        var present = (await copied.ListExperimentsAsync(loadNamespace).ToListAsync()).Select(e => e.Id).ToHashSet(StringComparer.Ordinal);
        var prefix = history.TakeWhile(present.Contains).Count();
        Assert.Equal(present.Count, prefix);
        Assert.InRange(prefix, acknowledgedBefore, history.Length - 1);
        for (var i = 0; i < prefix; i++)
        {
            var sourceMetrics = JsonSerializer.Serialize(await client.GetMetricsAsync(history[i]));
            var targetMetrics = JsonSerializer.Serialize(await copied.GetMetricsAsync(history[i]));
            var sourceFiles = await client.ListArtifactsAsync(history[i]);
            var targetFiles = await copied.ListArtifactsAsync(history[i]);
            // The last run of the snapshot may have been caught between its writes; every earlier one is whole.
            var last = i == prefix - 1;
            Assert.True(targetMetrics == sourceMetrics || (last && targetMetrics == "[]"), $"run {i}: {targetMetrics} in the target, {sourceMetrics} in the source");
            Assert.True(targetFiles.SequenceEqual(sourceFiles) || (last && targetFiles.Count == 0), $"run {i}: {targetFiles.Count} files in the target");
        }
    }

    /// <summary>
    /// A file of the snapshot that a client deletes while the copy runs (its blob is removed with it) is deleted in the
    /// target too, with a change record, instead of the target holding a record whose blob is missing or the copy failing.
    /// </summary>
    [Fact]
    public async Task A_file_deleted_from_a_serving_source_after_the_snapshot_is_deleted_in_the_target_too_and_verify_is_clean()
    {
        var sourceDir = Path.Combine(Root, "source");
        var data = new DeploymentDataSet("gone-" + Guid.NewGuid().ToString("N")[..8]);
        var copyArgs = await CopyArgsAsync(sourceDir);

        await using var source = await ModelBoxProcess.StartAsync(new Dictionary<string, string> { ["MODELBOX_DATA_DIR"] = sourceDir }, Root);
        await using var client = new ModelBoxClient(source.Address);
        await data.PopulateAsync(client, Root, pointsPerSeries: 300);
        var before = await data.SnapshotAsync(client, Root);
        var filesNamespace = "files-" + Guid.NewGuid().ToString("N")[..8];
        var run = (await client.CreateExperimentAsync("doomed-files", "o", filesNamespace, Framework.Unknown)).Value;
        var keptBytes = RandomNumberGenerator.GetBytes(20_000);
        using (var bytes = new MemoryStream(keptBytes))
        {
            await client.UploadFileAsync(run.Id, bytes, "kept.bin");
        }

        ArtifactFile doomed;
        using (var bytes = new MemoryStream(RandomNumberGenerator.GetBytes(30_000)))
        {
            doomed = await client.UploadFileAsync(run.Id, bytes, "doomed.bin");
        }

        // The snapshot is taken and part of the rows copied; then the file is deleted and, as no other record uses its
        // bytes, its blob removed from the source's store; the resumed copy (same snapshot) meets the snapshot's record.
        Assert.Contains("the source is served (PID ", await RunUntilHeldThenKillAsync(copyArgs, 5), StringComparison.Ordinal);
        await client.DeleteArtifactAsync(doomed.Id);
        var resumed = await ModelBoxExecutable.RunAsync(copyArgs, workingDirectory: Root);
        Assert.True(resumed.ExitCode == 0, resumed.Stdout + resumed.Stderr);
        Assert.Contains($"file {doomed.Id} (blob {doomed.Sha256}) was deleted from the source at ", resumed.Stdout, StringComparison.Ordinal);
        Assert.Contains("files: ", resumed.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("DIFFERENT", resumed.Stdout, StringComparison.Ordinal);
        Assert.Contains("copy complete and verified", resumed.Stdout, StringComparison.Ordinal);
        var verified = await ModelBoxExecutable.RunAsync(["server", "verify", "--config-path", TargetConfig], workingDirectory: Root);
        Assert.True(verified.ExitCode == 0, verified.Stdout + verified.Stderr);

        await using var target = await ModelBoxProcess.StartAsync(TargetEnvironment, Root);
        await using var copied = new ModelBoxClient(target.Address);
        Assert.Equal(before, await data.SnapshotAsync(copied, Root));
        var kept = Assert.Single(await copied.ListArtifactsAsync(run.Id));
        Assert.Equal("kept.bin", kept.Path);
        var local = Path.Combine(Root, "kept.bin");
        await copied.DownloadFileAsync(kept.Id, local);
        Assert.Equal(keptBytes, await File.ReadAllBytesAsync(local));

        // The target's change log says so: a watcher sees the file created, then deleted (at the source's time of deletion).
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var ofDoomed = new List<Change>();
        await foreach (var change in copied.WatchNamespaceAsync(filesNamespace, 0, timeout.Token))
        {
            if (change.ObjectId == doomed.Id)
            {
                ofDoomed.Add(change);
                if (change.Kind == ChangeKind.Deleted)
                {
                    break;
                }
            }
        }

        Assert.Equal([ChangeKind.Created, ChangeKind.Deleted], ofDoomed.Select(c => c.Kind));
    }

    /// <summary>The arguments of a copy-data from the embedded store in <paramref name="sourceDir"/> to this class's target, 50 rows a batch.</summary>
    private async Task<string[]> CopyArgsAsync(string sourceDir)
    {
        var from = Path.Combine(Root, "from.toml");
        await File.WriteAllTextAsync(from, $"data_dir = \"{sourceDir}\"\n");
        await File.WriteAllTextAsync(TargetConfig, $"data_dir = \"{Path.Combine(Root, "target")}\"\n{TargetToml}");
        return ["server", "copy-data", "--from-config", from, "--to-config", TargetConfig, "--batch-rows", "50"];
    }

    /// <summary>The target's configuration file, which <see cref="CopyArgsAsync"/> writes.</summary>
    private string TargetConfig => Path.Combine(Root, "to.toml");

    /// <summary>Runs copy-data until it holds still after <paramref name="batches"/> committed batches, kills it; returns its stdout.</summary>
    private async Task<string> RunUntilHeldThenKillAsync(string[] copyArgs, int batches)
    {
        using var copy = ModelBoxExecutable.Start([.. copyArgs, "--hold-after-batches", batches.ToString(CultureInfo.InvariantCulture)], workingDirectory: Root);
        var stdout = copy.StandardOutput.ReadToEndAsync();
        string? line;
        var seen = new List<string>();
        while ((line = await copy.StandardError.ReadLineAsync()) is not null && !line.StartsWith($"holding after {batches} batches", StringComparison.Ordinal))
        {
            seen.Add(line);
        }

        if (line is null)
        {
            Assert.Fail("the copy ended before it could be interrupted:\n" + string.Join("\n", seen) + await stdout);
        }

        copy.Kill();
        await copy.WaitForExitAsync();
        return await stdout;
    }

    private static async Task WaitForRunsAsync(ConcurrentQueue<string> runs, Task writer, int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while (runs.Count < count)
        {
            if (writer.IsCompleted)
            {
                await writer; // its failure
                Assert.Fail("the writer stopped");
            }

            await Task.Delay(20, timeout.Token);
        }
    }
}

/// <summary>Embedded into another embedded deployment (a new disk, a new machine).</summary>
public sealed class SqliteCopyDataTests : CopyDataTests
{
    private string TargetDir => Path.Combine(Root, "target");

    protected override string TargetToml => string.Empty;

    protected override IReadOnlyDictionary<string, string> TargetEnvironment => new Dictionary<string, string> { ["MODELBOX_DATA_DIR"] = TargetDir };

    protected override async Task<long?> CopiedRowsAsync()
    {
        var path = Path.Combine(TargetDir, "modelbox.db");
        if (!File.Exists(path))
        {
            return null;
        }

        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false };
        await using var connection = new SqliteConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT SUM(copied) FROM {ModelBoxTables.CopyProgressTable}";
        try
        {
            return await command.ExecuteScalarAsync() is long copied ? copied : null;
        }
        catch (SqliteException)
        {
            return null; // not created yet
        }
    }
}

/// <summary>Embedded into PostgreSQL and S3 (s3rver): the move the issue names.</summary>
public sealed class PostgresS3CopyDataTests : CopyDataTests
{
    private IServerTestDatabase? _database;
    private TestBucket? _bucket;

    public override async Task InitializeAsync()
    {
        _database = await ServerTestDatabase.CreateAsync("postgres", "modelbox_copy");
        _bucket = await TestBucket.CreateAsync();
    }

    public override async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    protected override string TargetToml =>
        $"metadata_storage = \"postgres\"\n{_bucket!.Toml}[postgres]\nconnection_string = \"{_database!.ConnectionString}\"\n";

    protected override IReadOnlyDictionary<string, string> TargetEnvironment =>
        new Dictionary<string, string>(ServerTestDatabase.Environment(_database!), StringComparer.Ordinal)
            .Concat(_bucket!.Environment).Append(new("MODELBOX_DATA_DIR", Path.Combine(Root, "target"))).ToDictionary();

    protected override async Task<long?> CopiedRowsAsync()
    {
        var exists = await _database!.ScalarAsync($"SELECT to_regclass('{ModelBoxTables.CopyProgressTable}') IS NOT NULL");
        return exists is true
            ? Convert.ToInt64(await _database.ScalarAsync($"SELECT COALESCE(SUM(copied), 0) FROM {ModelBoxTables.CopyProgressTable}"), CultureInfo.InvariantCulture)
            : null;
    }

}

/// <summary>Embedded into MariaDB (the "mysql" backend; points through multi-row INSERT), blobs on the target's filesystem.</summary>
public sealed class MariaDbCopyDataTests : CopyDataTests
{
    private IServerTestDatabase? _database;

    public override async Task InitializeAsync() => _database = await ServerTestDatabase.CreateAsync("mysql", "modelbox_copy");

    public override async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    protected override string TargetToml => $"metadata_storage = \"mysql\"\n[mysql]\nconnection_string = \"{_database!.ConnectionString}\"\n";

    protected override IReadOnlyDictionary<string, string> TargetEnvironment =>
        new Dictionary<string, string>(ServerTestDatabase.Environment(_database!), StringComparer.Ordinal) { ["MODELBOX_DATA_DIR"] = Path.Combine(Root, "target") };

    protected override async Task<long?> CopiedRowsAsync()
    {
        var exists = await _database!.ScalarAsync(
            $"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{ModelBoxTables.CopyProgressTable}'");
        return Convert.ToInt64(exists, CultureInfo.InvariantCulture) > 0
            ? Convert.ToInt64(await _database.ScalarAsync($"SELECT COALESCE(SUM(copied), 0) FROM {ModelBoxTables.CopyProgressTable}"), CultureInfo.InvariantCulture)
            : null;
    }
}
