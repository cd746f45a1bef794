using ModelBox.Domain;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.Tests;

/// <summary>
/// The behaviour every <see cref="IMetricStore"/> backend must show. A backend's test class subclasses this with its factory. Parents are plain ids here: checking that they exist is the domain's job.
/// </summary>
public abstract partial class MetricStoreSpecification : StoreSpecification
{
    protected const string Run = "exp-run";
    protected const string OtherRun = "exp-other";
    private const long T = 1_714_564_800;

    protected IMetricStore Store => Backend.Metrics!;

    [Fact]
    public async Task Keys_that_differ_only_in_case_or_trailing_spaces_are_different_series()
    {
        string[] keys = ["loss", "loss ", "Loss", "loss  "];
        for (var i = 0; i < keys.Length; i++)
        {
            await Store.AppendAsync([new MetricSeriesPoints(Run, keys[i], [MetricPoint.OfDouble(i, T, i)])]);
        }

        var series = await Store.ReadAllAsync(Run);
        Assert.Equal(keys.Order(StringComparer.Ordinal), series.Select(s => s.Key).Order(StringComparer.Ordinal));
        for (var i = 0; i < keys.Length; i++)
        {
            Assert.Equal(i, Assert.Single(Assert.Single(series, s => s.Key == keys[i]).Points).Number);
        }
    }

    [Fact]
    public async Task Every_value_kind_round_trips_including_nan_and_infinities()
    {
        MetricPoint[] points =
        [
            MetricPoint.OfFloat(0, T, 0.1f),
            MetricPoint.OfFloat(1, T, float.NaN),
            MetricPoint.OfFloat(2, T, float.PositiveInfinity),
            MetricPoint.OfFloat(3, T, float.NegativeInfinity),
            MetricPoint.OfDouble(4, T, 0.1),
            MetricPoint.OfDouble(5, T, double.NaN),
            MetricPoint.OfDouble(6, T, double.PositiveInfinity),
            MetricPoint.OfDouble(7, T, double.NegativeInfinity),
            MetricPoint.OfDouble(8, T, double.Epsilon),
            MetricPoint.OfString(9, T, "[[1, 2], [3, 4]] ✓"),
            MetricPoint.OfString(10, T, ""),
            MetricPoint.OfBytes(11, T, [0, 1, 2, 255]),
            MetricPoint.OfBytes(12, T, []),
            MetricPoint.OfDouble(13, T, double.MaxValue),
            MetricPoint.OfDouble(14, T, -1.0 / 3),
            MetricPoint.OfDouble(15, T, 0.1 + 0.2),
            MetricPoint.OfDouble(16, T, -double.Epsilon),
        ];

        var stored = await Store.AppendAsync([new MetricSeriesPoints(Run, "mixed", points)]);
        var series = Assert.Single(await Store.ReadAllAsync(Run));

        Assert.Equal(points.Length, stored);
        Assert.Equal("mixed", series.Key);
        AssertSamePoints(points, series.Points);
    }

    [Fact]
    public async Task Points_come_back_by_step_then_time_then_arrival_whatever_the_logging_order()
    {
        MetricPoint[] logged =
        [
            MetricPoint.OfDouble(5, T + 1, 1),
            MetricPoint.OfDouble(2, T + 9, 2),
            MetricPoint.OfDouble(5, T, 3),
            MetricPoint.OfDouble(2, T + 9, 4),
            MetricPoint.OfDouble(0, T + 50, 5),
        ];

        await Store.AppendAsync([new MetricSeriesPoints(Run, "loss", logged[..3])]);
        await Store.AppendAsync([new MetricSeriesPoints(Run, "loss", logged[3..])]);

        var series = Assert.Single(await Store.ReadAllAsync(Run));
        Assert.Equal([5.0, 2, 4, 3, 1], series.Points.Select(p => p.Number));
    }

    [Fact]
    public async Task The_same_point_logged_twice_is_two_points()
    {
        var point = MetricPoint.OfFloat(1, T, 0.5f);

        await Store.AppendAsync([new MetricSeriesPoints(Run, "loss", [point])]);
        await Store.AppendAsync([new MetricSeriesPoints(Run, "loss", [point])]);

        Assert.Equal(2, Assert.Single(await Store.ReadAllAsync(Run)).Points.Count);
    }

    [Fact]
    public async Task Read_all_returns_every_key_of_the_parent_by_key_and_nothing_of_other_parents()
    {
        await Store.AppendAsync(
        [
            new MetricSeriesPoints(Run, "val/loss", [MetricPoint.OfFloat(0, T, 1)]),
            new MetricSeriesPoints(OtherRun, "loss", [MetricPoint.OfFloat(0, T, 9)]),
            new MetricSeriesPoints(Run, "accuracy", [MetricPoint.OfFloat(0, T, 2), MetricPoint.OfFloat(1, T, 3)]),
            new MetricSeriesPoints(Run, "Loss", [MetricPoint.OfFloat(0, T, 4)]),
        ]);

        var all = await Store.ReadAllAsync(Run);

        Assert.Equal(["Loss", "accuracy", "val/loss"], all.Select(s => s.Key));
        Assert.Equal([2.0, 3.0], all[1].Points.Select(p => p.Number));
        Assert.Empty(await Store.ReadAllAsync("exp-nothing-logged"));
    }

    [Fact]
    public async Task Concurrent_appends_are_all_stored_once_acknowledged()
    {
        const int Writers = 16;
        const int Batches = 20;
        const int PointsPerBatch = 50;

        var tasks = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            long stored = 0;
            for (var b = 0; b < Batches; b++)
            {
                var points = Enumerable.Range(0, PointsPerBatch)
                    .Select(i => MetricPoint.OfDouble((b * PointsPerBatch) + i, T, w)).ToArray();
                stored += await Store.AppendAsync(
                [
                    new MetricSeriesPoints(Run, $"writer-{w % 4}", points),
                    new MetricSeriesPoints(OtherRun, "shared", points),
                ]);
            }

            return stored;
        })).ToArray();
        var acknowledged = (await Task.WhenAll(tasks)).Sum();

        var run = await Store.ReadAllAsync(Run);
        var other = await Store.ReadAllAsync(OtherRun);
        Assert.Equal(Writers * Batches * PointsPerBatch * 2, acknowledged);
        Assert.Equal(4, run.Count);
        Assert.All(run, s => Assert.Equal(Writers / 4 * Batches * PointsPerBatch, s.Points.Count));
        Assert.Equal(Writers * Batches * PointsPerBatch, Assert.Single(other).Points.Count);
        Assert.All(run.Concat(other), s => Assert.Equal(s.Points.OrderBy(p => p.Step).Select(p => p.Step), s.Points.Select(p => p.Step)));
    }

    [Fact]
    public async Task A_batch_larger_than_one_write_group_is_stored_whole()
    {
        var points = Enumerable.Range(0, 150_000).Select(i => MetricPoint.OfFloat(i, T, i)).ToArray();

        Assert.Equal(points.Length, await Store.AppendAsync([new MetricSeriesPoints(Run, "long", points)]));

        var scanned = new RecordingScanner();
        await Store.ScanAsync(Run, "long", 0, long.MaxValue, scanned);
        Assert.Equal(points.Length, scanned.Points.Count);
        Assert.Equal((0L, 149_999L), scanned.Bounds);
    }

    [Fact]
    public async Task Scan_streams_the_step_range_inclusive_after_announcing_its_first_and_last_step()
    {
        await Store.AppendAsync([new MetricSeriesPoints(Run, "loss",
            Enumerable.Range(0, 100).Select(i => MetricPoint.OfDouble(i * 10, T, i)).ToArray())]);
        var scanner = new RecordingScanner();

        await Store.ScanAsync(Run, "loss", 15, 50, scanner);

        Assert.Equal((20L, 50L), scanner.Bounds);
        Assert.Equal([20L, 30, 40, 50], scanner.Points.Select(p => p.Step));
    }

    [Fact]
    public async Task Scan_of_an_empty_range_or_unknown_series_calls_nothing()
    {
        await Store.AppendAsync([new MetricSeriesPoints(Run, "loss", [MetricPoint.OfDouble(5, T, 1)])]);

        var emptyRange = new RecordingScanner();
        var unknownKey = new RecordingScanner();
        var unknownParent = new RecordingScanner();
        await Store.ScanAsync(Run, "loss", 6, 100, emptyRange);
        await Store.ScanAsync(Run, "accuracy", 0, long.MaxValue, unknownKey);
        await Store.ScanAsync(OtherRun, "loss", 0, long.MaxValue, unknownParent);

        Assert.All([emptyRange, unknownKey, unknownParent], s =>
        {
            Assert.Null(s.Bounds);
            Assert.Empty(s.Points);
        });
    }

    [Fact]
    public async Task Pages_of_raw_points_follow_each_other_without_gap_or_repeat()
    {
        // Repeated (step, time) pairs: the page boundary must fall between twins without losing one.
        var points = Enumerable.Range(0, 25).Select(i => MetricPoint.OfDouble(i / 3, T, i)).ToArray();
        await Store.AppendAsync([new MetricSeriesPoints(Run, "loss", points)]);

        var read = new List<MetricPoint>();
        var pages = 0;
        string? token = null;
        do
        {
            var page = await Store.ReadPageAsync(Run, "loss", new PageRequest(10, token));
            read.AddRange(page.Items);
            token = page.NextPageToken;
            pages++;
        }
        while (token is not null);

        Assert.Equal(3, pages);
        Assert.Equal(points.Select(p => p.Number), read.Select(p => p.Number));
    }

    [Fact]
    public async Task An_exact_last_page_has_no_next_token_and_an_unknown_series_is_one_empty_page()
    {
        await Store.AppendAsync([new MetricSeriesPoints(Run, "loss", Enumerable.Range(0, 4).Select(i => MetricPoint.OfDouble(i, T, i)).ToArray())]);

        var all = await Store.ReadPageAsync(Run, "loss", new PageRequest(4, null));
        var none = await Store.ReadPageAsync(Run, "nothing", new PageRequest(4, null));

        Assert.Equal(4, all.Items.Count);
        Assert.Null(all.NextPageToken);
        Assert.Empty(none.Items);
        Assert.Null(none.NextPageToken);
    }

    [Fact]
    public async Task A_malformed_page_token_is_invalid_argument()
    {
        var error = await Assert.ThrowsAsync<ModelBoxException>(() =>
            Store.ReadPageAsync(Run, "loss", new PageRequest(10, PageTokens.Encode("not-a-number", "1", "2"))));

        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Contains(new InputName("page token"), error.Text.Inputs);
    }

    protected static void AssertSamePoints(IReadOnlyList<MetricPoint> expected, IReadOnlyList<MetricPoint> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            var (e, a) = (expected[i], actual[i]);
            Assert.Equal(e.Step, a.Step);
            Assert.Equal(e.WallclockSeconds, a.WallclockSeconds);
            Assert.Equal(e.Kind, a.Kind);
            // Bit for bit: NaN equals NaN, and 0.1f stays the float 0.1f.
            Assert.Equal(BitConverter.DoubleToInt64Bits(e.Number), BitConverter.DoubleToInt64Bits(a.Number));
            Assert.Equal(e.Text, a.Text);
            Assert.Equal(e.Bytes, a.Bytes);
        }
    }

    protected sealed class RecordingScanner : IMetricPointScanner
    {
        public (long First, long Last)? Bounds { get; private set; }

        public List<MetricPoint> Points { get; } = [];

        public void Begin(long firstStep, long lastStep) => Bounds = (firstStep, lastStep);

        public void Add(in MetricPoint point) => Points.Add(point);
    }

    [Fact]
    public async Task Appending_distinct_points_stores_a_repeated_batch_once_and_new_points_beside_it()
    {
        MetricPoint[] points = [MetricPoint.OfDouble(0, T, 0.5), MetricPoint.OfDouble(1, T, double.NaN), MetricPoint.OfDouble(1, T + 1, 0.25)];
        Assert.Equal(3, await Store.AppendDistinctAsync([new MetricSeriesPoints(Run, "loss", points)]));
        Assert.Equal(0, await Store.AppendDistinctAsync([new MetricSeriesPoints(Run, "loss", points)]));

        // Same step and time with another value, and a new step, are new points; an equal point of another run is not a repeat.
        var stored = await Store.AppendDistinctAsync(
        [
            new MetricSeriesPoints(Run, "loss", [MetricPoint.OfDouble(0, T, 0.75), MetricPoint.OfDouble(2, T, 0.5), points[0]]),
            new MetricSeriesPoints(OtherRun, "loss", [points[0]]),
        ]);
        Assert.Equal(3, stored);
        var series = Assert.Single(await Store.ReadAllAsync(Run));
        Assert.Equal([0L, 0L, 1L, 1L, 2L], series.Points.Select(p => p.Step));
        Assert.Single(await Store.ReadAllAsync(OtherRun));
    }

    [Fact]
    public async Task The_latest_point_of_each_series_is_the_highest_step_then_the_latest_time()
    {
        await Store.AppendAsync(
        [
            new MetricSeriesPoints(Run, "loss", [MetricPoint.OfDouble(5, T + 9, 1), MetricPoint.OfDouble(7, T, 2), MetricPoint.OfDouble(7, T + 1, 3)]),
            new MetricSeriesPoints(Run, "acc", [MetricPoint.OfDouble(0, T, double.PositiveInfinity)]),
            new MetricSeriesPoints(OtherRun, "loss", [MetricPoint.OfDouble(99, T, 9)]),
        ]);
        var latest = await Store.ReadLatestAsync(Run);
        Assert.Equal(["acc", "loss"], latest.Select(s => s.Key));
        Assert.Equal(double.PositiveInfinity, Assert.Single(latest[0].Points).Number);
        Assert.Equal(3, Assert.Single(latest[1].Points).Number);
        Assert.Empty(await Store.ReadLatestAsync("exp-none"));
    }
}
