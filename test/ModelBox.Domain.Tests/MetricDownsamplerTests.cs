namespace ModelBox.Domain.Tests;

public sealed class MetricDownsamplerTests
{
    [Fact]
    public void A_long_series_keeps_first_last_spikes_and_nan_within_the_limit_in_order()
    {
        var downsampler = Scan(100, Enumerable.Range(0, 100_000).Select(i =>
            MetricPoint.OfDouble(i, 0, i == 777 ? 1e6 : i == 50_000 ? double.NaN : i == 90_001 ? -1e6 : Math.Sin(i))));

        var kept = downsampler.Result(out var downsampled);

        Assert.True(downsampled);
        Assert.Equal(100_000, downsampler.Count);
        Assert.InRange(kept.Count, 2, 100);
        Assert.Equal(0, kept[0].Step);
        Assert.Equal(99_999, kept[^1].Step);
        Assert.Contains(kept, p => p.Step == 777);
        Assert.Contains(kept, p => p.Step == 90_001);
        Assert.Contains(kept, p => double.IsNaN(p.Number));
        Assert.Equal(kept.Select(p => p.Step).Order(), kept.Select(p => p.Step));
    }

    [Fact]
    public void A_series_within_the_limit_or_a_limit_of_zero_returns_every_point()
    {
        var points = Enumerable.Range(0, 50).Select(i => MetricPoint.OfFloat(i, 0, i)).ToArray();

        Assert.Equal(points, Scan(50, points).Result(out var small));
        Assert.Equal(points, Scan(0, points).Result(out var unlimited));
        Assert.False(small);
        Assert.False(unlimited);
    }

    [Fact]
    public void Tensor_points_are_represented_by_the_first_of_their_bucket()
    {
        var kept = Scan(4, Enumerable.Range(0, 10).Select(i => MetricPoint.OfString(i, 0, $"t{i}"))).Result(out _);

        Assert.Equal("t0", kept[0].Text);
        Assert.Equal("t9", kept[^1].Text);
        Assert.InRange(kept.Count, 2, 4);
    }

    private static MetricDownsampler Scan(int maxPoints, IEnumerable<MetricPoint> points)
    {
        var list = points.ToList();
        var downsampler = new MetricDownsampler(maxPoints);
        downsampler.Begin(list[0].Step, list[^1].Step);
        foreach (var point in list)
        {
            downsampler.Add(point);
        }

        return downsampler;
    }

    [Fact]
    public void Summaries_of_stored_buckets_give_the_same_extremes_as_their_points_within_the_limit()
    {
        var points = Enumerable.Range(0, 64_000).Select(i =>
            MetricPoint.OfDouble(i, 0, i == 777 ? 1e6 : i == 50_000 ? double.NaN : i == 63_999 ? -5 : Math.Sin(i))).ToArray();
        var fromPoints = Scan(200, points);
        var fromSummaries = new MetricDownsampler(200);
        fromSummaries.Begin(0, 63_999);
        // Stored buckets of 64 steps, as a store would send them.
        foreach (var bucket in points.Chunk(64))
        {
            fromSummaries.AddSummary(MetricSummary.Of(bucket));
        }

        var kept = fromSummaries.Result(out var downsampled);

        Assert.True(downsampled);
        Assert.Equal(64_000, fromSummaries.Count);
        Assert.InRange(kept.Count, 2, 200);
        Assert.Equal(points[0], kept[0]);
        Assert.Equal(points[^1], kept[^1]);
        Assert.Equal(kept.OrderBy(p => p.Step).Select(p => p.Step), kept.Select(p => p.Step));
        Assert.Equal(kept.Count, kept.Distinct().Count());
        Assert.Contains(kept, p => p.Step == 777);
        Assert.Contains(kept, p => double.IsNaN(p.Number));
        // Every kept point is a point of the series, and the extremes match a scan of every point.
        Assert.All(kept, p => Assert.Equal(points[p.Step], p));
        Assert.Equal(fromPoints.Result(out _).Max(p => p.Number), kept.Max(p => p.Number));
    }

    [Fact]
    public void A_summary_folds_late_and_repeated_points_as_if_they_came_in_series_order()
    {
        MetricPoint[] inSeriesOrder =
        [
            MetricPoint.OfDouble(1, 5, 3),
            MetricPoint.OfDouble(2, 5, 1),
            MetricPoint.OfDouble(2, 5, 1),
            MetricPoint.OfFloat(3, 5, float.PositiveInfinity),
            MetricPoint.OfDouble(4, 5, double.NaN),
            MetricPoint.OfDouble(4, 6, 1),
        ];
        // Arrival: later steps first; the two (2, 5) twins keep their arrival order, which is their series order.
        var arrived = MetricSummary.Of([inSeriesOrder[4], inSeriesOrder[1], inSeriesOrder[5], inSeriesOrder[0], inSeriesOrder[2], inSeriesOrder[3]]);

        Assert.Equal((6L, 6L, 1L), (arrived.Count, arrived.NumericCount, arrived.NanCount));
        Assert.Equal(3 + 1 + 1 + 1, arrived.Sum);
        Assert.Equal(inSeriesOrder[0], arrived.First);
        Assert.Equal(inSeriesOrder[5], arrived.Last);
        Assert.Equal(inSeriesOrder[1], arrived.Min);
        Assert.Equal(inSeriesOrder[4], arrived.Max);
    }
}
