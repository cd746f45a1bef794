using System.Data.Common;
using System.Security.Cryptography;
using System.Text.Json;
using Dapper;
using ModelBox.Domain.Storage;
using ModelBox.Storage.Migrations;

namespace ModelBox.Storage.Relational.Transfer;

/// <summary>
/// Where a copy is: the stage ("batch" after each committed batch of a table, "table" when a table is complete, "blobs",
/// "verify"), the table, and how far.
/// </summary>
public readonly record struct CopyProgress(string Stage, string Item, long Done);

/// <summary>
/// A file of the source's snapshot that the source deleted (and whose blob it removed) before the copy reached the blob:
/// the copy applies the deletion to the target, at the time the source made it.
/// </summary>
public sealed record DeletedFile(string FileId, string Sha256, DateTimeOffset DeletedAt);

/// <summary>One table compared after a copy: rows on each side and whether the rows hash equal (in key order).</summary>
public sealed record TableComparison(string Table, long SourceRows, long TargetRows, bool Equal);

/// <summary>
/// Copies everything of one deployment into another, whatever their databases and blob stores: every data table in
/// foreign-key order with ids, change sequences and cursors as they are (metric points through the target's bulk path),
/// the counters moved past them, then every referenced blob (hashed on the way, <see cref="BlobConcurrency"/> at a time).
/// Memory is one page of rows, three batches (see <see cref="TableImporter"/>) and the blobs in flight, whatever the
/// size. Progress is kept in the target (<see cref="ModelBoxTables.CopyProgressTable"/>), written in the same transaction
/// as each batch, so a copy that is killed resumes after its last committed batch; the table is dropped when the copy has
/// been compared and found equal.
/// </summary>
public sealed class DataCopier(SqlDialect source, IBlobStore sourceBlobs, SqlDialect target, IBlobStore targetBlobs)
{
    private const int PageRows = 10_000;

    /// <summary>Rows per committed batch in the target.</summary>
    public int BatchRows { get; init; } = 20_000;

    /// <summary>
    /// Blobs copied at once. Each holds one part buffer of the target store (S3: a part; the filesystem: none) and one copy
    /// buffer, so memory stays bounded; several in flight hide each request's latency.
    /// </summary>
    public int BlobConcurrency { get; init; } = 4;

    /// <summary>
    /// The live database of a served source when <c>source</c> is a snapshot of it (null when the source itself is read,
    /// held still). A blob the snapshot references that the live store no longer has is then checked against it: when no
    /// live file record uses the blob any more, its files were deleted after the snapshot, and the copy applies those
    /// deletions to the target through <see cref="TargetFiles"/> instead of failing (<see cref="DeletedAfterSnapshot"/>).
    /// </summary>
    public SqlDialect? LiveSource { get; init; }

    /// <summary>The target's file records, through which a deletion made after the snapshot is applied (with its change record).</summary>
    public IFileRecordStore? TargetFiles { get; init; }

    private readonly List<DeletedFile> _deleted = [];

    /// <summary>The snapshot's files the source deleted before their blobs were copied; the target does not hold them either.</summary>
    public IReadOnlyList<DeletedFile> DeletedAfterSnapshot => _deleted;

    /// <summary>Whether the target holds an unfinished copy to resume.</summary>
    public Task<bool> IsResumingAsync(CancellationToken cancellationToken) => IsResumingAsync(target, cancellationToken);

    /// <summary>Whether <paramref name="target"/> holds an unfinished copy to resume.</summary>
    public static async Task<bool> IsResumingAsync(SqlDialect target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        var connection = await target.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var tables = await ModelBoxTables.ListAsync(target, connection, null, cancellationToken).ConfigureAwait(false);
            return tables.Contains(ModelBoxTables.CopyProgressTable, StringComparer.Ordinal);
        }
    }

    /// <summary>Copies (or resumes copying) every table and blob.</summary>
    public async Task CopyAsync(IProgress<CopyProgress>? progress, CancellationToken cancellationToken)
    {
        await RequireSourceAsync(cancellationToken).ConfigureAwait(false);
        if (!await IsResumingAsync(cancellationToken).ConfigureAwait(false))
        {
            await TargetDatabase.RequireEmptyAsync(target, force: false, cancellationToken).ConfigureAwait(false);
            await CreateProgressTableAsync(cancellationToken).ConfigureAwait(false);
        }

        var importer = new TableImporter(target) { BatchRows = BatchRows };
        var sourceConnection = await source.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (sourceConnection.ConfigureAwait(false))
        {
            foreach (var table in ModelBoxTables.Data)
            {
                var (lastKey, copied, done) = await ReadProgressAsync(table.Name, cancellationToken).ConfigureAwait(false);
                if (done)
                {
                    progress?.Report(new CopyProgress("table", table.Name, copied));
                    continue;
                }

                var columns = await TableRows.ColumnsAsync(source, sourceConnection, null, table.Name, cancellationToken).ConfigureAwait(false);
                var rows = TableRows.ReadAsync(source, sourceConnection, null, table, columns, lastKey, PageRows, cancellationToken);
                var before = copied;
                var added = await importer.ImportAsync(
                    table, columns, rows,
                    (connection, transaction, last, count) => SaveProgressAsync(
                        connection, transaction, table.Name, TableRows.KeyOf(table, columns, last), before + count, done: false, cancellationToken),
                    new InlineProgress<long>(count => progress?.Report(new CopyProgress("batch", table.Name, before + count))),
                    cancellationToken).ConfigureAwait(false);
                await MarkDoneAsync(table.Name, before + added, cancellationToken).ConfigureAwait(false);
                progress?.Report(new CopyProgress("table", table.Name, before + added));
            }

            await importer.FinishAsync(cancellationToken).ConfigureAwait(false);

            await CopyBlobsAsync(sourceConnection, progress, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Every blob the source's file records reference that the target lacks, <see cref="BlobConcurrency"/> at a time (the
    /// references are read a page at a time, in address order); progress is reported in order of completion, one report at a time.
    /// Blobs of files deleted after the snapshot (see <see cref="LiveSource"/>) are skipped and those files deleted from the target.
    /// </summary>
    private async Task CopyBlobsAsync(DbConnection sourceConnection, IProgress<CopyProgress>? progress, CancellationToken cancellationToken)
    {
        long blobs = 0;
        var reporting = new Lock();
        var gone = new List<BlobReference>();
        var options = new ParallelOptions { MaxDegreeOfParallelism = BlobConcurrency, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(BlobTransfer.ReferencedAsync(source, sourceConnection, null, cancellationToken), options, async (blob, token) =>
        {
            if (!await targetBlobs.ExistsAsync(blob.Sha256, token).ConfigureAwait(false))
            {
                var stream = await OpenSourceBlobAsync(blob, token).ConfigureAwait(false);
                if (stream is null)
                {
                    lock (reporting)
                    {
                        gone.Add(blob);
                    }

                    return;
                }

                await using (stream.ConfigureAwait(false))
                {
                    await BlobTransfer.CopyAsync(stream, targetBlobs, blob, "the source", token).ConfigureAwait(false);
                }
            }

            lock (reporting)
            {
                progress?.Report(new CopyProgress("blobs", "blobs", ++blobs));
            }
        }).ConfigureAwait(false);

        _deleted.Clear();
        foreach (var blob in gone.OrderBy(b => b.Sha256, StringComparer.Ordinal))
        {
            await DeleteFromTargetAsync(sourceConnection, blob, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The source's bytes of <paramref name="blob"/>; null when they are gone because every file that used them was deleted
    /// from the served source after the snapshot. A blob missing for any other reason fails the copy, naming its files.
    /// </summary>
    private async Task<Stream?> OpenSourceBlobAsync(BlobReference blob, CancellationToken cancellationToken)
    {
        var stream = await sourceBlobs.OpenReadAsync(blob.Sha256, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (stream is not null || LiveSource is null)
        {
            return stream ?? throw await MissingBlobAsync(blob, lostOnly: true, cancellationToken).ConfigureAwait(false);
        }

        var connection = await LiveSource.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var used = await connection.ExecuteScalarAsync<long>(new CommandDefinition(LiveSource.Sql(
                "SELECT COUNT(*) FROM files WHERE sha256 = @Sha256 AND stored = @Stored"),
                new { blob.Sha256, Stored = true }, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (used == 0)
            {
                return null;
            }
        }

        // A live record uses it: the same bytes uploaded again since (read again: the upload stores them before its record
        // commits), or lost.
        return await sourceBlobs.OpenReadAsync(blob.Sha256, cancellationToken: cancellationToken).ConfigureAwait(false)
            ?? throw await MissingBlobAsync(blob, lostOnly: false, cancellationToken).ConfigureAwait(false);
    }

    private async Task<InvalidDataException> MissingBlobAsync(BlobReference blob, bool lostOnly, CancellationToken cancellationToken)
    {
        var connection = await source.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var files = await FilesOfAsync(connection, blob.Sha256, cancellationToken).ConfigureAwait(false);
            return new InvalidDataException(
                $"blob {blob.Sha256} of file {string.Join(", ", files)} is missing from the source's blob store"
                + (lostOnly ? string.Empty : ", and the source still has a file record that uses it")
                + ": it is lost (`modelbox server verify` on the source lists every lost blob; delete those files or restore their blobs, then run the copy again)");
        }
    }

    /// <summary>The ids of the stored file records of the snapshot that use the blob.</summary>
    private async Task<List<string>> FilesOfAsync(DbConnection sourceConnection, string sha256, CancellationToken cancellationToken) =>
        (await sourceConnection.QueryAsync<string>(new CommandDefinition(source.Sql(
            "SELECT id FROM files WHERE sha256 = @Sha256 AND stored = @Stored ORDER BY id"),
            new { Sha256 = sha256, Stored = true }, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToList();

    /// <summary>
    /// Applies the source's deletions of the files that used <paramref name="blob"/> to the target, at the times the source
    /// made them, each with its change record (a file already deleted by an earlier, interrupted run is left as it is).
    /// </summary>
    private async Task DeleteFromTargetAsync(DbConnection sourceConnection, BlobReference blob, CancellationToken cancellationToken)
    {
        var targetFiles = TargetFiles ?? throw new InvalidOperationException("a copy from a snapshot needs the target's file records");
        var live = await LiveSource!.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (live.ConfigureAwait(false))
        {
            foreach (var id in await FilesOfAsync(sourceConnection, blob.Sha256, cancellationToken).ConfigureAwait(false))
            {
                var micros = await live.ExecuteScalarAsync<long?>(new CommandDefinition(LiveSource.Sql(
                    "SELECT MAX(changed_at) FROM changes WHERE object_id = @Id AND \"change\" = 'deleted'"),
                    new { Id = id }, cancellationToken: cancellationToken)).ConfigureAwait(false);
                var at = micros is { } m ? RelationalValues.FromMicros(m) : DateTimeOffset.UtcNow;
                await targetFiles.DeleteFileAsync(id, at, cancellationToken).ConfigureAwait(false);
                _deleted.Add(new DeletedFile(id, blob.Sha256, at));
            }
        }
    }

    /// <summary>Compares every table of source and target: row counts and a hash of all rows in key order.</summary>
    public async Task<IReadOnlyList<TableComparison>> CompareAsync(IProgress<CopyProgress>? progress, CancellationToken cancellationToken)
    {
        var comparisons = new List<TableComparison>();
        foreach (var table in ModelBoxTables.Data)
        {
            progress?.Report(new CopyProgress("verify", table.Name, 0));
            var (sourceRows, sourceHash) = await DigestAsync(source, table, DeletedFileRows(table, targetSide: false), cancellationToken).ConfigureAwait(false);
            var (targetRows, targetHash) = await DigestAsync(target, table, DeletedFileRows(table, targetSide: true), cancellationToken).ConfigureAwait(false);
            comparisons.Add(new TableComparison(table.Name, sourceRows, targetRows, sourceRows == targetRows && sourceHash == targetHash));
        }

        return comparisons;
    }

    /// <summary>Drops the progress table: the copy is complete.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        var connection = await target.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await connection.ExecuteAsync(new CommandDefinition(
                target.Sql($"DROP TABLE {ModelBoxTables.CopyProgressTable}"), cancellationToken: cancellationToken)).ConfigureAwait(false);
        }
    }

    private async Task RequireSourceAsync(CancellationToken cancellationToken)
    {
        var connection = await source.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await ModelBoxTables.RequireKnownSchemaAsync(source, connection, null, cancellationToken).ConfigureAwait(false);
            var version = await BackupWriter.SchemaVersionAsync(source, connection, null, cancellationToken).ConfigureAwait(false);
            if (version != SchemaMigrations.LatestVersion)
            {
                throw new InvalidOperationException(
                    $"the source has schema version {version} and this build {SchemaMigrations.LatestVersion}: run `modelbox server migrate` on the source first");
            }
        }
    }

    /// <summary>
    /// What the comparison leaves out for the files deleted after the snapshot (<see cref="DeletedAfterSnapshot"/>): on the
    /// source side their file records (the target has none), on the target side their deletions' change records (the
    /// snapshot has none). Null when nothing is left out of <paramref name="table"/>.
    /// </summary>
    private Func<IReadOnlyList<string>, object?[], bool>? DeletedFileRows(TransferTable table, bool targetSide)
    {
        if (_deleted.Count == 0 || table.Name != (targetSide ? "changes" : "files"))
        {
            return null;
        }

        var ids = _deleted.Select(d => d.FileId).ToHashSet(StringComparer.Ordinal);
        (int Id, int Change)? at = null;
        return (columns, row) =>
        {
            at ??= (IndexOf(columns, targetSide ? "object_id" : "id"), targetSide ? IndexOf(columns, "change") : -1);
            return row[at.Value.Id] is string id && ids.Contains(id) && (!targetSide || row[at.Value.Change] is "deleted");
        };
    }

    private static int IndexOf(IReadOnlyList<string> columns, string name)
    {
        for (var i = 0; i < columns.Count; i++)
        {
            if (string.Equals(columns[i], name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        throw new InvalidDataException($"the table has no column {name}");
    }

    private static async Task<(long Rows, string Hash)> DigestAsync(
        SqlDialect dialect, TransferTable table, Func<IReadOnlyList<string>, object?[], bool>? skip, CancellationToken cancellationToken)
    {
        var connection = await dialect.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            // Columns in one order on both sides, whatever order each database created them in.
            var columns = (await TableRows.ColumnsAsync(dialect, connection, null, table.Name, cancellationToken).ConfigureAwait(false))
                .Order(StringComparer.Ordinal).ToList();
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long rows = 0;
            await foreach (var row in TableRows.ReadAsync(dialect, connection, null, table, columns, null, PageRows, cancellationToken).ConfigureAwait(false))
            {
                if (skip?.Invoke(columns, row) == true)
                {
                    continue;
                }

                TableRows.Hash(hash, row);
                rows++;
            }

            return (rows, Convert.ToHexStringLower(hash.GetHashAndReset()));
        }
    }

    private async Task CreateProgressTableAsync(CancellationToken cancellationToken)
    {
        var connection = await target.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await connection.ExecuteAsync(new CommandDefinition(target.Sql(
                $"CREATE TABLE {ModelBoxTables.CopyProgressTable} (table_name VARCHAR(64) NOT NULL PRIMARY KEY, last_key TEXT NULL, "
                + "copied BIGINT NOT NULL, done INTEGER NOT NULL)"), cancellationToken: cancellationToken)).ConfigureAwait(false);
            foreach (var table in ModelBoxTables.Data)
            {
                await connection.ExecuteAsync(new CommandDefinition(target.Sql(
                    $"INSERT INTO {ModelBoxTables.CopyProgressTable} (table_name, last_key, copied, done) VALUES (@Table, NULL, 0, 0)"),
                    new { Table = table.Name }, cancellationToken: cancellationToken)).ConfigureAwait(false);
            }
        }
    }

    private async Task<(object?[]? LastKey, long Copied, bool Done)> ReadProgressAsync(string table, CancellationToken cancellationToken)
    {
        var connection = await target.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var row = await connection.QuerySingleAsync<(string? LastKey, long Copied, long Done)>(new CommandDefinition(target.Sql(
                $"SELECT last_key, copied, done FROM {ModelBoxTables.CopyProgressTable} WHERE table_name = @Table"),
                new { Table = table }, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return (row.LastKey is null ? null : DecodeKey(row.LastKey), row.Copied, row.Done != 0);
        }
    }

    private Task SaveProgressAsync(
        DbConnection connection, DbTransaction transaction, string table, object?[] lastKey, long copied, bool done, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(target.Sql(
            $"UPDATE {ModelBoxTables.CopyProgressTable} SET last_key = @LastKey, copied = @Copied, done = @Done WHERE table_name = @Table"),
            new { Table = table, LastKey = JsonSerializer.Serialize(lastKey), Copied = copied, Done = done ? 1 : 0 }, transaction,
            cancellationToken: cancellationToken));

    private async Task MarkDoneAsync(string table, long copied, CancellationToken cancellationToken)
    {
        var connection = await target.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await connection.ExecuteAsync(new CommandDefinition(target.Sql(
                $"UPDATE {ModelBoxTables.CopyProgressTable} SET copied = @Copied, done = 1 WHERE table_name = @Table"),
                new { Table = table, Copied = copied }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        }
    }

    /// <summary>A key saved as a JSON array: keys are integers and text only.</summary>
    private static object?[] DecodeKey(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateArray().Select(element => element.ValueKind switch
        {
            JsonValueKind.Number => (object?)element.GetInt64(),
            JsonValueKind.String => element.GetString(),
            JsonValueKind.Null => null,
            _ => throw new InvalidDataException($"copy progress key '{json}' is not integers and text"),
        }).ToArray();
    }
}

/// <summary>
/// An <see cref="IProgress{T}"/> that reports on the reporting thread, in order (<see cref="Progress{T}"/> posts each
/// report to the thread pool, which may reorder them).
/// </summary>
public sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
