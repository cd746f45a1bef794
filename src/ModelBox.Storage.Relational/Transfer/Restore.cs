using Dapper;
using ModelBox.Domain.Storage;
using ModelBox.Storage.Migrations;

namespace ModelBox.Storage.Relational.Transfer;

/// <summary>The target of a restore or a copy: its tables must be empty, or be emptied when the operator says so.</summary>
public static class TargetDatabase
{
    /// <summary>
    /// Checks that <paramref name="dialect"/>'s database has this build's schema and no rows in any data table; with
    /// <paramref name="force"/> it deletes them instead (children first). Throws <see cref="InvalidOperationException"/>
    /// naming the tables that hold rows.
    /// </summary>
    public static async Task RequireEmptyAsync(SqlDialect dialect, bool force, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dialect);
        var connection = await dialect.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await ModelBoxTables.RequireKnownSchemaAsync(dialect, connection, null, cancellationToken).ConfigureAwait(false);
            var version = await BackupWriter.SchemaVersionAsync(dialect, connection, null, cancellationToken).ConfigureAwait(false);
            if (version != SchemaMigrations.LatestVersion)
            {
                throw new InvalidOperationException($"the target database has schema version {version}, this build {SchemaMigrations.LatestVersion}");
            }

            var used = new List<string>();
            foreach (var table in ModelBoxTables.Data)
            {
                var any = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                    dialect.Sql($"SELECT COUNT(*) FROM (SELECT 1 AS one FROM {ModelBoxTables.Quote(table.Name)} LIMIT 1) AS probe"),
                    cancellationToken: cancellationToken)).ConfigureAwait(false);
                if (any > 0)
                {
                    used.Add(table.Name);
                }
            }

            if (used.Count == 0)
            {
                return;
            }

            if (!force)
            {
                throw new InvalidOperationException(
                    $"the target ({dialect.Describe()}) is not empty: {string.Join(", ", used)} hold rows; restore into an empty database, or pass --force to replace its contents");
            }

            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                foreach (var table in ModelBoxTables.Data.Reverse())
                {
                    await connection.ExecuteAsync(new CommandDefinition(
                        dialect.Sql($"DELETE FROM {ModelBoxTables.Quote(table.Name)}"), transaction: transaction, commandTimeout: 0,
                        cancellationToken: cancellationToken)).ConfigureAwait(false);
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }
}

/// <summary>
/// Restores a backup folder into an empty deployment: the manifest and every file are verified first, then the tables
/// are imported in foreign-key order with their ids and sequences (from the SQLite snapshot, read-only, or from the table
/// exports), the counters are moved past the imported values, and the blobs are written into the target's blob store.
/// Any database and blob store can be the target, whatever the backup was made from.
/// </summary>
public sealed class BackupRestorer(SqlDialect target, IBlobStore targetBlobs)
{
    /// <summary>
    /// Whether the restore migrates the backup forward first: a backup of an older schema becomes a SQLite database at this
    /// build's schema, which is then imported. An embedded store's snapshot is copied and migrated; a logical export
    /// (PostgreSQL/MySQL) is loaded into a scratch SQLite database migrated to the export's version
    /// (<see cref="ImportOlderExportAsync"/>), which is then migrated. The backup itself stays as it was.
    /// </summary>
    public static bool MigratesForward(BackupManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return manifest.SchemaVersion < SchemaMigrations.LatestVersion;
    }

    /// <summary>
    /// Imports the table exports of <paramref name="manifest"/>, made at an older schema version, into
    /// <paramref name="scratch"/>: an empty database migrated to exactly that version (it has the tables and columns the
    /// export has; the migrations to this build's then run on it like on any older database).
    /// </summary>
    public static async Task ImportOlderExportAsync(string folder, BackupManifest manifest, SqlDialect scratch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        // The tables of an older schema are some of this build's (no migration drops a table), in the same foreign-key order.
        var exported = ExportedTables(manifest);
        var importer = new TableImporter(scratch);
        await ImportTablesAsync(folder, manifest, importer, ModelBoxTables.Data.Where(t => exported.Contains(t.Name)), null, cancellationToken).ConfigureAwait(false);
        await importer.FinishAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task RestoreAsync(
        string folder, BackupManifest manifest, Func<string, SqlDialect> openSnapshot, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(openSnapshot);
        // A backup of an older schema arrives here as a SQLite snapshot migrated forward (openSnapshot opens the migrated
        // database, see MigratesForward); table exports are imported column by column and must match this build's schema.
        if (manifest.SchemaVersion > SchemaMigrations.LatestVersion
            || (manifest.SchemaVersion < SchemaMigrations.LatestVersion && manifest.MetadataKind != "sqlite"))
        {
            throw new InvalidDataException(
                $"the backup has schema version {manifest.SchemaVersion} and this build {SchemaMigrations.LatestVersion}: restore it with the ModelBox "
                + "version that made it, then upgrade that deployment");
        }

        var importer = new TableImporter(target);
        if (manifest.MetadataKind == "sqlite")
        {
            var snapshot = openSnapshot(Path.Combine(folder, BackupFolder.SnapshotFile));
            try
            {
                var connection = await snapshot.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                await using (connection.ConfigureAwait(false))
                {
                    await ModelBoxTables.RequireKnownSchemaAsync(snapshot, connection, null, cancellationToken).ConfigureAwait(false);
                    var version = await BackupWriter.SchemaVersionAsync(snapshot, connection, null, cancellationToken).ConfigureAwait(false);
                    if (version != SchemaMigrations.LatestVersion)
                    {
                        throw new InvalidDataException(
                            $"the backup's snapshot has schema version {version}, this build {SchemaMigrations.LatestVersion}: it must be migrated before it is imported");
                    }

                    foreach (var table in ModelBoxTables.Data)
                    {
                        progress?.Report($"table {table.Name}");
                        var columns = await TableRows.ColumnsAsync(snapshot, connection, null, table.Name, cancellationToken).ConfigureAwait(false);
                        await importer.ImportAsync(
                            table, columns, TableRows.ReadAsync(snapshot, connection, null, table, columns, null, 10_000, cancellationToken),
                            null, null, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
            finally
            {
                await snapshot.DataSource.DisposeAsync().ConfigureAwait(false);
            }
        }
        else
        {
            var exported = ExportedTables(manifest);
            var missing = ModelBoxTables.Data.Where(d => !exported.Contains(d.Name)).Select(d => d.Name).ToList();
            if (missing.Count > 0)
            {
                throw new UnknownTableException($"the backup's tables differ from this build's: missing {string.Join(", ", missing)}");
            }

            await ImportTablesAsync(folder, manifest, importer, ModelBoxTables.Data, progress, cancellationToken).ConfigureAwait(false);
        }

        await importer.FinishAsync(cancellationToken).ConfigureAwait(false);
        progress?.Report("blobs");
        await RestoreBlobsAsync(folder, manifest, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The tables a logical export holds; throws <see cref="UnknownTableException"/> naming any this build does not know.</summary>
    private static HashSet<string> ExportedTables(BackupManifest manifest)
    {
        var exported = manifest.Metadata.Select(f => f.Table ?? f.Path).ToHashSet(StringComparer.Ordinal);
        var unknown = exported.Where(t => !ModelBoxTables.Data.Any(d => d.Name == t)).ToList();
        if (unknown.Count > 0)
        {
            throw new UnknownTableException($"the backup's tables differ from this build's: unknown {string.Join(", ", unknown)}");
        }

        return exported;
    }

    /// <summary>The table exports of <paramref name="tables"/>, each through <paramref name="importer"/>.</summary>
    private static async Task ImportTablesAsync(
        string folder, BackupManifest manifest, TableImporter importer, IEnumerable<TransferTable> tables, IProgress<string>? progress,
        CancellationToken cancellationToken)
    {
        foreach (var table in tables)
        {
            progress?.Report($"table {table.Name}");
            var path = Path.Combine(folder, manifest.Metadata.Single(f => f.Table == table.Name).Path);
            var (name, columns) = RowFile.ReadHeader(path);
            if (name != table.Name)
            {
                throw new InvalidDataException($"{path} holds table '{name}', not '{table.Name}'");
            }

            await importer.ImportAsync(table, columns, RowFile.ReadAsync(path, cancellationToken), null, null, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RestoreBlobsAsync(string folder, BackupManifest manifest, CancellationToken cancellationToken)
    {
        await foreach (var blob in BackupFolder.ReadBlobListAsync(folder, cancellationToken).ConfigureAwait(false))
        {
            if (await targetBlobs.ExistsAsync(blob.Sha256, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }

            if (!manifest.BlobsIncluded)
            {
                throw new InvalidDataException(
                    $"blob {blob.Sha256} is not in the backup (made without its blobs) and not in the target's blob store");
            }

            var source = new FileStream(BackupFolder.BlobPath(folder, blob.Sha256), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
            await using (source.ConfigureAwait(false))
            {
                await BlobTransfer.CopyAsync(source, targetBlobs, blob, "the backup", cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
