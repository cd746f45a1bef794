using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Storage;
using ModelBox.Storage.Relational;

namespace ModelBox.Storage.Tests;

/// <summary>
/// Metric summaries: kept exact at ingest whatever the order, repetition and values of the points, checked against a
/// brute-force computation over the raw points the store returns.
/// </summary>
public abstract partial class MetricStoreSpecification
{
    private const long T0 = 1_714_564_800;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Summaries_of_random_series_equal_a_brute_force_computation_over_their_points(int seed)
    {
        var random = new Random(seed);
        // Steps over a few top-level buckets, in random batches: out of order, repeated steps, repeated (step, time).
        var span = random.Next(2_000, 300_000);
        var batches = random.Next(3, 12);
        for (var b = 0; b < batches; b++)
        {
            var points = Enumerable.Range(0, random.Next(1, 3_000)).Select(_ => RandomPoint(random, span)).ToArray();
            // Sometimes the same series twice in one batch, and another series beside it.
            var cut = random.Next(points.Length + 1);
            await Store.AppendAsync(
            [
                new MetricSeriesPoints(Run, "loss", points[..cut]),
                new MetricSeriesPoints(OtherRun, "loss", points[..Math.Min(cut, 10)]),
                new MetricSeriesPoints(Run, "loss", points[cut..]),
            ]);
        }

        var raw = await AssertBucketsMatchPointsAsync(Store);

        // Downsampled reads of random ranges: in order, every point accounted for, the range's extremes kept.
        for (var r = 0; r < 10; r++)
        {
            var (from, to) = (random.Next(span / 2), random.Next(span / 2, span + 10));
            var inRange = raw.Where(p => p.Step >= from && p.Step <= to).ToList();
            var scanner = new RecordingSummaryScanner(buckets: random.Next(1, 60), keepUpTo: 100);
            await Store.ScanSummarizedAsync(Run, "loss", from, to, scanner);
            if (inRange.Count == 0)
            {
                Assert.Null(scanner.Bounds);
                continue;
            }

            Assert.Equal((inRange[0].Step, inRange[^1].Step), scanner.Bounds);
            Assert.Equal(inRange.Count, scanner.Units.Sum(u => u.Count));
            var whole = BruteForce(inRange);
            var fromUnits = Combine(scanner.Units);
            AssertSummary(whole, fromUnits, $"range {from}..{to}");
        }
    }

    [Fact]
    public async Task A_chart_read_hands_over_every_stored_summary_exactly()
    {
        // Times past 2^31 seconds (year 2038) and at 0 beside ordinary ones, NaN and infinities, several points per step:
        // a chart read must hand over exactly what the store keeps, the summaries a plain bucket read returns (a guard for
        // any faster way of reading them).
        var random = new Random(5);
        var points = Enumerable.Range(0, 6_000).Select(i =>
        {
            var step = i / 2;
            var time = (step / 64 % 3) switch { 0 => T0 + i, 1 => 4_102_444_800L + i, _ => i % 2 == 0 ? 0 : T0 };
            var value = (i % 97) switch { 0 => double.NaN, 1 => double.PositiveInfinity, 2 => double.NegativeInfinity, _ => random.NextDouble() * 100 };
            return MetricPoint.OfDouble(step, time, value);
        }).ToArray();
        await Store.AppendAsync([new MetricSeriesPoints(Run, "loss", points)]);

        var scanner = new RecordingSummaryScanner(buckets: 40, keepUpTo: 100);
        await Store.ScanSummarizedAsync(Run, "loss", 0, 2_999, scanner);

        var stored = await Store.ReadBucketsAsync(Run, "loss", 6, 0, 2_943); // the last bucket (2,944..3,071) is cut: its points are read
        var handed = scanner.Units.Where(u => !u.IsPoint).Select(u => u.Summary).ToList();
        Assert.Equal(stored.Count, handed.Count);
        Assert.Contains(stored, b => b.Summary.First.WallclockSeconds > int.MaxValue);
        for (var i = 0; i < stored.Count; i++)
        {
            AssertSummary(stored[i].Summary, handed[i], $"bucket {stored[i].FirstStep >> 6}");
        }

        Assert.Equal(points.Length, scanner.Units.Sum(u => u.Count));
    }

    [Fact]
    public async Task A_late_point_and_a_relogged_step_update_the_summaries_exactly()
    {
        await Store.AppendAsync([new MetricSeriesPoints(Run, "loss", Enumerable.Range(100, 100).Select(i => MetricPoint.OfDouble(i, T0 + i, i)).ToArray())]);
        // Earlier steps arrive later; step 150 is logged again lower, step 120 again higher, at the same time as before.
        await Store.AppendAsync([new MetricSeriesPoints(Run, "loss",
        [
            MetricPoint.OfDouble(5, T0, 500),
            MetricPoint.OfDouble(150, T0 + 150, -1),
            MetricPoint.OfDouble(120, T0 + 120, 1e6),
        ])]);

        var whole = Assert.Single(await Store.ReadBucketsAsync(Run, "loss", 63, 0, long.MaxValue)).Summary;
        var bucket128 = Assert.Single(await Store.ReadBucketsAsync(Run, "loss", 6, 128, 191)).Summary;

        Assert.Equal(103, whole.Count);
        Assert.Equal(5, whole.First.Step);
        Assert.Equal(500, whole.First.Number);
        Assert.Equal(199, whole.Last.Step);
        Assert.Equal((150L, -1.0), (whole.Min.Step, whole.Min.Number));
        Assert.Equal((120L, 1e6), (whole.Max.Step, whole.Max.Number));
        Assert.Equal(Enumerable.Range(100, 100).Sum() + 500 - 1 + 1e6, whole.Sum);
        Assert.Equal(65, bucket128.Count);
        Assert.Equal((150L, -1.0), (bucket128.Min.Step, bucket128.Min.Number));
        Assert.Equal(191, bucket128.Last.Step);
    }

    [Fact]
    public async Task Nan_and_infinities_stay_visible_in_summaries_and_a_tensor_is_counted()
    {
        await Store.AppendAsync([new MetricSeriesPoints(Run, "loss",
        [
            MetricPoint.OfFloat(0, T0, 1),
            MetricPoint.OfFloat(1, T0, float.NegativeInfinity),
            MetricPoint.OfDouble(2, T0, double.NaN),
            MetricPoint.OfDouble(3, T0, double.PositiveInfinity),
            MetricPoint.OfString(4, T0, "[1, 2]"),
        ])]);

        var summary = Assert.Single(await Store.ReadBucketsAsync(Run, "loss", 6, 0, 63)).Summary;

        Assert.Equal((5L, 4L, 1L), (summary.Count, summary.NumericCount, summary.NanCount));
        Assert.Equal(1, summary.Sum);
        Assert.Equal(MetricPoint.OfFloat(1, T0, float.NegativeInfinity), summary.Min);
        Assert.True(double.IsNaN(summary.Max.Number));
        Assert.Equal(2, summary.Max.Step);
        Assert.Equal(MetricValueKind.StringTensor, summary.Last.Kind);
        Assert.Equal(4, summary.Last.Step);
        Assert.False(summary.IsNumeric);
    }

    [Fact]
    public async Task Series_summaries_give_count_last_min_and_max_of_many_parents_by_parent_and_key()
    {
        await Store.AppendAsync(
        [
            new MetricSeriesPoints(Run, "loss", [MetricPoint.OfDouble(0, T0, 3), MetricPoint.OfDouble(1, T0, 1), MetricPoint.OfDouble(2, T0, 2)]),
            new MetricSeriesPoints(Run, "accuracy", [MetricPoint.OfDouble(0, T0, 0.5)]),
            new MetricSeriesPoints(OtherRun, "loss", [MetricPoint.OfDouble(7, T0, 9)]),
            new MetricSeriesPoints("exp-third", "loss", [MetricPoint.OfDouble(7, T0, 9)]),
        ]);

        var losses = await Store.ReadSeriesSummariesAsync([Run, OtherRun, "exp-nothing"], ["loss"]);
        var all = await Store.ReadSeriesSummariesAsync([Run], []);

        Assert.Equal([(OtherRun, "loss"), (Run, "loss")], losses.Select(s => (s.ParentId, s.Key)).Order());
        var loss = losses.Single(s => s.ParentId == Run).Summary;
        Assert.Equal((3L, 2.0, 1.0, 3.0), (loss.Count, loss.Last.Number, loss.Min.Number, loss.Max.Number));
        Assert.Equal(["accuracy", "loss"], all.Select(s => s.Key));
        Assert.Empty(await Store.ReadSeriesSummariesAsync(["exp-nothing"], []));
    }

    [Fact]
    public async Task A_long_series_is_read_from_summaries_and_its_partial_edges_from_points()
    {
        await Store.AppendAsync([new MetricSeriesPoints(Run, "loss",
            Enumerable.Range(0, 100_000).Select(i => MetricPoint.OfDouble(i, T0, i == 54_321 ? 1e9 : i % 1000)).ToArray())]);
        var scanner = new RecordingSummaryScanner(buckets: 499, keepUpTo: 1000);

        await Store.ScanSummarizedAsync(Run, "loss", 17, 99_990, scanner);

        Assert.Equal((17L, 99_990L), scanner.Bounds);
        Assert.Equal(99_974, scanner.Units.Sum(u => u.Count));
        // Raw points only inside the finest partial bucket at either edge; everything between comes as summaries.
        Assert.InRange(scanner.Units.Count(u => u.Count == 1 && u.IsPoint), 1, 2 * 63);
        Assert.InRange(scanner.Units.Count(u => !u.IsPoint), 499, 100_000 / 64);
        var max = Combine(scanner.Units).Max;
        Assert.Equal((54_321L, 1e9), (max.Step, max.Number));
    }

    [Fact]
    public async Task Resolutions_a_series_lacks_are_rebuilt_from_its_finest_buckets_exactly()
    {
        var random = new Random(21);
        for (var b = 0; b < 6; b++)
        {
            await Store.AppendAsync([new MetricSeriesPoints(Run, "loss", Enumerable.Range(0, 2_000).Select(_ => RandomPoint(random, 300_000)).ToArray())]);
        }

        var replica = Factory.OpenReplica(new InProcessChangeSignal());
        try
        {
            // What migration 14 finds in a database written before it: no buckets of 2^8, 2^12 and 2^16 steps, and the
            // migration puts every series in the backlog. The rebuild merges the finest buckets (it reads no point then).
            await replica.WriteAsync(session => session.ExecuteAsync("DELETE FROM metric_summaries WHERE step_shift IN (8, 12, 16)", null, default), default);
            await replica.WriteAsync(session => session.ExecuteAsync("INSERT INTO metric_summary_backlog (series_id) SELECT id FROM metric_series", null, default), default);

            await RelationalMetricStore.BuildSummaryBacklogAsync(replica, default);

            Assert.Contains(8, Store.SummaryStepShifts);
            await AssertBucketsMatchPointsAsync(Store);
        }
        finally
        {
            await ((IAsyncDisposable)replica.Dialect).DisposeAsync();
        }
    }

    /// <summary>Every stored bucket of <see cref="Run"/>'s "loss", at every resolution, equals a brute-force summary of its points.</summary>
    private static async Task<IReadOnlyList<MetricPoint>> AssertBucketsMatchPointsAsync(IMetricStore store)
    {
        var raw = Assert.Single(await store.ReadAllAsync(Run)).Points;
        foreach (var shift in store.SummaryStepShifts)
        {
            var buckets = await store.ReadBucketsAsync(Run, "loss", shift, 0, long.MaxValue);
            var expected = raw.GroupBy(p => p.Step >> shift).OrderBy(g => g.Key).ToList();
            Assert.Equal(expected.Count, buckets.Count);
            for (var i = 0; i < expected.Count; i++)
            {
                Assert.Equal(shift == 63 ? 0 : expected[i].Key << shift, buckets[i].FirstStep);
                AssertSummary(BruteForce(expected[i].ToList()), buckets[i].Summary, $"shift {shift} bucket {expected[i].Key}");
            }
        }

        return raw;
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    public async Task Two_replicas_appending_to_one_series_in_turns_and_at_once_keep_its_summaries_exact(int seed)
    {
        // Each store remembers the newest buckets it wrote; the other replica's appends must make it read them again.
        var replica = Factory.OpenReplica(new InProcessChangeSignal());
        try
        {
            IMetricStore[] stores = [Store, new RelationalMetricStore(replica)];
            var random = new Random(seed);
            const int Span = 20_000;
            for (var round = 0; round < 12; round++)
            {
                // Mostly growing steps (the cached path), sometimes late ones (a read of older buckets); values in quarters, so
                // that sums are exact in any order.
                MetricPoint[] Batch(int size, int from) => Enumerable.Range(0, size)
                    .Select(i => random.Next(8) == 0 ? RandomPoint(random, Span) : MetricPoint.OfDouble(from + i, T0 + i, random.Next(-4_000, 4_000) / 4.0))
                    .ToArray();
                var start = round * 400;
                if (round % 3 == 2)
                {
                    var (a, b) = (Batch(200, start), Batch(200, start + 200));
                    await Task.WhenAll(
                        stores[0].AppendAsync([new MetricSeriesPoints(Run, "loss", a)]),
                        stores[1].AppendAsync([new MetricSeriesPoints(Run, "loss", b)]));
                }
                else
                {
                    await stores[round % 2].AppendAsync([new MetricSeriesPoints(Run, "loss", Batch(400, start))]);
                }
            }

            await AssertBucketsMatchPointsAsync(Store);
        }
        finally
        {
            await ((IAsyncDisposable)replica.Dialect).DisposeAsync();
        }
    }

    private static MetricPoint RandomPoint(Random random, int span)
    {
        var step = random.Next(10) == 0 ? random.Next(span / 100 + 1) * 100 : random.Next(span);
        var time = T0 + random.Next(3);
        var value = random.Next(20) switch
        {
            0 => double.NaN,
            1 => double.PositiveInfinity,
            2 => double.NegativeInfinity,
            3 => -0.0,
            _ => random.Next(-400, 400) / 4.0,
        };
        return random.Next(2) == 0 ? MetricPoint.OfFloat(step, time, (float)value) : MetricPoint.OfDouble(step, time, value);
    }

    /// <summary>The summary by its definition, from points in series order (as the store returns them).</summary>
    private static MetricSummary BruteForce(List<MetricPoint> points)
    {
        var numbers = points.Where(p => p.IsNumeric).ToList();
        MetricPoint Extreme(int sign) => numbers.Aggregate((best, p) => sign * MetricSummary.CompareValues(p.Number, best.Number) > 0 ? p : best);
        return new MetricSummary(
            points.Count,
            numbers.Count,
            numbers.Count(p => double.IsNaN(p.Number)),
            numbers.Where(p => double.IsFinite(p.Number)).Sum(p => p.Number),
            points[0],
            points[^1],
            numbers.Count == 0 ? default : Extreme(-1),
            numbers.Count == 0 ? default : Extreme(1));
    }

    /// <summary>The summary of consecutive units (summaries and single points) in series order, by definition.</summary>
    private static MetricSummary Combine(List<Unit> units)
    {
        var candidates = units.SelectMany(u => new[] { u.Summary.First, u.Summary.Min, u.Summary.Max, u.Summary.Last }.Where(p => p.IsNumeric)).ToList();
        MetricPoint Extreme(int sign) => candidates.Aggregate((best, p) => sign * MetricSummary.CompareValues(p.Number, best.Number) > 0 ? p : best);
        return new MetricSummary(
            units.Sum(u => u.Count),
            units.Sum(u => u.Summary.NumericCount),
            units.Sum(u => u.Summary.NanCount),
            units.Sum(u => u.Summary.Sum),
            units[0].Summary.First,
            units[^1].Summary.Last,
            Extreme(-1),
            Extreme(1));
    }

    private static void AssertSummary(MetricSummary expected, MetricSummary actual, string where)
    {
        Assert.True(
            (expected.Count, expected.NumericCount, expected.NanCount, expected.Sum) == (actual.Count, actual.NumericCount, actual.NanCount, actual.Sum),
            $"{where}: counts and sum {expected} != {actual}");
        AssertPoint(expected.First, actual.First, where + " first");
        AssertPoint(expected.Last, actual.Last, where + " last");
        AssertPoint(expected.Min, actual.Min, where + " min");
        AssertPoint(expected.Max, actual.Max, where + " max");
    }

    private static void AssertPoint(MetricPoint expected, MetricPoint actual, string where) =>
        Assert.True(
            expected.Step == actual.Step && expected.WallclockSeconds == actual.WallclockSeconds && expected.Kind == actual.Kind
                && (expected.Number.Equals(actual.Number) || (double.IsNaN(expected.Number) && double.IsNaN(actual.Number))),
            $"{where}: expected {expected}, got {actual}");

    private sealed record Unit(bool IsPoint, MetricSummary Summary)
    {
        public long Count => Summary.Count;
    }

    private sealed class RecordingSummaryScanner(int buckets, int keepUpTo) : IMetricSummaryScanner
    {
        public (long First, long Last)? Bounds { get; private set; }

        public List<Unit> Units { get; } = [];

        public int Buckets => buckets;

        public int KeepsEveryPointUpTo => keepUpTo;

        public void Begin(long firstStep, long lastStep) => Bounds = (firstStep, lastStep);

        public void Add(in MetricPoint point) => Units.Add(new Unit(true, MetricSummary.Of([point])));

        public void AddSummary(in MetricSummary summary) => Units.Add(new Unit(false, summary));
    }
}
