using System.Data.Common;
using System.Globalization;
using System.Text;
using ModelBox.Domain;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.Relational;

/// <summary>
/// Summaries of metric series (table <c>metric_summaries</c>, migration 10): fixed step buckets at a few resolutions,
/// folded at ingest in the transaction of the points. A bucket is a step range (2^shift steps), so a point logged late,
/// out of order or twice lands in a bucket known from its step alone, and is folded into the stored summary without
/// reading any other point: summaries stay exact, and stay right after raw points are deleted. Resolutions 2^6 to 2^18
/// steps are 4× apart, so a downsampled read touches at most 4 stored buckets per chart bucket; shift 63 is
/// the whole series (the "last loss" of a runs table).
/// </summary>
public sealed partial class RelationalMetricStore
{
    /// <summary>
    /// The chart resolutions, finest first, a factor of four apart: a read takes the coarsest one with enough buckets, so it
    /// reads at most four stored buckets per bucket it returns (migration 14 added 8, 12 and 16).
    /// </summary>
    internal static readonly int[] ChartShifts = [6, 8, 10, 12, 14, 16, 18];

    /// <summary>The resolution that holds the whole series in bucket 0.</summary>
    internal const int WholeSeriesShift = 63;

    private static readonly int[] AllShifts = [.. ChartShifts, WholeSeriesShift];

    // The SQLite limit on expression depth is 1,000; a statement's OR of bucket ranges stays far below it.
    private const int TermsPerStatement = 200;

    // Gaps up to this many buckets are read through rather than split into another range.
    private const long RangeGap = 64;

    private const string SummaryColumns =
        "point_count, num_count, nan_count, first_step, first_time, last_step, last_time, min_step, min_time, max_step, max_time, "
        + "kinds, nonfinite, num_sum, first_val, last_val, min_val, max_val";

    private volatile bool _backlogEmpty;

    public IReadOnlyList<int> SummaryStepShifts => AllShifts;

    /// <summary>One bucket row on its way in or out: its summary so far, and whether the table already holds it.</summary>
    private sealed class Slot
    {
        public MetricSummaryBuilder Builder;
        public bool Stored;
        public bool Touched;
    }

    /// <summary>A series' points folded into its buckets at the finest resolution, in arrival order.</summary>
    private sealed class FinestBuckets
    {
        private Slot? _recent;
        private long _recentBucket;

        public Dictionary<long, Slot> Buckets { get; } = [];

        public void Add(MetricPoint point)
        {
            // Consecutive points mostly share their bucket.
            var bucket = point.Step >> AllShifts[0];
            if (_recent is null || _recentBucket != bucket)
            {
                if (!Buckets.TryGetValue(bucket, out _recent))
                {
                    Buckets.Add(bucket, _recent = new Slot());
                }

                _recentBucket = bucket;
            }

            _recent.Builder.Add(point);
        }
    }

    /// <summary>
    /// Merges the summary of a series' finest bucket into the bucket of every resolution that spans it (adding the slots
    /// that are missing): finest buckets hold disjoint steps, so merging them equals adding their points one by one.
    /// </summary>
    private static void MergeIntoEveryResolution(
        Dictionary<(long Series, int Shift, long Bucket), Slot> slots, long seriesId, long finestBucket, in MetricSummary summary)
    {
        foreach (var shift in AllShifts)
        {
            var key = (seriesId, shift, finestBucket >> (shift - AllShifts[0]));
            if (!slots.TryGetValue(key, out var slot))
            {
                slots.Add(key, slot = new Slot());
            }

            slot.Builder.Merge(summary);
        }
    }

    /// <summary>
    /// The newest bucket of a series at each resolution (index as <see cref="AllShifts"/>), with its summary, as a
    /// committed append left them when the series held <paramref name="PointCount"/> points. Point counts only grow and
    /// every append with points changes it, so a tail whose count equals the series' count before an append is exactly
    /// what the table holds: the append folds into it without reading the table, and knows every later bucket is new.
    /// </summary>
    private sealed record SummaryTail(long PointCount, long[] Buckets, MetricSummary[] Summaries);

    // Tails of recently appended series, published only after their append committed (a claim about committed state,
    // so a rolled-back or concurrent append can at worst make one miss). Bounded: emptied when it would grow past this.
    private const int MaxCachedTails = 16_384;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, SummaryTail> _tails = new();

    /// <summary>Remembers the tails of a committed append.</summary>
    private void PublishTails(List<(long SeriesId, SummaryTail Tail)> tails)
    {
        if (_tails.Count + tails.Count > MaxCachedTails)
        {
            _tails.Clear();
        }

        foreach (var (id, tail) in tails)
        {
            _tails[id] = tail;
        }
    }

    /// <summary>
    /// Folds the appended points into the summaries of their buckets, in the append's transaction (the series rows are
    /// locked by the upsert, so no other append of these series runs in between). <paramref name="series"/> lists each
    /// series' points in arrival order and how many points it held before; the new tails go to <paramref name="tails"/>,
    /// to be published once the transaction committed.
    /// </summary>
    private async Task UpdateSummariesAsync(
        DbSession session,
        List<(long SeriesId, long PriorCount, List<IReadOnlyList<MetricPoint>> Points)> series,
        List<(long SeriesId, SummaryTail Tail)> tails,
        CancellationToken cancellationToken)
    {
        if (!_backlogEmpty)
        {
            var backlog = await BacklogOfAsync(session, series.Select(s => s.SeriesId).ToList(), cancellationToken).ConfigureAwait(false);
            if (backlog.Count > 0)
            {
                // Their summaries are built from all their points (these included) when the backlog is worked off.
                series = series.Where(s => !backlog.Contains(s.SeriesId)).ToList();
            }
        }

        // Each point is folded once, into its series' bucket at the finest resolution (in arrival order, so ties in series
        // order keep theirs); a coarser bucket then merges the finest buckets it spans, which hold disjoint steps.
        var fine = new List<(long SeriesId, Dictionary<long, Slot> Buckets)>(series.Count);
        foreach (var (id, _, chunks) in series)
        {
            var finest = new FinestBuckets();
            foreach (var points in chunks)
            {
                foreach (var point in points)
                {
                    finest.Add(point);
                }
            }

            fine.Add((id, finest.Buckets));
        }

        // The buckets the points fall in, at every resolution.
        var slots = new Dictionary<(long Series, int Shift, long Bucket), Slot>();
        foreach (var (id, buckets) in fine)
        {
            foreach (var bucket in buckets.Keys)
            {
                foreach (var shift in AllShifts)
                {
                    slots.TryAdd((id, shift, bucket >> (shift - AllShifts[0])), new Slot { Touched = true });
                }
            }
        }

        // What the table holds of them: from a valid tail where there is one, else read.
        var known = new Dictionary<long, long[]>(series.Count);
        var cached = new Dictionary<long, SummaryTail>();
        var unknownTails = new List<long>();
        foreach (var (id, prior, _) in series)
        {
            if (prior == 0)
            {
                known[id] = NoBuckets();
            }
            else if (_tails.TryGetValue(id, out var tail) && tail.PointCount == prior)
            {
                known[id] = tail.Buckets;
                cached[id] = tail;
                for (var i = 0; i < AllShifts.Length; i++)
                {
                    if (slots.TryGetValue((id, AllShifts[i], tail.Buckets[i]), out var slot))
                    {
                        slot.Builder = new MetricSummaryBuilder(tail.Summaries[i]);
                        slot.Stored = true;
                    }
                }
            }
            else
            {
                unknownTails.Add(id);
            }
        }

        if (unknownTails.Count > 0)
        {
            foreach (var (id, buckets) in await ReadTailBucketsAsync(session, unknownTails, cancellationToken).ConfigureAwait(false))
            {
                known[id] = buckets;
                for (var i = 0; i < AllShifts.Length; i++)
                {
                    // The tail is read with the rest, so that the new tail's summary is known even if no point fell in it.
                    if (buckets[i] >= 0)
                    {
                        slots.TryAdd((id, AllShifts[i], buckets[i]), new Slot());
                    }
                }
            }
        }

        // Buckets at or before a series' tail may hold a summary that no tail gave: those are read.
        var toLoad = new Dictionary<(long Series, int Shift, long Bucket), Slot>();
        foreach (var (key, slot) in slots)
        {
            if (!slot.Stored && key.Bucket <= known[key.Series][Array.IndexOf(AllShifts, key.Shift)])
            {
                toLoad.Add(key, slot);
            }
        }

        await LoadStoredSlotsAsync(session, toLoad, cancellationToken).ConfigureAwait(false);

        foreach (var (id, buckets) in fine)
        {
            foreach (var (bucket, partial) in buckets)
            {
                MergeIntoEveryResolution(slots, id, bucket, partial.Builder.ToSummary());
            }
        }

        await WriteSlotsAsync(session, slots.Where(pair => pair.Value.Touched), cancellationToken).ConfigureAwait(false);

        foreach (var (id, prior, chunks) in series)
        {
            var before = known[id];
            var (lastStep, added) = (long.MinValue, 0L);
            foreach (var points in chunks)
            {
                added += points.Count;
                foreach (var point in points)
                {
                    lastStep = Math.Max(lastStep, point.Step);
                }
            }

            var buckets = new long[AllShifts.Length];
            var summaries = new MetricSummary[AllShifts.Length];
            for (var i = 0; i < AllShifts.Length; i++)
            {
                buckets[i] = Math.Max(before[i], lastStep >> AllShifts[i]);
                summaries[i] = slots.TryGetValue((id, AllShifts[i], buckets[i]), out var slot)
                    ? slot.Builder.ToSummary()
                    : cached[id].Summaries[i];
            }

            tails.Add((id, new SummaryTail(prior + added, buckets, summaries)));
        }
    }

    private static long[] NoBuckets()
    {
        var buckets = new long[AllShifts.Length];
        Array.Fill(buckets, -1L);
        return buckets;
    }

    /// <summary>The newest bucket of each series at each resolution (-1 where it has none), by index seeks.</summary>
    private static async Task<Dictionary<long, long[]>> ReadTailBucketsAsync(DbSession session, List<long> seriesIds, CancellationToken cancellationToken)
    {
        var result = seriesIds.ToDictionary(id => id, _ => NoBuckets());
        // SQLite allows 500 terms in a compound SELECT.
        foreach (var chunk in seriesIds.SelectMany(id => AllShifts.Select(shift => (id, shift))).Chunk(100))
        {
            await using var command = session.Connection.CreateCommand();
            command.Transaction = session.Transaction;
            command.CommandTimeout = session.Dialect.CommandTimeoutSeconds;
            command.CommandText = session.Dialect.SqlOnce(string.Join(
                " UNION ALL ",
                chunk.Select(term => string.Create(
                    CultureInfo.InvariantCulture,
                    $"SELECT {term.id}, {term.shift}, (SELECT MAX(bucket) FROM metric_summaries WHERE series_id = {term.id} AND step_shift = {term.shift})"))));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!reader.IsDBNull(2))
                {
                    result[reader.GetInt64(0)][Array.IndexOf(AllShifts, (int)reader.GetInt64(1))] = reader.GetInt64(2);
                }
            }
        }

        return result;
    }

    /// <summary>Reads the stored rows of the given slots into them (bucket ranges, a few statements).</summary>
    private static async Task LoadStoredSlotsAsync(
        DbSession session, Dictionary<(long Series, int Shift, long Bucket), Slot> slots, CancellationToken cancellationToken)
    {
        var terms = new List<string>();
        foreach (var group in slots.Keys.GroupBy(key => (key.Series, key.Shift)))
        {
            var buckets = group.Select(key => key.Bucket).Order().ToList();
            var start = 0;
            for (var i = 1; i <= buckets.Count; i++)
            {
                if (i == buckets.Count || buckets[i] - buckets[i - 1] > RangeGap)
                {
                    terms.Add(string.Create(
                        CultureInfo.InvariantCulture,
                        $"(series_id = {group.Key.Series} AND step_shift = {group.Key.Shift} AND bucket BETWEEN {buckets[start]} AND {buckets[i - 1]})"));
                    start = i;
                }
            }
        }

        foreach (var chunk in terms.Chunk(TermsPerStatement))
        {
            await using var command = session.Connection.CreateCommand();
            command.Transaction = session.Transaction;
            command.CommandTimeout = session.Dialect.CommandTimeoutSeconds;
            command.CommandText = session.Dialect.SqlOnce(
                $"SELECT series_id, step_shift, bucket, {SummaryColumns} FROM metric_summaries WHERE " + string.Join(" OR ", chunk));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (slots.TryGetValue((reader.GetInt64(0), (int)reader.GetInt64(1), reader.GetInt64(2)), out var slot))
                {
                    slot.Builder = new MetricSummaryBuilder(ReadSummary(reader, 3));
                    slot.Stored = true;
                }
            }
        }
    }

    /// <summary>
    /// Writes the slots' summaries: a slot the table holds (<see cref="Slot.Stored"/>, read or proven by a tail under the
    /// series' row lock) replaces its row, every other slot is a new row, inserted through the dialect's bulk path.
    /// </summary>
    private static async Task WriteSlotsAsync(
        DbSession session, IEnumerable<KeyValuePair<(long Series, int Shift, long Bucket), Slot>> slots, CancellationToken cancellationToken)
    {
        var (fresh, stored) = (new List<object[]>(), new List<object[]>());
        foreach (var (key, slot) in slots)
        {
            if (!slot.Builder.IsEmpty)
            {
                (slot.Stored ? stored : fresh).Add(SummaryRow(key.Series, key.Shift, key.Bucket, slot.Builder.ToSummary()));
            }
        }

        await session.Dialect.InsertNumericRowsAsync(
            session.Connection, session.Transaction, "metric_summaries", SummaryTableColumns, fresh, cancellationToken).ConfigureAwait(false);
        await session.Dialect.InsertNumericRowsAsync(
            session.Connection, session.Transaction, "metric_summaries", SummaryTableColumns, stored, cancellationToken, keyColumns: 3).ConfigureAwait(false);
    }

    private static readonly string[] SummaryTableColumns = ["series_id", "step_shift", "bucket", .. SummaryColumns.Split(", ")];

    /// <summary>One row of <c>metric_summaries</c>, in the order of <see cref="SummaryTableColumns"/>.</summary>
    private static object[] SummaryRow(long series, int shift, long bucket, in MetricSummary summary)
    {
        var (first, last, min, max) = (summary.First, summary.Last, summary.Min, summary.Max);
        var kinds = (long)first.Kind | ((long)last.Kind << 4) | ((long)min.Kind << 8) | ((long)max.Kind << 12);
        var nonfinite = NonFiniteCode(summary.Sum) | (NonFiniteCode(first.Number) << 2) | (NonFiniteCode(last.Number) << 4)
            | (NonFiniteCode(min.Number) << 6) | (NonFiniteCode(max.Number) << 8);
        return
        [
            series, (long)shift, bucket, summary.Count, summary.NumericCount, summary.NanCount,
            first.Step, first.WallclockSeconds, last.Step, last.WallclockSeconds, min.Step, min.WallclockSeconds, max.Step, max.WallclockSeconds,
            kinds, nonfinite, Finite(summary.Sum), Finite(first.Number), Finite(last.Number), Finite(min.Number), Finite(max.Number),
        ];
    }

    private static double Finite(double value) => double.IsFinite(value) ? value : 0;

    private static long NonFiniteCode(double value) =>
        double.IsFinite(value) ? 0 : double.IsNaN(value) ? 1 : value > 0 ? 2 : 3;

    private static double FromCode(double value, long code) => code switch
    {
        1 => double.NaN,
        2 => double.PositiveInfinity,
        3 => double.NegativeInfinity,
        _ => value,
    };

    /// <summary>A summary from the <see cref="SummaryColumns"/> starting at <paramref name="offset"/>.</summary>
    private static MetricSummary ReadSummary(DbDataReader reader, int offset)
    {
        var kinds = reader.GetInt64(offset + 11);
        var nonfinite = reader.GetInt64(offset + 12);
        MetricPoint Point(int stepColumn, int valueColumn, int index) => new(
            reader.GetInt64(offset + stepColumn),
            reader.GetInt64(offset + stepColumn + 1),
            (MetricValueKind)((kinds >> (4 * index)) & 0xF),
            FromCode(reader.GetDouble(offset + valueColumn), (nonfinite >> (2 * (index + 1))) & 3));

        return new MetricSummary(
            reader.GetInt64(offset),
            reader.GetInt64(offset + 1),
            reader.GetInt64(offset + 2),
            FromCode(reader.GetDouble(offset + 13), nonfinite & 3),
            Point(3, 14, 0),
            Point(5, 15, 1),
            Point(7, 16, 2),
            Point(9, 17, 3));
    }

    /// <summary>Which of the series still wait for their summaries to be built from their points.</summary>
    private async Task<HashSet<long>> BacklogOfAsync(DbSession session, List<long> seriesIds, CancellationToken cancellationToken)
    {
        if (await session.ScalarAsync<long>("SELECT COUNT(*) FROM metric_summary_backlog", null, cancellationToken).ConfigureAwait(false) == 0)
        {
            // New series never enter the backlog, so once empty it stays empty.
            _backlogEmpty = true;
            return [];
        }

        var ids = await session.QueryOnceAsync<long>(
            "SELECT series_id FROM metric_summary_backlog WHERE series_id IN ("
            + string.Join(", ", seriesIds.Select(id => id.ToString(CultureInfo.InvariantCulture))) + ")",
            null,
            cancellationToken).ConfigureAwait(false);
        return [.. ids];
    }

    /// <summary>
    /// Builds the summaries of the series in the backlog: those that existed before migration 10 from their points, those
    /// that existed before migration 14 (new resolutions) from their finest buckets; one series per transaction
    /// (its row locked, so appends wait and then fold into the finished summaries). Replicas may run it together.
    /// </summary>
    internal static async Task BuildSummaryBacklogAsync(RelationalMetadataStore database, CancellationToken cancellationToken)
    {
        while (true)
        {
            var next = await database.ReadAsync(
                session => session.ScalarAsync<long?>("SELECT MIN(series_id) FROM metric_summary_backlog", null, cancellationToken),
                cancellationToken).ConfigureAwait(false);
            if (next is not { } seriesId)
            {
                return;
            }

            await database.WriteAsync(
                async session =>
                {
                    await session.ScalarAsync<long?>(
                        "SELECT id FROM metric_series WHERE id = @Id" + session.Dialect.ForUpdate, new { Id = seriesId }, cancellationToken).ConfigureAwait(false);
                    if (await session.ScalarAsync<long?>(
                        "SELECT series_id FROM metric_summary_backlog WHERE series_id = @Id", new { Id = seriesId }, cancellationToken).ConfigureAwait(false) is null)
                    {
                        return 0;
                    }

                    // A series that has its finest buckets (from before migration 14) gets the other resolutions by merging them;
                    // one from before migration 10 gets its finest buckets from its points first. In series order, a point with
                    // the same step and time as an earlier one arrived later: what the builder assumes.
                    var finest = await ReadSummariesAsync(
                        session, seriesId, AllShifts[0], long.MinValue >> AllShifts[0], long.MaxValue >> AllShifts[0], cancellationToken).ConfigureAwait(false);
                    if (finest.Count == 0)
                    {
                        var fromPoints = new FinestBuckets();
                        await ReadPointsAsync(session, seriesId, long.MinValue, long.MaxValue, fromPoints.Add, cancellationToken).ConfigureAwait(false);
                        finest = [.. fromPoints.Buckets.Select(pair => new MetricBucket(
                            pair.Key << AllShifts[0], (pair.Key << AllShifts[0]) + ((1L << AllShifts[0]) - 1), pair.Value.Builder.ToSummary()))];
                    }

                    var slots = new Dictionary<(long Series, int Shift, long Bucket), Slot>();
                    foreach (var bucket in finest)
                    {
                        MergeIntoEveryResolution(slots, seriesId, bucket.FirstStep >> AllShifts[0], bucket.Summary);
                    }

                    await session.ExecuteAsync("DELETE FROM metric_summaries WHERE series_id = @Id", new { Id = seriesId }, cancellationToken).ConfigureAwait(false);
                    await WriteSlotsAsync(session, slots, cancellationToken).ConfigureAwait(false);
                    return await session.ExecuteAsync(
                        "DELETE FROM metric_summary_backlog WHERE series_id = @Id", new { Id = seriesId }, cancellationToken).ConfigureAwait(false);
                },
                cancellationToken).ConfigureAwait(false);
        }
    }

    public Task ScanSummarizedAsync(
        string parentId, string key, long fromStep, long toStep, IMetricSummaryScanner scanner, CancellationToken cancellationToken = default)
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

                if (scanner.Buckets > 0
                    && Plan(fromStep, toStep, first, last, scanner.Buckets) is { } plan
                    && (_backlogEmpty || !(await BacklogOfAsync(session, [seriesId], cancellationToken).ConfigureAwait(false)).Contains(seriesId)))
                {
                    var units = new List<(List<MetricPoint>? Points, List<MetricSummary>? Summaries)>(plan.Count);
                    long total = 0;
                    var numeric = true;
                    foreach (var segment in plan)
                    {
                        if (segment.Shift < 0)
                        {
                            var points = new List<MetricPoint>();
                            await ReadPointsAsync(session, seriesId, segment.From, segment.To, points.Add, cancellationToken).ConfigureAwait(false);
                            total += points.Count;
                            units.Add((points, null));
                        }
                        else
                        {
                            var summaries = await ReadSummariesAsync(session, seriesId, segment.Shift, segment.From, segment.To, cancellationToken).ConfigureAwait(false);
                            foreach (var bucket in summaries)
                            {
                                total += bucket.Summary.Count;
                                numeric &= bucket.Summary.IsNumeric;
                            }

                            units.Add((null, summaries.Select(bucket => bucket.Summary).ToList()));
                        }
                    }

                    // Tensors have no content in a summary, and a small range comes back whole: both need the points.
                    if (numeric && total > scanner.KeepsEveryPointUpTo)
                    {
                        scanner.Begin(first, last);
                        foreach (var (points, summaries) in units)
                        {
                            foreach (var point in points ?? [])
                            {
                                scanner.Add(point);
                            }

                            foreach (var summary in summaries ?? [])
                            {
                                scanner.AddSummary(summary);
                            }
                        }

                        return true;
                    }
                }

                scanner.Begin(first, last);
                await ReadPointsAsync(session, seriesId, fromStep, toStep, point => scanner.Add(point), cancellationToken).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    /// <summary>
    /// Cuts [<paramref name="from"/>, <paramref name="to"/>] into stored buckets: whole buckets of the coarsest resolution
    /// that spans at least <paramref name="minBuckets"/> buckets between the range's first and last point, whole buckets of
    /// finer resolutions toward the two edges, and raw points only in the finest partial bucket at either edge. Null when
    /// even the finest resolution spans too few buckets (the range is short: its points are read).
    /// </summary>
    internal static List<(int Shift, long From, long To)>? Plan(long from, long to, long first, long last, int minBuckets)
    {
        for (var level = ChartShifts.Length - 1; level >= 0; level--)
        {
            var shift = ChartShifts[level];
            if ((last >> shift) - (first >> shift) + 1 >= minBuckets)
            {
                var plan = new List<(int Shift, long From, long To)>();
                Cover(from, to, level, first, last, plan);
                return plan;
            }
        }

        return null;
    }

    private static void Cover(long from, long to, int level, long first, long last, List<(int Shift, long From, long To)> plan)
    {
        if (to < first || from > last)
        {
            return;
        }

        if (level < 0)
        {
            plan.Add((-1, Math.Max(from, first), Math.Min(to, last)));
            return;
        }

        // A bucket is whole when the range covers all its steps; steps between the range's edge and its first (or last)
        // point hold no point, so a bucket reaching past them is whole too.
        var shift = ChartShifts[level];
        var mask = (1L << shift) - 1;
        var firstWhole = (from >> shift) + ((from & mask) != 0 ? 1 : 0);
        var lastWhole = (to & mask) == mask ? to >> shift : (to >> shift) - 1;
        if (firstWhole > lastWhole)
        {
            Cover(from, to, level - 1, first, last, plan);
            return;
        }

        if ((from & mask) != 0)
        {
            Cover(from, (firstWhole << shift) - 1, level - 1, first, last, plan);
        }

        var (fromBucket, toBucket) = (Math.Max(firstWhole, first >> shift), Math.Min(lastWhole, last >> shift));
        if (fromBucket <= toBucket)
        {
            plan.Add((shift, fromBucket, toBucket));
        }

        if ((to & mask) != mask)
        {
            Cover((lastWhole + 1) << shift, to, level - 1, first, last, plan);
        }
    }

    private static async Task<List<MetricBucket>> ReadSummariesAsync(
        DbSession session, long seriesId, int shift, long fromBucket, long toBucket, CancellationToken cancellationToken)
    {
        await using var command = session.CreateCommand(
            $"SELECT bucket, {SummaryColumns} FROM metric_summaries WHERE series_id = @Series AND step_shift = @Shift AND bucket BETWEEN @From AND @To ORDER BY bucket");
        Add(command, "Series", seriesId);
        Add(command, "Shift", (long)shift);
        Add(command, "From", fromBucket);
        Add(command, "To", toBucket);
        var buckets = new List<MetricBucket>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var bucket = reader.GetInt64(0);
            var firstStep = shift == WholeSeriesShift ? 0 : bucket << shift;
            var lastStep = shift == WholeSeriesShift ? long.MaxValue : firstStep + ((1L << shift) - 1);
            buckets.Add(new MetricBucket(firstStep, lastStep, ReadSummary(reader, 1)));
        }

        return buckets;
    }

    public Task<IReadOnlyList<MetricBucket>> ReadBucketsAsync(
        string parentId, string key, int stepShift, long fromStep, long toStep, CancellationToken cancellationToken = default)
    {
        if (!AllShifts.Contains(stepShift) || toStep < fromStep)
        {
            return Task.FromResult<IReadOnlyList<MetricBucket>>([]);
        }

        return _database.ReadAsync<IReadOnlyList<MetricBucket>>(
            async session => await FindSeriesAsync(session, parentId, key, cancellationToken).ConfigureAwait(false) is { } seriesId
                ? await ReadSummariesAsync(session, seriesId, stepShift, fromStep >> stepShift, toStep >> stepShift, cancellationToken).ConfigureAwait(false)
                : [],
            cancellationToken);
    }

    public Task<IReadOnlyList<MetricSeriesSummary>> ReadSeriesSummariesAsync(
        IReadOnlyCollection<string> parentIds, IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parentIds);
        ArgumentNullException.ThrowIfNull(keys);
        if (parentIds.Count == 0)
        {
            return Task.FromResult<IReadOnlyList<MetricSeriesSummary>>([]);
        }

        return _database.ReadAsync<IReadOnlyList<MetricSeriesSummary>>(
            async session =>
            {
                var sql = new StringBuilder("SELECT s.parent_id, s.\"key\", ").Append(string.Join(", ", SummaryColumns.Split(", ").Select(c => "m." + c)))
                    .Append(" FROM metric_series s JOIN metric_summaries m ON m.series_id = s.id AND m.step_shift = ")
                    .Append(WholeSeriesShift).Append(" AND m.bucket = 0 WHERE s.parent_id IN (")
                    .AppendJoin(", ", Enumerable.Range(0, parentIds.Count).Select(i => $"@p{i}")).Append(')');
                if (keys.Count > 0)
                {
                    sql.Append(" AND s.\"key\" IN (").AppendJoin(", ", Enumerable.Range(0, keys.Count).Select(i => $"@k{i}")).Append(')');
                }

                sql.Append(" ORDER BY s.parent_id, s.\"key\"");
                await using var command = session.Connection.CreateCommand();
                command.Transaction = session.Transaction;
                command.CommandTimeout = session.Dialect.CommandTimeoutSeconds;
                command.CommandText = session.Dialect.SqlOnce(sql.ToString());
                var i = 0;
                foreach (var parentId in parentIds)
                {
                    Add(command, $"p{i++}", parentId);
                }

                i = 0;
                foreach (var key in keys)
                {
                    Add(command, $"k{i++}", key);
                }

                var result = new List<MetricSeriesSummary>();
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    result.Add(new MetricSeriesSummary(reader.GetString(0), reader.GetString(1), ReadSummary(reader, 2)));
                }

                return result;
            },
            cancellationToken);
    }

    public Task<(long FromStep, long ToStep)?> FindStepsBetweenTimesAsync(
        string parentId, string key, long fromSeconds, long toSeconds, CancellationToken cancellationToken = default) =>
        _database.ReadAsync<(long FromStep, long ToStep)?>(
            async session =>
            {
                if (toSeconds < fromSeconds || await FindSeriesAsync(session, parentId, key, cancellationToken).ConfigureAwait(false) is not { } seriesId)
                {
                    return null;
                }

                // The finest buckets find the edge bucket (a bucket's last point is its latest), its points the edge step.
                var shift = ChartShifts[0];
                var parameters = new { Series = seriesId, Shift = (long)shift, From = fromSeconds, To = toSeconds };
                var firstBucket = await session.ScalarAsync<long?>(
                    "SELECT MIN(bucket) FROM metric_summaries WHERE series_id = @Series AND step_shift = @Shift AND last_time >= @From",
                    parameters, cancellationToken).ConfigureAwait(false);
                var lastBucket = await session.ScalarAsync<long?>(
                    "SELECT MAX(bucket) FROM metric_summaries WHERE series_id = @Series AND step_shift = @Shift AND first_time <= @To",
                    parameters, cancellationToken).ConfigureAwait(false);
                if (firstBucket is not { } fromBucket || lastBucket is not { } toBucket)
                {
                    return null;
                }

                var fromStep = await session.ScalarAsync<long?>(
                    "SELECT MIN(step) FROM metric_points WHERE series_id = @Series AND step BETWEEN @Low AND @High AND \"time\" >= @From",
                    new { Series = seriesId, Low = fromBucket << shift, High = (fromBucket << shift) + ((1L << shift) - 1), From = fromSeconds },
                    cancellationToken).ConfigureAwait(false);
                var toStep = await session.ScalarAsync<long?>(
                    "SELECT MAX(step) FROM metric_points WHERE series_id = @Series AND step BETWEEN @Low AND @High AND \"time\" <= @To",
                    new { Series = seriesId, Low = toBucket << shift, High = (toBucket << shift) + ((1L << shift) - 1), To = toSeconds },
                    cancellationToken).ConfigureAwait(false);
                return fromStep is { } from && toStep is { } to && from <= to ? (from, to) : null;
            },
            cancellationToken);
}
