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
}
