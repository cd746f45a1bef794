using System.Data.Common;
using System.Security.Cryptography;
using Dapper;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.Relational.Transfer;

/// <summary>What `modelbox server verify` checks; <see cref="Sample"/> null reads every blob and every summarized metric series, N a uniform sample of N of each.</summary>
public sealed record VerifyOptions(int? Sample, TimeSpan SweepGrace)
{
    /// <summary>Copy-data's own check of its target, before it removes its progress table.</summary>
    public bool DuringCopy { get; init; }
}

/// <summary>One integrity problem: the check that found it and what it found, naming ids.</summary>
public sealed record VerifyFinding(string Check, string Message);

/// <summary>The outcome of a verification: what was looked at, and the findings (none means clean).</summary>
public sealed class VerifyReport
{
    /// <summary>Rows per data table.</summary>
    public Dictionary<string, long> Rows { get; } = new(StringComparer.Ordinal);

    /// <summary>Blobs that file records reference, and how many of them were read and hashed.</summary>
    public long BlobsReferenced { get; set; }

    public long BlobsHashed { get; set; }

    /// <summary>Metric series with summaries, and how many of them were compared with their points.</summary>
    public long SeriesSummarized { get; set; }

    public long SeriesSummaryChecked { get; set; }

    /// <summary>Committed blobs in the store.</summary>
    public long BlobsStored { get; set; }

    public List<VerifyFinding> Findings { get; } = [];

    public bool Clean => Findings.Count == 0;
}

/// <summary>
/// The integrity check of a deployment: the schema is the one this build knows; every blob a file record references
/// exists with its recorded size and SHA-256 (all of them, or a uniform sample); no committed blob is unreferenced past the
/// sweep grace; no row points at a missing parent; every metric series counts its points; the change log has no gap and
/// the change counter is past its end. Reads only, in snapshot transactions, so it can run beside a serving server:
/// a finding that a concurrent delete could explain (a blob gone with its record) is checked again before it is reported.
/// </summary>
public sealed class DeploymentVerifier(SqlDialect dialect, IBlobStore blobs, TimeProvider time)
{
    private const int ExampleCount = 3;

    /// <summary>Parents a file, metadata, label, event or metric series can hang off: ids carry their kind, so any table.</summary>
    private static readonly string[] ObjectTables =
        ["experiments", "checkpoints", "models", "model_versions", "events", "files", "datasets", "dataset_versions"];

    /// <summary>
    /// Rows whose parent is missing: (check, table, the column named in examples, the condition an orphan meets). Foreign
    /// keys hold the rest on every backend; these columns have none because a parent can be of any kind.
    /// </summary>
    private static readonly (string Check, string Table, string Column, string Orphan)[] OrphanChecks =
    [
        ("orphans", "files", "id", $"NOT ({ObjectExists("t.parent_id")})"),
        ("orphans", "object_metadata", "object_id", $"NOT ({ObjectExists("t.object_id")})"),
        ("orphans", "object_labels", "object_id", $"NOT ({ObjectExists("t.object_id")})"),
        ("orphans", "events", "id", $"NOT ({ObjectExists("t.parent_id")})"),
        ("orphans", "metric_series", "id", $"NOT ({ObjectExists("t.parent_id")})"),
        ("orphans", "metric_points", "series_id", "NOT EXISTS (SELECT 1 FROM metric_series s WHERE s.id = t.series_id)"),
        ("orphans", "lineage_edges", "subject_id", $"NOT ({ObjectExists("t.subject_id")})"),
        ("orphans", "checkpoints", "id", "NOT EXISTS (SELECT 1 FROM experiments p WHERE p.id = t.experiment_id)"),
        ("orphans", "model_versions", "id", "NOT EXISTS (SELECT 1 FROM models p WHERE p.id = t.model_id)"),
        ("orphans", "model_aliases", "model_id", "NOT EXISTS (SELECT 1 FROM model_versions p WHERE p.id = t.version_id)"),
        ("orphans", "dataset_versions", "id", "NOT EXISTS (SELECT 1 FROM datasets p WHERE p.id = t.dataset_id)"),
        ("metric-series", "metric_series", "id",
            "t.point_count <> (SELECT COUNT(*) FROM metric_points p WHERE p.series_id = t.id)"),
    ];

    private static string ObjectExists(string column) =>
        string.Join(" OR ", ObjectTables.Select(table => $"EXISTS (SELECT 1 FROM {table} o WHERE o.id = {column})"));

    public async Task<VerifyReport> VerifyAsync(VerifyOptions options, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var report = new VerifyReport();
        var connection = await dialect.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            progress?.Report("schema");
            try
            {
                await ModelBoxTables.RequireKnownSchemaAsync(dialect, connection, null, cancellationToken).ConfigureAwait(false);
            }
            catch (UnknownTableException ex)
            {
                report.Findings.Add(new VerifyFinding("schema", ex.Message));
                return report;
            }

            var tables = await ModelBoxTables.ListAsync(dialect, connection, null, cancellationToken).ConfigureAwait(false);
            if (!options.DuringCopy && tables.Contains(ModelBoxTables.CopyProgressTable, StringComparer.Ordinal))
            {
                report.Findings.Add(new VerifyFinding("copy-data", "a `modelbox server copy-data` into this database has not finished; run it again to resume"));
            }

            progress?.Report("rows and references");
            await CheckRowsAsync(connection, report, cancellationToken).ConfigureAwait(false);
            progress?.Report("change log");
            await CheckChangesAsync(connection, tables, report, cancellationToken).ConfigureAwait(false);
            progress?.Report("metric summaries");
            await CheckSummariesAsync(connection, options, report, cancellationToken).ConfigureAwait(false);
            progress?.Report("blobs");
            await CheckReferencedBlobsAsync(connection, options, report, cancellationToken).ConfigureAwait(false);
            progress?.Report("unreferenced blobs");
            await CheckUnreferencedBlobsAsync(connection, options, report, cancellationToken).ConfigureAwait(false);
        }

        return report;
    }

    private async Task CheckRowsAsync(DbConnection connection, VerifyReport report, CancellationToken cancellationToken)
    {
        foreach (var table in ModelBoxTables.Data)
        {
            report.Rows[table.Name] = await ScalarAsync<long>(connection, $"SELECT COUNT(*) FROM {ModelBoxTables.Quote(table.Name)}", null, cancellationToken)
                .ConfigureAwait(false);
        }

        foreach (var (check, table, column, orphan) in OrphanChecks)
        {
            var where = $"FROM {table} t WHERE {orphan}";
            var count = await ScalarAsync<long>(connection, $"SELECT COUNT(*) {where}", null, cancellationToken).ConfigureAwait(false);
            if (count == 0)
            {
                continue;
            }

            var examples = await connection.QueryAsync<object>(new CommandDefinition(
                dialect.Sql($"SELECT {ModelBoxTables.Quote(column)} {where} LIMIT {ExampleCount}"), cancellationToken: cancellationToken)).ConfigureAwait(false);
            report.Findings.Add(new VerifyFinding(check, check == "metric-series"
                ? $"{count} metric series whose point_count differs from their stored points (series {string.Join(", ", examples.Select(e => ((IDictionary<string, object>)e).Values.First()))})"
                : $"{count} row(s) of {table} whose parent is missing ({column} {string.Join(", ", examples.Select(e => ((IDictionary<string, object>)e).Values.First()))})"));
        }
    }

    private async Task CheckChangesAsync(DbConnection connection, IReadOnlyList<string> tables, VerifyReport report, CancellationToken cancellationToken)
    {
        var (count, first, last) = (await connection.QuerySingleAsync<(long, long?, long?)>(new CommandDefinition(
            dialect.Sql("SELECT COUNT(*), MIN(sequence), MAX(sequence) FROM changes"), cancellationToken: cancellationToken)).ConfigureAwait(false));
        // Sequences start at 1 on every backend and no record is ever removed.
        if (count > 0 && first != 1)
        {
            report.Findings.Add(new VerifyFinding("changes", $"the change log starts at sequence {first}, not 1: its first records are missing"));
        }

        if (count > 0 && last!.Value - first!.Value + 1 != count)
        {
            var gap = await ScalarAsync<long>(connection,
                "SELECT MIN(c.sequence) FROM changes c WHERE c.sequence < @Last AND NOT EXISTS (SELECT 1 FROM changes n WHERE n.sequence = c.sequence + 1)",
                new { Last = last }, cancellationToken).ConfigureAwait(false);
            report.Findings.Add(new VerifyFinding("changes",
                $"the change log has gaps: {count} records between sequence {first} and {last} (the first gap follows sequence {gap})"));
        }

        if (tables.Contains("change_counter", StringComparer.Ordinal))
        {
            var counter = await ScalarAsync<long?>(connection, "SELECT value FROM change_counter WHERE id = 1", null, cancellationToken).ConfigureAwait(false);
            if (counter is null || counter < (last ?? 0))
            {
                report.Findings.Add(new VerifyFinding("changes",
                    $"the change counter ({counter?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "missing"}) is behind the last change sequence {last}: new changes would reuse sequences"));
            }
        }
    }

    private async Task CheckReferencedBlobsAsync(DbConnection connection, VerifyOptions options, VerifyReport report, CancellationToken cancellationToken)
    {
        // One pass over the distinct blobs (a uniform sample in bounded memory), then the checks.
        report.BlobsReferenced = await ForSampleAsync(
            BlobTransfer.ReferencedAsync(dialect, connection, null, cancellationToken),
            options.Sample,
            blob => CheckBlobAsync(blob.Sha256, blob.Size, report, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>
    /// Summaries against points: every series with summaries (or a uniform sample of <see cref="VerifyOptions.Sample"/>
    /// of them) is folded from its points again and compared, each in its own snapshot transaction.
    /// </summary>
    private async Task CheckSummariesAsync(DbConnection connection, VerifyOptions options, VerifyReport report, CancellationToken cancellationToken)
    {
        var findings = new List<string>();
        long count = 0;
        report.SeriesSummarized = await ForSampleAsync(
            SummarizedSeriesAsync(connection, cancellationToken),
            options.Sample,
            async seriesId =>
            {
                var transaction = await dialect.BeginSnapshotAsync(connection, cancellationToken).ConfigureAwait(false);
                await using (transaction.ConfigureAwait(false))
                {
                    report.SeriesSummaryChecked++;
                    if (await RelationalMetricStore.CompareSummariesWithPointsAsync(dialect, connection, transaction, seriesId, cancellationToken).ConfigureAwait(false) is { } difference
                        && count++ < ExampleCount)
                    {
                        findings.Add($"series {seriesId.ToString(System.Globalization.CultureInfo.InvariantCulture)}: {difference}");
                    }
                }
            }).ConfigureAwait(false);
        if (count > 0)
        {
            report.Findings.Add(new VerifyFinding("metric-summaries",
                $"{count} metric series whose summaries differ from their points ({string.Join("; ", findings)})"));
        }
    }

    private async IAsyncEnumerable<long> SummarizedSeriesAsync(DbConnection connection, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // A page of ids at a time (read to its end before the checks use the connection).
        long after = long.MinValue;
        while (true)
        {
            var page = (await connection.QueryAsync<long>(new CommandDefinition(
                dialect.Sql("SELECT id FROM metric_series s WHERE id > @After AND NOT EXISTS (SELECT 1 FROM metric_summary_backlog b WHERE b.series_id = s.id) ORDER BY id LIMIT 1000"),
                new { After = after }, cancellationToken: cancellationToken)).ConfigureAwait(false)).AsList();
            foreach (var id in page)
            {
                yield return id;
            }

            if (page.Count < 1000)
            {
                yield break;
            }

            after = page[^1];
        }
    }

    /// <summary>
    /// Runs <paramref name="check"/> on every item, or on a uniform sample of <paramref name="sampleSize"/> of them kept by
    /// reservoir sampling (bounded memory); returns how many items there were.
    /// </summary>
    private static async Task<long> ForSampleAsync<T>(IAsyncEnumerable<T> items, int? sampleSize, Func<T, Task> check)
    {
        var sample = new List<T>();
        var random = new Random();
        long seen = 0;
        await foreach (var item in items.ConfigureAwait(false))
        {
            seen++;
            if (sampleSize is not { } size)
            {
                await check(item).ConfigureAwait(false);
            }
            else if (sample.Count < size)
            {
                sample.Add(item);
            }
            else if (random.NextInt64(seen) is var slot && slot < size)
            {
                sample[(int)slot] = item;
            }
        }

        foreach (var item in sample)
        {
            await check(item).ConfigureAwait(false);
        }

        return seen;
    }

    private async Task CheckBlobAsync(string sha256, long size, VerifyReport report, CancellationToken cancellationToken)
    {
        var stream = await blobs.OpenReadAsync(sha256, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (stream is null)
        {
            if (await StillReferencedAsync(sha256, cancellationToken).ConfigureAwait(false))
            {
                report.Findings.Add(new VerifyFinding("blobs", $"blob {sha256} is missing (file {await FileOfAsync(sha256, cancellationToken).ConfigureAwait(false)} uses it)"));
            }

            return;
        }

        await using (stream.ConfigureAwait(false))
        {
            var (actualHash, actualSize) = await HashAsync(stream, cancellationToken).ConfigureAwait(false);
            report.BlobsHashed++;
            if (actualSize != size || !string.Equals(actualHash, sha256, StringComparison.Ordinal))
            {
                report.Findings.Add(new VerifyFinding("blobs",
                    $"blob {sha256} is damaged: {actualSize} bytes with SHA-256 {actualHash}, recorded {size} bytes (file {await FileOfAsync(sha256, cancellationToken).ConfigureAwait(false)})"));
            }
        }
    }

    /// <summary>The SHA-256 (lowercase hex) and length of a stream, read to its end.</summary>
    public static async Task<(string Sha256, long Size)> HashAsync(Stream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            long size = 0;
            int read;
            while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                size += read;
            }

            return (Convert.ToHexStringLower(hash.GetHashAndReset()), size);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task CheckUnreferencedBlobsAsync(DbConnection connection, VerifyOptions options, VerifyReport report, CancellationToken cancellationToken)
    {
        const int Batch = 500;
        var writtenBefore = time.GetUtcNow() - options.SweepGrace;
        var batch = new List<string>(Batch);
        var unreferenced = new List<string>();
        long count = 0;
        await foreach (var blob in blobs.ListBlobsAsync(cancellationToken).ConfigureAwait(false))
        {
            report.BlobsStored++;
            if (blob.LastWrite < writtenBefore)
            {
                batch.Add(blob.Sha256);
            }

            if (batch.Count == Batch)
            {
                count += await UnreferencedAsync(connection, batch, unreferenced, cancellationToken).ConfigureAwait(false);
                batch.Clear();
            }
        }

        count += await UnreferencedAsync(connection, batch, unreferenced, cancellationToken).ConfigureAwait(false);
        if (count > 0)
        {
            report.Findings.Add(new VerifyFinding("unreferenced-blobs",
                $"{count} blob(s) no file record uses are older than the sweep grace ({options.SweepGrace.TotalSeconds:0} s), so the sweep is not removing them: {string.Join(", ", unreferenced)}"));
        }
    }

    private async Task<long> UnreferencedAsync(DbConnection connection, List<string> batch, List<string> examples, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return 0;
        }

        var used = (await connection.QueryAsync<string>(new CommandDefinition(
            dialect.Sql($"SELECT DISTINCT sha256 FROM files WHERE {dialect.InList("sha256", "@Sha256s")} AND stored = @Stored"),
            new { Sha256s = batch.ToArray(), Stored = true }, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
        var missing = batch.Where(b => !used.Contains(b)).ToList();
        examples.AddRange(missing.Take(ExampleCount - examples.Count));
        return missing.Count;
    }

    private async Task<bool> StillReferencedAsync(string sha256, CancellationToken cancellationToken)
    {
        var connection = await dialect.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return await ScalarAsync<long>(connection, "SELECT COUNT(*) FROM files WHERE sha256 = @Sha256 AND stored = @Stored",
                new { Sha256 = sha256, Stored = true }, cancellationToken).ConfigureAwait(false) > 0;
        }
    }

    private async Task<string> FileOfAsync(string sha256, CancellationToken cancellationToken)
    {
        var connection = await dialect.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return await connection.QueryFirstOrDefaultAsync<string>(new CommandDefinition(
                dialect.Sql("SELECT id FROM files WHERE sha256 = @Sha256 AND stored = @Stored ORDER BY id LIMIT 1"),
                new { Sha256 = sha256, Stored = true }, cancellationToken: cancellationToken)).ConfigureAwait(false) ?? "(none any more)";
        }
    }

    private Task<T> ScalarAsync<T>(DbConnection connection, string sql, object? parameters, CancellationToken cancellationToken) =>
        connection.ExecuteScalarAsync<T>(new CommandDefinition(dialect.Sql(sql), parameters, cancellationToken: cancellationToken))!;
}
