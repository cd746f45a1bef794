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
    /// </summary>
    private async Task CopyBlobsAsync(DbConnection sourceConnection, IProgress<CopyProgress>? progress, CancellationToken cancellationToken)
    {
        long blobs = 0;
        var reporting = new Lock();
        var options = new ParallelOptions { MaxDegreeOfParallelism = BlobConcurrency, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(BlobTransfer.ReferencedAsync(source, sourceConnection, null, cancellationToken), options, async (blob, token) =>
        {
            if (!await targetBlobs.ExistsAsync(blob.Sha256, token).ConfigureAwait(false))
            {
                var stream = await sourceBlobs.OpenReadAsync(blob.Sha256, cancellationToken: token).ConfigureAwait(false)
                    ?? throw new InvalidDataException(
                        $"blob {blob.Sha256} is referenced by the source but missing from its blob store: lost (`modelbox server verify` on the source "
                        + "lists what is lost), or deleted after the snapshot of a served source was taken (its file deleted during the copy: "
                        + "empty the target and copy again)");
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
    }

    /// <summary>Compares every table of source and target: row counts and a hash of all rows in key order.</summary>
    public async Task<IReadOnlyList<TableComparison>> CompareAsync(IProgress<CopyProgress>? progress, CancellationToken cancellationToken)
    {
        var comparisons = new List<TableComparison>();
        foreach (var table in ModelBoxTables.Data)
        {
            progress?.Report(new CopyProgress("verify", table.Name, 0));
            var (sourceRows, sourceHash) = await DigestAsync(source, table, cancellationToken).ConfigureAwait(false);
            var (targetRows, targetHash) = await DigestAsync(target, table, cancellationToken).ConfigureAwait(false);
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

    private static async Task<(long Rows, string Hash)> DigestAsync(SqlDialect dialect, TransferTable table, CancellationToken cancellationToken)
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
