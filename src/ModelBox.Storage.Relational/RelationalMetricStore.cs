using System.Data.Common;
using ModelBox.Domain;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.Relational;

/// <summary>
/// Metric series in a server database, next to the metadata. An append is one transaction: each series row is upserted
/// (which locks it and hands out the <c>seq</c> range of the new points from <c>point_count</c>), then all points go in
/// through the dialect's bulk path (PostgreSQL binary COPY, MySQL multi-row INSERTs). Series are touched in key order,
/// so two replicas appending to the same series never deadlock each other. The same transaction folds the points into the
/// series' summaries (see <c>RelationalMetricStore.Summaries.cs</c>).
/// </summary>
public sealed partial class RelationalMetricStore(RelationalMetadataStore database) : IMetricStore
{
    private const string PointColumns = "step, \"time\", kind, num, txt, bin, seq, millis";

    private readonly RelationalMetadataStore _database = database ?? throw new ArgumentNullException(nameof(database));

    /// <summary>
    /// Benchmark only (metrics-ingest --upkeep-cost, relational-ingest): appends skip the summaries, so the benchmarks can
    /// report what keeping them costs. Summaries of a store written this way are wrong; nothing else sets it.
    /// </summary>
    internal static bool SkipSummariesForBenchmark { get; set; }

    public Task<long> AppendAsync(IReadOnlyList<MetricSeriesPoints> batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return PointCount(batch) == 0
            ? Task.FromResult(0L)
            : AppendCommittedAsync((session, tails) => AppendInSessionAsync(session, batch, tails, cancellationToken), cancellationToken);
    }

    public Task<long> AppendDistinctAsync(IReadOnlyList<MetricSeriesPoints> batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return PointCount(batch) == 0
            ? Task.FromResult(0L)
            : AppendCommittedAsync(
                async (session, tails) =>
                {
                    var fresh = await WithoutStoredPointsAsync(session, batch, cancellationToken).ConfigureAwait(false);
                    return PointCount(fresh) == 0 ? 0 : await AppendInSessionAsync(session, fresh, tails, cancellationToken).ConfigureAwait(false);
                },
                cancellationToken);
    }

    public Task<long> AppendOnceAsync(
        string batchId, IReadOnlyList<MetricSeriesPoints> batch, bool skipStoredPoints = false, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(batchId);
        ArgumentNullException.ThrowIfNull(batch);
        return AppendCommittedAsync(
            async (session, tails) =>
            {
                // The id's row goes in first: a concurrent append of the same id (any replica) waits on its key until this
                // transaction ends, then finds it. -1 marks the row as this transaction's own until the count is known.
                var inserted = await session.ExecuteAsync(
                    session.Dialect.InsertIfAbsent("metric_batches", "batch_id, point_count, created_at", "@Id, -1, @Now", "batch_id"),
                    new { Id = batchId, Now = DateTimeOffset.UtcNow.ToUnixTimeSeconds() },
                    cancellationToken).ConfigureAwait(false);
                if (inserted == 0)
                {
                    return await session.ScalarAsync<long>(
                        "SELECT point_count FROM metric_batches WHERE batch_id = @Id", new { Id = batchId }, cancellationToken).ConfigureAwait(false);
                }

                var fresh = skipStoredPoints && PointCount(batch) > 0
                    ? await WithoutStoredPointsAsync(session, batch, cancellationToken).ConfigureAwait(false)
                    : batch;
                var count = PointCount(fresh) == 0 ? 0 : await AppendInSessionAsync(session, fresh, tails, cancellationToken).ConfigureAwait(false);
                await session.ExecuteAsync(
                    "UPDATE metric_batches SET point_count = @Count WHERE batch_id = @Id", new { Id = batchId, Count = count }, cancellationToken)
                    .ConfigureAwait(false);
                return count;
            },
            cancellationToken);
    }

    public async Task<long> ForgetBatchIdsAsync(DateTimeOffset storedBefore, CancellationToken cancellationToken = default)
    {
        // In short transactions of at most 10,000 ids, so that the write lock (SQLite) or the row locks are held briefly.
        // The derived table is what MySQL needs to take a LIMIT in a subquery of the table it deletes from.
        const string Delete = """
            DELETE FROM metric_batches WHERE batch_id IN (
                SELECT batch_id FROM (SELECT batch_id FROM metric_batches WHERE created_at < @Cutoff LIMIT 10000) AS old)
            """;
        var cutoff = storedBefore.ToUnixTimeSeconds();
        long forgotten = 0;
        int deleted;
        do
        {
            deleted = await _database.WriteAsync(session => session.ExecuteAsync(Delete, new { Cutoff = cutoff }, cancellationToken), cancellationToken)
                .ConfigureAwait(false);
            forgotten += deleted;
        }
        while (deleted > 0);

        return forgotten;
    }

    /// <summary>
    /// Runs an append in a write transaction and, once it committed, publishes the summary tails it left (a retried
    /// attempt starts over with none).
    /// </summary>
    private async Task<long> AppendCommittedAsync(
        Func<DbSession, List<(long SeriesId, SummaryTail Tail)>, Task<long>> append, CancellationToken cancellationToken)
    {
        List<(long SeriesId, SummaryTail Tail)> tails = [];
        var count = await _database.WriteAsync(
            session =>
            {
                tails = [];
                return append(session, tails);
            },
            cancellationToken).ConfigureAwait(false);
        PublishTails(tails);
        return count;
    }

    public Task<IReadOnlyList<MetricSeries>> ReadLatestAsync(string parentId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parentId);
        return _database.ReadAsync<IReadOnlyList<MetricSeries>>(
            async session =>
            {
                var series = new List<(long Id, string Key)>();
                await using (var list = session.CreateCommand("SELECT id, \"key\" FROM metric_series WHERE parent_id = @Parent ORDER BY \"key\""))
                {
                    Add(list, "Parent", parentId);
                    await using var rows = await list.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                    while (await rows.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        series.Add((rows.GetInt64(0), rows.GetString(1)));
                    }
                }

                var result = new List<MetricSeries>(series.Count);
                foreach (var (id, key) in series)
                {
                    // One seek per series on the primary key, from its end: cheap however long the series is.
                    await using var command = session.CreateCommand(
                        $"SELECT {PointColumns} FROM metric_points WHERE series_id = @Series ORDER BY step DESC, \"time\" DESC, seq DESC LIMIT 1");
                    Add(command, "Series", id);
                    await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                    if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        result.Add(new MetricSeries(key, [ReadPoint(reader, 0)]));
                    }
                }

                return result;
            },
            cancellationToken);
    }

    /// <summary>
    /// The batch without the points its series hold already (same step, time, kind and value; NaN equals NaN). One range
    /// read per parent over the steps the batch touches, which for a training loop's batch is the newest step or two.
    /// </summary>
    private static async Task<IReadOnlyList<MetricSeriesPoints>> WithoutStoredPointsAsync(
        DbSession session, IReadOnlyList<MetricSeriesPoints> batch, CancellationToken cancellationToken)
    {
        var stored = new HashSet<(string Parent, string Key, long Step, long Time, MetricValueKind Kind, long Bits)>();
        foreach (var parent in batch.Where(s => s.Points.Count > 0).GroupBy(s => s.ParentId, StringComparer.Ordinal))
        {
            var keys = parent.Select(s => s.Key).Distinct(StringComparer.Ordinal).ToList();
            var minStep = parent.SelectMany(s => s.Points).Min(p => p.Step);
            var maxStep = parent.SelectMany(s => s.Points).Max(p => p.Step);
            foreach (var chunk in keys.Chunk(500))
            {
                await using var command = session.CreateCommand(
                    $"SELECT p.step, p.\"time\", p.kind, p.num, p.txt, p.bin, p.seq, p.millis, s.\"key\" FROM metric_series s JOIN metric_points p ON p.series_id = s.id "
                    + $"WHERE s.parent_id = @Parent AND s.\"key\" IN ({string.Join(", ", chunk.Select((_, i) => $"@k{i}"))}) AND p.step BETWEEN @From AND @To");
                Add(command, "Parent", parent.Key);
                Add(command, "From", minStep);
                Add(command, "To", maxStep);
                for (var i = 0; i < chunk.Length; i++)
                {
                    Add(command, $"k{i}", chunk[i]);
                }

                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var point = ReadPoint(reader, 0);
                    if (point.IsNumeric)
                    {
                        stored.Add((parent.Key, reader.GetString(8), point.Step, point.WallclockMillis, point.Kind, BitConverter.DoubleToInt64Bits(Canonical(point.Number))));
                    }
                }
            }
        }

        if (stored.Count == 0)
        {
            return batch;
        }

        var result = new List<MetricSeriesPoints>(batch.Count);
        foreach (var series in batch)
        {
            var kept = series.Points
                .Where(p => !p.IsNumeric
                    || !stored.Contains((series.ParentId, series.Key, p.Step, p.WallclockMillis, p.Kind, BitConverter.DoubleToInt64Bits(Canonical(p.Number)))))
                .ToList();
            result.Add(series with { Points = kept });
        }

        return result;
    }

    // Every NaN is the same value to a reader (the database keeps no payload).
    private static double Canonical(double value) => double.IsNaN(value) ? double.NaN : value;

    private async Task<long> AppendInSessionAsync(
        DbSession session, IReadOnlyList<MetricSeriesPoints> batch, List<(long SeriesId, SummaryTail Tail)> tails, CancellationToken cancellationToken)
    {
        var count = PointCount(batch);

        // A stable sort: points of one series logged twice in a batch keep their order.
        var ordered = batch
            .Where(series => series.Points.Count > 0)
            .OrderBy(series => series.ParentId, StringComparer.Ordinal)
            .ThenBy(series => series.Key, StringComparer.Ordinal)
            .ToList();
        // One row per series, with all its new points (a series may appear more than once in a batch).
        var distinct = new List<(string Parent, string Key, long Count)>(ordered.Count);
        foreach (var series in ordered)
        {
            if (distinct.Count > 0 && distinct[^1].Parent == series.ParentId && distinct[^1].Key == series.Key)
            {
                distinct[^1] = distinct[^1] with { Count = distinct[^1].Count + series.Points.Count };
            }
            else
            {
                distinct.Add((series.ParentId, series.Key, series.Points.Count));
            }
        }

        var counts = await UpsertSeriesAsync(session, distinct, cancellationToken).ConfigureAwait(false);
        var summarized = BySeries(ordered, counts);
        var rows = new List<PointRow>((int)Math.Min(count, 1_000_000));
        foreach (var series in ordered)
        {
            var (id, next) = counts[(series.ParentId, series.Key)];
            foreach (var point in series.Points)
            {
                rows.Add(PointRow.From(id, next++, point));
            }

            counts[(series.ParentId, series.Key)] = (id, next);
        }

        await session.Dialect.InsertPointsAsync(session.Connection, session.Transaction, rows, cancellationToken).ConfigureAwait(false);
        if (!SkipSummariesForBenchmark)
        {
            await UpdateSummariesAsync(session, summarized, tails, cancellationToken).ConfigureAwait(false);
        }

        return count;
    }

    /// <summary>
    /// Each series' points in arrival order (a series logged twice in a batch comes as consecutive entries), with the
    /// number of points it held before this append.
    /// </summary>
    private static List<(long SeriesId, long PriorCount, List<IReadOnlyList<MetricPoint>> Points)> BySeries(
        List<MetricSeriesPoints> ordered, Dictionary<(string Parent, string Key), (long Id, long NextSeq)> counts)
    {
        var result = new List<(long SeriesId, long PriorCount, List<IReadOnlyList<MetricPoint>> Points)>();
        foreach (var series in ordered)
        {
            var (id, next) = counts[(series.ParentId, series.Key)];
            if (result.Count > 0 && result[^1].SeriesId == id)
            {
                result[^1].Points.Add(series.Points);
            }
            else
            {
                result.Add((id, next - 1, [series.Points]));
            }
        }

        return result;
    }

    /// <summary>
    /// Upserts the series rows in one command (in key order, so concurrent appends lock rows in the same order and never
    /// deadlock) and returns, per series, its id and the first <c>seq</c> of the new points.
    /// </summary>
    private static async Task<Dictionary<(string Parent, string Key), (long Id, long NextSeq)>> UpsertSeriesAsync(
        DbSession session, List<(string Parent, string Key, long Count)> series, CancellationToken cancellationToken)
    {
        var added = new Dictionary<(string Parent, string Key), long>(series.Count);
        foreach (var (parent, key, count) in series)
        {
            added[(parent, key)] = count;
        }

        var result = new Dictionary<(string Parent, string Key), (long Id, long NextSeq)>(series.Count);
        foreach (var (id, parent, key, pointCount) in await session.Dialect.UpsertSeriesAsync(
            session.Connection, session.Transaction, series, cancellationToken).ConfigureAwait(false))
        {
            result[(parent, key)] = (id, pointCount - added[(parent, key)] + 1);
        }

        if (result.Count != series.Count)
        {
            throw new InvalidOperationException("a metric series row vanished inside its transaction");
        }

        return result;
    }

    public Task<IReadOnlyList<MetricSeries>> ReadAllAsync(string parentId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parentId);
        return _database.ReadAsync<IReadOnlyList<MetricSeries>>(
            async session =>
            {
                await using var command = session.CreateCommand(
                    "SELECT s.\"key\", p.step, p.\"time\", p.kind, p.num, p.txt, p.bin, p.seq, p.millis FROM metric_series s JOIN metric_points p ON p.series_id = s.id "
                    + "WHERE s.parent_id = @Parent ORDER BY s.\"key\", p.step, p.\"time\", p.seq");
                Add(command, "Parent", parentId);
                var result = new List<MetricSeries>();
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                string? key = null;
                List<MetricPoint>? points = null;
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var rowKey = reader.GetString(0);
                    if (!string.Equals(rowKey, key, StringComparison.Ordinal))
                    {
                        key = rowKey;
                        points = [];
                        result.Add(new MetricSeries(key, points));
                    }

                    points!.Add(ReadPoint(reader, 1));
                }

                return result;
            },
            cancellationToken);
    }

    public Task ScanAsync(
        string parentId, string key, long fromStep, long toStep, IMetricPointScanner scanner, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scanner);
        return _database.ReadAsync(
            async session =>
            {
                if (await FindRangeAsync(session, parentId, key, fromStep, toStep, cancellationToken).ConfigureAwait(false)
                    is not (var seriesId, var first, var last))
                {
                    return false;
                }

                scanner.Begin(first, last);
                await ReadPointsAsync(session, seriesId, fromStep, toStep, point => scanner.Add(point), cancellationToken).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    public Task<Page<MetricPoint>> ReadPageAsync(string parentId, string key, PageRequest page, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(page);
        if (page.Limit is not > 0)
        {
            throw new ArgumentException("a metric page needs a positive limit", nameof(page));
        }

        var after = Cursor(page.Token);
        var limit = page.Limit.Value;
        return _database.ReadAsync(
            async session =>
            {
                if (await FindSeriesAsync(session, parentId, key, cancellationToken).ConfigureAwait(false) is not { } seriesId)
                {
                    return new Page<MetricPoint>([], null);
                }

                await using var command = session.CreateCommand(
                    $"SELECT {PointColumns} FROM metric_points WHERE series_id = @Series"
                    + (after is null
                        ? string.Empty
                        : " AND " + session.Dialect.KeysetAfter(greater: true, ("step", "@Step"), ("\"time\"", "@Time"), ("seq", "@Seq")))
                    + " ORDER BY step, \"time\", seq LIMIT @Take");
                Add(command, "Series", seriesId);
                Add(command, "Take", (long)limit + 1);
                if (after is var (step, time, seq))
                {
                    Add(command, "Step", step);
                    Add(command, "Time", time);
                    Add(command, "Seq", seq);
                }

                var points = new List<MetricPoint>(Math.Min(limit + 1, 16_384));
                (long Step, long Time, long Seq) lastKey = default;
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (points.Count == limit)
                    {
                        // The extra row only says that another page follows.
                        return new Page<MetricPoint>(points, PageTokens.Encode(
                            RelationalValues.Key(lastKey.Step), RelationalValues.Key(lastKey.Time), RelationalValues.Key(lastKey.Seq)));
                    }

                    points.Add(ReadPoint(reader, 0));
                    lastKey = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(6));
                }

                return new Page<MetricPoint>(points, null);
            },
            cancellationToken);
    }

    /// <summary>How many points a batch holds.</summary>
    internal static long PointCount(IReadOnlyList<MetricSeriesPoints> batch)
    {
        long count = 0;
        foreach (var series in batch)
        {
            count += series.Points.Count;
        }

        return count;
    }

    private static void Add(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    private static async Task<long?> FindSeriesAsync(DbSession session, string parentId, string key, CancellationToken cancellationToken) =>
        await session.ScalarAsync<long?>(
            "SELECT id FROM metric_series WHERE parent_id = @Parent AND \"key\" = @Key", new { Parent = parentId, Key = key }, cancellationToken)
            .ConfigureAwait(false);

    /// <summary>The points of a series with <paramref name="fromStep"/> ≤ step ≤ <paramref name="toStep"/>, in series order.</summary>
    private static async Task ReadPointsAsync(
        DbSession session, long seriesId, long fromStep, long toStep, Action<MetricPoint> add, CancellationToken cancellationToken)
    {
        await using var command = session.CreateCommand(
            $"SELECT {PointColumns} FROM metric_points WHERE series_id = @Series AND step BETWEEN @From AND @To ORDER BY step, \"time\", seq");
        Add(command, "Series", seriesId);
        Add(command, "From", fromStep);
        Add(command, "To", toStep);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            add(ReadPoint(reader, 0));
        }
    }

    /// <summary>
    /// The series of <paramref name="parentId"/>/<paramref name="key"/> with the first and last step it holds in
    /// [<paramref name="fromStep"/>, <paramref name="toStep"/>]; null when there is no such series or no point in the range.
    /// </summary>
    private static async Task<(long SeriesId, long First, long Last)?> FindRangeAsync(
        DbSession session, string parentId, string key, long fromStep, long toStep, CancellationToken cancellationToken)
    {
        if (await FindSeriesAsync(session, parentId, key, cancellationToken).ConfigureAwait(false) is not { } seriesId)
        {
            return null;
        }

        var first = await EdgeStepAsync(session, seriesId, fromStep, toStep, "ASC", cancellationToken).ConfigureAwait(false);
        var last = await EdgeStepAsync(session, seriesId, fromStep, toStep, "DESC", cancellationToken).ConfigureAwait(false);
        return first is { } f && last is { } l ? (seriesId, f, l) : null;
    }

    private static Task<long?> EdgeStepAsync(
        DbSession session, long seriesId, long fromStep, long toStep, string direction, CancellationToken cancellationToken) =>
        session.ScalarAsync<long?>(
            $"SELECT step FROM metric_points WHERE series_id = @Series AND step BETWEEN @From AND @To ORDER BY step {direction} LIMIT 1",
            new { Series = seriesId, From = fromStep, To = toStep },
            cancellationToken);

    /// <summary>A point from columns step, time, kind, num, txt, bin, seq, millis starting at <paramref name="offset"/>.</summary>
    private static MetricPoint ReadPoint(DbDataReader reader, int offset)
    {
        var kind = (MetricValueKind)Convert.ToInt32(reader.GetValue(offset + 2), System.Globalization.CultureInfo.InvariantCulture);
        var step = reader.GetInt64(offset);
        var time = reader.GetInt64(offset + 1);
        var millis = Convert.ToInt16(reader.GetValue(offset + 7), System.Globalization.CultureInfo.InvariantCulture);
        return kind switch
        {
            MetricValueKind.StringTensor => new MetricPoint(step, time, kind, 0, Text: reader.GetString(offset + 4), Millis: millis),
            MetricValueKind.BytesTensor => new MetricPoint(step, time, kind, 0, Bytes: reader.GetFieldValue<byte[]>(offset + 5), Millis: millis),
            _ => new MetricPoint(step, time, kind, reader.IsDBNull(offset + 3) ? NonFinite(reader, offset + 4) : reader.GetDouble(offset + 3), Millis: millis),
        };
    }

    /// <summary>A number the database cannot hold, spelled in <c>txt</c> (see <see cref="PointRow"/>).</summary>
    private static double NonFinite(DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? double.NaN : reader.GetString(ordinal) switch
        {
            "Infinity" => double.PositiveInfinity,
            "-Infinity" => double.NegativeInfinity,
            _ => double.NaN,
        };

    private static (long Step, long Time, long Seq)? Cursor(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return null;
        }

        var keys = PageTokens.Decode(token);
        return keys.Length == 3
            && RelationalValues.TryParseKey(keys[0], out var step)
            && RelationalValues.TryParseKey(keys[1], out var time)
            && RelationalValues.TryParseKey(keys[2], out var seq)
            ? (step, time, seq)
            : throw PageTokens.Malformed();
    }

}
