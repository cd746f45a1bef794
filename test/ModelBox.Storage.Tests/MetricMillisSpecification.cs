using ModelBox.Domain;

namespace ModelBox.Storage.Tests;

/// <summary>Milliseconds of metric points (migration 13): kept by every write path and returned by every read path.</summary>
public abstract partial class MetricStoreSpecification
{
    private static MetricPoint AtMillis(long step, long unixMillis, double value) => MetricPoint.OfDoubleAtMillis(step, unixMillis, value);

    [Fact]
    public async Task Milliseconds_of_a_point_round_trip_through_every_read()
    {
        const long t = 1_714_564_800_000;
        // Enough points for PostgreSQL's COPY path as well as the multi-row INSERTs of short batches.
        var many = Enumerable.Range(0, 3_000).Select(i => AtMillis(i, t + (i * 7), i)).ToArray();
        await Store.AppendAsync([new MetricSeriesPoints(Run, "long", many)]);
        await Store.AppendAsync([new MetricSeriesPoints(Run, "short", [AtMillis(0, t + 1, 1), AtMillis(1, t + 999, 2), AtMillis(2, t + 1000, 3)])]);

        var all = await Store.ReadAllAsync(Run);
        Assert.Equal(many.Select(p => p.WallclockMillis), all.Single(s => s.Key == "long").Points.Select(p => p.WallclockMillis));
        Assert.Equal([t + 1, t + 999, t + 1000], all.Single(s => s.Key == "short").Points.Select(p => p.WallclockMillis));
        Assert.Equal([t / 1000, t / 1000, (t / 1000) + 1], all.Single(s => s.Key == "short").Points.Select(p => p.WallclockSeconds));

        var latest = await Store.ReadLatestAsync(Run);
        Assert.Equal(t + (2_999 * 7), latest.Single(s => s.Key == "long").Points.Single().WallclockMillis);
        var page = await Store.ReadPageAsync(Run, "short", new PageRequest(2, null));
        Assert.Equal([t + 1, t + 999], page.Items.Select(p => p.WallclockMillis));
        var scanned = new List<MetricPoint>();
        await Store.ScanAsync(Run, "long", 10, 12, new CollectingScanner(scanned));
        Assert.Equal([t + 70, t + 77, t + 84], scanned.Select(p => p.WallclockMillis));
    }

    [Fact]
    public async Task Points_that_differ_only_in_milliseconds_are_distinct_and_a_content_batch_skips_stored_points()
    {
        const long t = 1_714_564_800_000;
        Assert.Equal(1, await Store.AppendDistinctAsync([new MetricSeriesPoints(Run, "loss", [AtMillis(0, t + 10, 1)])]));
        Assert.Equal(1, await Store.AppendDistinctAsync([new MetricSeriesPoints(Run, "loss", [AtMillis(0, t + 20, 1)])]));
        Assert.Equal(0, await Store.AppendDistinctAsync([new MetricSeriesPoints(Run, "loss", [AtMillis(0, t + 20, 1)])]));

        // A new batch id whose batch overlaps stored points stores only the new ones when asked to skip them.
        Assert.Equal(1, await Store.AppendOnceAsync("content-1", [new MetricSeriesPoints(Run, "loss", [AtMillis(0, t + 20, 1), AtMillis(1, t + 30, 2)])], skipStoredPoints: true));
        Assert.Equal(1, await Store.AppendOnceAsync("content-1", [new MetricSeriesPoints(Run, "loss", [AtMillis(0, t + 20, 1), AtMillis(1, t + 30, 2)])], skipStoredPoints: true));
        var points = Assert.Single(await Store.ReadAllAsync(Run)).Points;
        Assert.Equal([t + 10, t + 20, t + 30], points.Select(p => p.WallclockMillis));
    }

    private sealed class CollectingScanner(List<MetricPoint> points) : ModelBox.Domain.Storage.IMetricPointScanner
    {
        public void Begin(long firstStep, long lastStep)
        {
        }

        public void Add(in MetricPoint point) => points.Add(point);
    }
}
