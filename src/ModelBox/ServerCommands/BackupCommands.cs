using System.CommandLine;
using ModelBox.Cli.Hosting;
using ModelBox.Domain.Changes;
using ModelBox.Storage.Relational;
using ModelBox.Storage.Migrations;
using ModelBox.Storage.Relational.Transfer;
using ModelBox.Storage.Sqlite;

namespace ModelBox.Cli.ServerCommands;

/// <summary>`modelbox server backup` and `modelbox server restore` (docs/reliability.md).</summary>
internal static class BackupCommands
{
    public static Command CreateBackup()
    {
        var configPath = ServerCommand.ConfigPathOption("the deployment to back up");
        var output = new Option<string>("--output") { Description = "The folder to write the backup into (must not exist, or be empty)", Required = true };
        var withoutBlobs = new Option<bool>("--without-blobs")
        {
            Description = "List the referenced blobs in the manifest but do not copy them (e.g. when the S3 bucket is backed up by other means)",
        };
        var copyBlobs = new Option<bool>("--copy-blobs")
        {
            Description = "Copy every blob, even where a filesystem store's blob could be hard-linked (the default on the same filesystem), "
                + "so the backup shares no file with the store",
        };
        var backup = new Command("backup",
            "Write a consistent, self-checking backup of a deployment (metadata snapshot, referenced blobs, manifest with SHA-256 of every file) "
            + "while its server keeps serving")
        { configPath, output, withoutBlobs, copyBlobs };
        backup.SetAction(async (parseResult, cancellationToken) => await ServerCommand.RunMaintenanceAsync(parseResult.GetValue(configPath), async config =>
        {
            var folder = Path.GetFullPath(parseResult.GetValue(output)!);
            if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
            {
                await Console.Error.WriteLineAsync($"error: --output: {folder} is not empty");
                return 1;
            }

            // Read-only beside a running server: SQLite's snapshot is one read transaction, the server's writers go on.
            await using var deployment = Deployment.Open(config, readOnly: true);
            var writer = new BackupWriter(deployment.Dialect, deployment.Blobs, deployment.Describe) { LinkBlobs = !parseResult.GetValue(copyBlobs) };
            var sqlite = deployment.Sqlite;
            var manifest = await writer.WriteAsync(
                folder,
                sqlite is null ? null : sqlite.VacuumIntoAsync,
                sqlite is null ? null : OpenSnapshot,
                includeBlobs: !parseResult.GetValue(withoutBlobs),
                new Progress<string>(step => Console.Error.WriteLine($"backing up {step}...")),
                cancellationToken);
            Console.WriteLine($"backed up {deployment.Describe} to {folder}");
            Console.WriteLine($"  schema version {manifest.SchemaVersion}, metadata {manifest.MetadataKind} ({manifest.Metadata.Sum(f => f.Bytes)} bytes), "
                + $"{manifest.BlobCount} blobs ({manifest.BlobBytes} bytes{(manifest.BlobsIncluded ? $", {writer.BlobsLinked} hard-linked" : ", not copied")})");
            return 0;
        }));
        return backup;
    }

    public static Command CreateRestore()
    {
        var configPath = ServerCommand.ConfigPathOption("the deployment to restore into");
        var input = new Option<string>("--input") { Description = "A folder `modelbox server backup` wrote", Required = true };
        var force = new Option<bool>("--force") { Description = "Replace what the target holds (it must otherwise be empty)" };
        var restore = new Command("restore",
            "Restore a backup into an empty deployment (any metadata backend and blob store): checks the backup against its manifest first, "
            + "then imports it with its ids and change sequences, and verifies the result")
        { configPath, input, force };
        restore.SetAction(async (parseResult, cancellationToken) => await ServerCommand.RunMaintenanceAsync(parseResult.GetValue(configPath), async config =>
        {
            var folder = Path.GetFullPath(parseResult.GetValue(input)!);
            var manifest = await BackupFolder.ReadManifestAsync(folder, cancellationToken);
            Console.Error.WriteLine($"checking the backup in {folder} against its manifest...");
            await BackupFolder.VerifyAsync(folder, manifest, null, cancellationToken);

            // Nobody may serve the target while it is filled.
            using var folderLock = config.MetadataStorage == "integrated" ? DataFolderLock.Acquire(config.DataDir) : null;
            await using var deployment = Deployment.Open(config, readOnly: false);
            await deployment.Store.MigrateAsync(cancellationToken);
            try
            {
                await TargetDatabase.RequireEmptyAsync(deployment.Dialect, parseResult.GetValue(force), cancellationToken);
            }
            catch (InvalidOperationException ex)
            {
                await Console.Error.WriteLineAsync($"error: {ex.Message}");
                return 1;
            }

            // A backup of an older schema: a SQLite copy of it is migrated forward (the backup itself stays as it was, checksums
            // intact). An embedded store's snapshot is copied; a logical export is loaded into a scratch database at its version.
            var migrated = BackupRestorer.MigratesForward(manifest) ? Directory.CreateTempSubdirectory("modelbox-restore-") : null;
            Func<string, SqlDialect> openSnapshot = OpenSnapshot;
            var restored = manifest;
            try
            {
                if (migrated is not null)
                {
                    var copy = Path.Combine(migrated.FullName, BackupFolder.SnapshotFile);
                    if (manifest.MetadataKind == "sqlite")
                    {
                        File.Copy(Path.Combine(folder, BackupFolder.SnapshotFile), copy);
                    }

                    var writable = new SqliteDialect(new SqliteStorageOptions { DatabasePath = copy });
                    await using (writable)
                    {
                        var store = new RelationalMetadataStore(writable, new InProcessChangeSignal());
                        if (manifest.MetadataKind != "sqlite")
                        {
                            Console.Error.WriteLine($"loading the backup's tables into a scratch database at schema version {manifest.SchemaVersion}...");
                            await store.MigrateAsync(manifest.SchemaVersion, cancellationToken);
                            await BackupRestorer.ImportOlderExportAsync(folder, manifest, writable, cancellationToken);
                        }

                        Console.Error.WriteLine(
                            $"migrating the backup's {(manifest.MetadataKind == "sqlite" ? "snapshot" : "tables")} from schema version {manifest.SchemaVersion} "
                            + $"to {SchemaMigrations.LatestVersion} (in a copy)...");
                        await store.MigrateAsync(cancellationToken);
                    }

                    openSnapshot = _ => OpenSnapshot(copy);
                    restored = manifest with { MetadataKind = "sqlite" };
                }

                await new BackupRestorer(deployment.Dialect, deployment.Blobs).RestoreAsync(
                    folder, restored, openSnapshot, new Progress<string>(step => Console.Error.WriteLine($"restoring {step}...")), cancellationToken);
            }
            finally
            {
                migrated?.Delete(recursive: true);
            }

            Console.WriteLine($"restored the backup of {manifest.Source} (made {manifest.CreatedAt:u}) into {deployment.Describe}");
            var report = await VerifyCommand.VerifyAsync(deployment, sample: null, cancellationToken);
            return report.Clean ? 0 : 1;
        }));
        return restore;
    }

    /// <summary>A SQLite snapshot opened read-only: reading it changes no byte, so its checksum stays valid.</summary>
    private static SqlDialect OpenSnapshot(string path) => new SqliteDialect(new SqliteStorageOptions { DatabasePath = path, ReadOnly = true });
}
