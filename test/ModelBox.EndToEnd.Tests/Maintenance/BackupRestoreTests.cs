using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using ModelBox.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Storage.Relational.Transfer;
using ModelBox.Testing;

namespace ModelBox.EndToEnd.Tests.Maintenance;

/// <summary>
/// `modelbox server verify`, `backup` and `restore` through the real executable, on each metadata backend and both blob
/// stores: a backup taken while the server serves restores into an empty deployment that reads the same through the API
/// (objects, metric points, events, change records, file bytes), verifies clean, and continues the change sequence so a
/// watcher's cursor from before the move resumes after it.
/// </summary>
public abstract class BackupRestoreTests : IAsyncLifetime
{
    protected string Root { get; } = Directory.CreateTempSubdirectory("modelbox-backup-").FullName;

    /// <summary>The environment of the deployment backed up.</summary>
    protected abstract IReadOnlyDictionary<string, string> Source { get; }

    /// <summary>The environment of the empty deployment restored into.</summary>
    protected abstract IReadOnlyDictionary<string, string> Target { get; }

    /// <summary>Whether the source keeps its blobs in the filesystem store.</summary>
    protected virtual bool BlobsOnFilesystem => true;

    /// <summary>Damages the stored bytes of the blob <paramref name="sha256"/> of the source.</summary>
    protected abstract Task DamageBlobAsync(string sha256);

    /// <summary>Runs one statement on the source database.</summary>
    protected abstract Task ExecuteOnSourceAsync(string sql);

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual Task DisposeAsync()
    {
        Directory.Delete(Root, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_backup_of_a_serving_server_restores_equal_through_the_api_verifies_clean_and_keeps_watch_cursors()
    {
        var data = new DeploymentDataSet("backup-" + Guid.NewGuid().ToString("N")[..8]);
        var backup = Path.Combine(Root, "backup");
        string before;
        await using (var source = await ModelBoxProcess.StartAsync(Source, Root))
        {
            await using var client = new ModelBoxClient(source.Address);
            await data.PopulateAsync(client, Root);
            before = await data.SnapshotAsync(client, Root);

            // The server keeps serving (and writing elsewhere) while the backup runs beside it.
            using var stop = new CancellationTokenSource();
            var writes = Task.Run(async () =>
            {
                var written = 0;
                while (!stop.IsCancellationRequested)
                {
                    await client.CreateExperimentAsync($"during-{written++}", "o", "elsewhere", Framework.Unknown);
                }

                return written;
            });
            var result = await ModelBoxExecutable.RunAsync(["server", "backup", "--output", backup], Source, Root);
            stop.Cancel();
            Assert.True(await writes > 0);
            Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);

            var verify = await ModelBoxExecutable.RunAsync(["server", "verify"], Source, Root);
            Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);
        }

        var restore = await ModelBoxExecutable.RunAsync(["server", "restore", "--input", backup], Target, Root);
        Assert.True(restore.ExitCode == 0, restore.Stdout + restore.Stderr);
        Assert.Contains("clean: no findings", restore.Stdout, StringComparison.Ordinal);

        var verifyTarget = await ModelBoxExecutable.RunAsync(["server", "verify"], Target, Root);
        Assert.True(verifyTarget.ExitCode == 0, verifyTarget.Stdout + verifyTarget.Stderr);

        await using var target = await ModelBoxProcess.StartAsync(Target, Root);
        await using var restored = new ModelBoxClient(target.Address);
        Assert.Equal(before, await data.SnapshotAsync(restored, Root));

        // A watcher that had seen everything up to the marker resumes on the restored deployment with the next change only.
        var cursor = (await data.ChangesAsync(restored))[^1].Sequence;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await using var watch = restored.WatchNamespaceAsync(data.Namespace, cursor, timeout.Token).GetAsyncEnumerator(timeout.Token);
        var next = watch.MoveNextAsync();
        var created = (await restored.CreateExperimentAsync("after-restore", "o", data.Namespace, Framework.Unknown)).Value;
        Assert.True(await next);
        Assert.Equal(created.Id, watch.Current.ObjectId);
        Assert.True(watch.Current.Sequence > cursor);
    }

    [Fact]
    public async Task Restore_checks_the_manifest_first_and_refuses_a_non_empty_target_unless_forced()
    {
        var data = new DeploymentDataSet("refuse-" + Guid.NewGuid().ToString("N")[..8]);
        var backup = Path.Combine(Root, "backup");
        await using (var source = await ModelBoxProcess.StartAsync(Source, Root))
        {
            await using var client = new ModelBoxClient(source.Address);
            await data.PopulateAsync(client, Root, pointsPerSeries: 10);
        }

        var made = await ModelBoxExecutable.RunAsync(["server", "backup", "--output", backup], Source, Root);
        Assert.True(made.ExitCode == 0, made.Stdout + made.Stderr);
        // A filesystem store's blobs are hard-linked into a backup on its filesystem (one temporary folder holds both); S3's are copied.
        var blobCount = Directory.EnumerateFiles(Path.Combine(backup, "blobs"), "*", SearchOption.AllDirectories).Count();
        Assert.True(blobCount > 0);
        Assert.Contains($"{(BlobsOnFilesystem ? blobCount : 0)} hard-linked", made.Stdout, StringComparison.Ordinal);

        // One flipped byte in a blob copy: refused before the target is touched.
        var blob = Directory.EnumerateFiles(Path.Combine(backup, "blobs"), "*", SearchOption.AllDirectories).First();
        var original = await File.ReadAllBytesAsync(blob);
        var damaged = (byte[])original.Clone();
        damaged[damaged.Length / 2] ^= 0xFF;
        await File.WriteAllBytesAsync(blob, damaged);
        var refused = await ModelBoxExecutable.RunAsync(["server", "restore", "--input", backup], Target, Root);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"backup blob {Path.GetFileName(blob)} is damaged", refused.Stderr, StringComparison.Ordinal);
        await File.WriteAllBytesAsync(blob, original);

        var first = await ModelBoxExecutable.RunAsync(["server", "restore", "--input", backup], Target, Root);
        Assert.True(first.ExitCode == 0, first.Stdout + first.Stderr);
        var again = await ModelBoxExecutable.RunAsync(["server", "restore", "--input", backup], Target, Root);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("is not empty", again.Stderr, StringComparison.Ordinal);
        Assert.Contains("--force", again.Stderr, StringComparison.Ordinal);
        var forced = await ModelBoxExecutable.RunAsync(["server", "restore", "--input", backup, "--force"], Target, Root);
        Assert.True(forced.ExitCode == 0, forced.Stdout + forced.Stderr);
        Assert.Contains("clean: no findings", forced.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_reports_a_damaged_blob_a_lost_metric_point_a_wrong_summary_an_orphan_and_a_gap_in_the_change_log()
    {
        var data = new DeploymentDataSet("verify-" + Guid.NewGuid().ToString("N")[..8]);
        await using (var source = await ModelBoxProcess.StartAsync(Source, Root))
        {
            await using var client = new ModelBoxClient(source.Address);
            await data.PopulateAsync(client, Root, pointsPerSeries: 10);
            var clean = await ModelBoxExecutable.RunAsync(["server", "verify"], Source, Root);
            Assert.True(clean.ExitCode == 0, clean.Stdout + clean.Stderr);
            Assert.Contains("clean: no findings", clean.Stdout, StringComparison.Ordinal);
            var file = (await client.ListArtifactsAsync(data.ExperimentIds[0]))[0];
            await DamageBlobAsync(file.Sha256);
        }

        // A summary that no longer matches its points (the points themselves intact).
        await ExecuteOnSourceAsync("UPDATE metric_summaries SET first_step = first_step + 1000 WHERE step_shift = 63");
        var summaries = await ModelBoxExecutable.RunAsync(["server", "verify", "--sample", "2"], Source, Root);
        Assert.Equal(1, summaries.ExitCode);
        Assert.Contains("FINDING [metric-summaries]", summaries.Stdout, StringComparison.Ordinal);
        Assert.Contains("metric series whose summaries differ from their points", summaries.Stdout, StringComparison.Ordinal);
        Assert.Contains("has first point (step ", summaries.Stdout, StringComparison.Ordinal);
        Assert.Contains("2 compared with their points", summaries.Stdout, StringComparison.Ordinal);
        await ExecuteOnSourceAsync("UPDATE metric_summaries SET first_step = first_step - 1000 WHERE step_shift = 63");

        await ExecuteOnSourceAsync("DELETE FROM metric_points WHERE step = 3");
        await ExecuteOnSourceAsync("INSERT INTO object_labels (object_id, label_key, label_value, updated_at) VALUES ('exp-gone', 'k', 'v', 0)");
        await ExecuteOnSourceAsync("DELETE FROM changes WHERE sequence = 5");

        var found = await ModelBoxExecutable.RunAsync(["server", "verify"], Source, Root);
        Assert.Equal(1, found.ExitCode);
        Assert.Contains("FINDING [blobs] blob", found.Stdout, StringComparison.Ordinal);
        Assert.Contains("is damaged", found.Stdout, StringComparison.Ordinal);
        Assert.Contains("FINDING [metric-series]", found.Stdout, StringComparison.Ordinal);
        Assert.Contains("FINDING [metric-summaries]", found.Stdout, StringComparison.Ordinal);
        Assert.Contains("FINDING [orphans] 1 row(s) of object_labels whose parent is missing (object_id exp-gone)", found.Stdout, StringComparison.Ordinal);
        Assert.Contains("FINDING [changes] the change log has gaps", found.Stdout, StringComparison.Ordinal);
        Assert.Contains("follows sequence 4", found.Stdout, StringComparison.Ordinal);

        // A sample still reads and hashes blobs: with every referenced blob in the sample, the damaged one is found.
        var sampled = await ModelBoxExecutable.RunAsync(["server", "verify", "--sample", "1000"], Source, Root);
        Assert.Equal(1, sampled.ExitCode);
        Assert.Contains("is damaged", sampled.Stdout, StringComparison.Ordinal);
    }

    /// <summary>
    /// Populates the source and backs it up, lets <paramref name="undo"/> turn the backup into what schema version 12 wrote
    /// (the data set logs whole seconds, so undoing migration 13 loses nothing; a newer migration must be undone there as
    /// well), rewrites the manifest to match, and restores it: the restore announces <paramref name="announced"/>, verifies
    /// clean, and the target reads the same as the source did. Returns the backup folder.
    /// </summary>
    protected async Task<string> RestoreAsOlderSchemaAsync(Func<string, Task> undo, params string[] announced)
    {
        var data = new DeploymentDataSet("old-schema-" + Guid.NewGuid().ToString("N")[..8]);
        var backup = Path.Combine(Root, "backup");
        string before;
        await using (var source = await ModelBoxProcess.StartAsync(Source, Root))
        {
            await using var client = new ModelBoxClient(source.Address);
            await data.PopulateAsync(client, Root);
            before = await data.SnapshotAsync(client, Root);
        }

        var made = await ModelBoxExecutable.RunAsync(["server", "backup", "--output", backup], Source, Root);
        Assert.True(made.ExitCode == 0, made.Stdout + made.Stderr);

        await undo(backup);
        var manifest = await BackupFolder.ReadManifestAsync(backup, CancellationToken.None);
        var metadata = new List<BackupFile>();
        foreach (var file in manifest.Metadata)
        {
            var path = Path.Combine(backup, file.Path);
            metadata.Add(file with { Bytes = new FileInfo(path).Length, Sha256 = await Sha256Async(path) });
        }

        File.Delete(Path.Combine(backup, BackupFolder.ManifestFile));
        await BackupFolder.WriteManifestAsync(backup, manifest with { SchemaVersion = 12, Metadata = metadata }, CancellationToken.None);

        var restore = await ModelBoxExecutable.RunAsync(["server", "restore", "--input", backup], Target, Root);
        Assert.True(restore.ExitCode == 0, restore.Stdout + restore.Stderr);
        foreach (var line in announced)
        {
            Assert.Contains(line, restore.Stderr, StringComparison.Ordinal);
        }

        Assert.Contains("clean: no findings", restore.Stdout, StringComparison.Ordinal);
        await using var target = await ModelBoxProcess.StartAsync(Target, Root);
        await using var restored = new ModelBoxClient(target.Address);
        Assert.Equal(before, await data.SnapshotAsync(restored, Root));
        return backup;
    }

    protected static async Task<string> Sha256Async(string path)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream));
    }

    /// <summary>Damages a blob of a filesystem store under <paramref name="dataDir"/>.</summary>
    protected static async Task DamageFilesystemBlobAsync(string dataDir, string sha256)
    {
        var path = Directory.EnumerateFiles(Path.Combine(dataDir, "blobs"), sha256, SearchOption.AllDirectories).Single();
        File.SetAttributes(path, FileAttributes.Normal);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[0] ^= 0xFF;
        await File.WriteAllBytesAsync(path, bytes);
    }
}

/// <summary>The embedded deployment: SQLite and the filesystem store, backed up with VACUUM INTO beside the server.</summary>
public sealed class SqliteBackupRestoreTests : BackupRestoreTests
{
    private string SourceDir => Path.Combine(Root, "source");

    protected override IReadOnlyDictionary<string, string> Source => new Dictionary<string, string> { ["MODELBOX_DATA_DIR"] = SourceDir };

    protected override IReadOnlyDictionary<string, string> Target => new Dictionary<string, string> { ["MODELBOX_DATA_DIR"] = Path.Combine(Root, "target") };

    protected override Task DamageBlobAsync(string sha256) => DamageFilesystemBlobAsync(SourceDir, sha256);

    protected override Task ExecuteOnSourceAsync(string sql) => ExecuteAsync(Path.Combine(SourceDir, "modelbox.db"), sql);

    [Fact]
    public async Task A_backup_made_at_an_older_schema_version_is_migrated_forward_by_restore_and_reads_the_same()
    {
        // The snapshot as schema version 12 wrote it: migration 13 added metric_points.millis.
        var backup = await RestoreAsOlderSchemaAsync(
            backup => ExecuteAsync(Path.Combine(backup, BackupFolder.SnapshotFile), "ALTER TABLE metric_points DROP COLUMN millis; DELETE FROM \"VersionInfo\" WHERE \"Version\" >= 13;"),
            "migrating the backup's snapshot from schema version 12");

        // The backup itself is left as it was: it still checks against its manifest.
        var manifest = await BackupFolder.ReadManifestAsync(backup, CancellationToken.None);
        Assert.Equal(manifest.Metadata.Single().Sha256, await Sha256Async(Path.Combine(backup, BackupFolder.SnapshotFile)));
    }

    private static async Task ExecuteAsync(string database, string sql)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = database, Pooling = false };
        await using var connection = new SqliteConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>A server database (logical export in one snapshot transaction) on a test.sh server.</summary>
public abstract class ServerDatabaseBackupRestoreTests(string backend, bool s3) : BackupRestoreTests
{
    private IServerTestDatabase? _source;
    private IServerTestDatabase? _target;
    private TestBucket? _sourceBucket;
    private TestBucket? _targetBucket;

    protected override IReadOnlyDictionary<string, string> Source => Environment(_source!, _sourceBucket, "source");

    protected override IReadOnlyDictionary<string, string> Target => Environment(_target!, _targetBucket, "target");

    public override async Task InitializeAsync()
    {
        _source = await ServerTestDatabase.CreateAsync(backend, "modelbox_backup");
        _target = await ServerTestDatabase.CreateAsync(backend, "modelbox_restore");
        if (s3)
        {
            _sourceBucket = await TestBucket.CreateAsync();
            _targetBucket = await TestBucket.CreateAsync();
        }
    }

    public override async Task DisposeAsync()
    {
        foreach (var database in new[] { _source, _target })
        {
            if (database is not null)
            {
                await database.DisposeAsync();
            }
        }

        await base.DisposeAsync();
    }

    protected override bool BlobsOnFilesystem => _sourceBucket is null;

    [Fact]
    public async Task A_logical_export_made_at_an_older_schema_version_is_migrated_forward_by_restore_and_reads_the_same() =>
        // The export as schema version 12 wrote it: migration 13 added metric_points.millis.
        await RestoreAsOlderSchemaAsync(
            async backup =>
            {
                var manifest = await BackupFolder.ReadManifestAsync(backup, CancellationToken.None);
                var path = Path.Combine(backup, manifest.Metadata.Single(f => f.Table == "metric_points").Path);
                var (table, columns) = RowFile.ReadHeader(path);
                var millis = columns.ToList().IndexOf("millis");
                Assert.True(millis >= 0);
                await RowFile.WriteAsync(
                    path + ".v12", table, [.. columns.Where(c => c != "millis")],
                    RowFile.ReadAsync(path, CancellationToken.None).Select(row => row.Where((_, i) => i != millis).ToArray()), CancellationToken.None);
                File.Move(path + ".v12", path, overwrite: true);
            },
            "loading the backup's tables into a scratch database at schema version 12",
            "migrating the backup's tables from schema version 12");

    protected override Task DamageBlobAsync(string sha256) =>
        _sourceBucket is { } bucket ? bucket.DamageAsync(sha256) : DamageFilesystemBlobAsync(Path.Combine(Root, "source"), sha256);

    protected override Task ExecuteOnSourceAsync(string sql) => _source!.ScalarAsync(sql);

    private Dictionary<string, string> Environment(IServerTestDatabase database, TestBucket? bucket, string dataDir)
    {
        var environment = new Dictionary<string, string>(ServerTestDatabase.Environment(database)) { ["MODELBOX_DATA_DIR"] = Path.Combine(Root, dataDir) };
        foreach (var (key, value) in bucket?.Environment ?? [])
        {
            environment[key] = value;
        }

        return environment;
    }
}

/// <summary>PostgreSQL with S3 (s3rver).</summary>
public sealed class PostgresS3BackupRestoreTests() : ServerDatabaseBackupRestoreTests("postgres", s3: true);

/// <summary>MariaDB with the filesystem store.</summary>
public sealed class MySqlBackupRestoreTests() : ServerDatabaseBackupRestoreTests("mysql", s3: false);

