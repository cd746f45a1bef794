namespace ModelBox.Domain.Tests;

public sealed class MetricSummaryBuilderTests
{
    /// <summary>
    /// What the store does at ingest: a stored summary, then the new points folded per step bucket and the buckets' summaries
    /// merged in any order, must equal adding every point one by one in arrival order (steps and times repeat, so ties in
    /// series order decide first, last, min and max; values are quarters, so sums are exact in any order).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Merging_bucket_summaries_of_later_points_equals_adding_the_points_one_by_one(int seed)
    {
        var random = new Random(seed);
        for (var round = 0; round < 200; round++)
        {
            var points = Enumerable.Range(0, random.Next(1, 60)).Select(_ => RandomPoint(random)).ToList();
            var storedCount = random.Next(points.Count + 1);
            var expected = MetricSummary.Of(points);

            var builder = new MetricSummaryBuilder(MetricSummary.Of(points.Take(storedCount)));

            var shift = random.Next(0, 4);
            var buckets = points.Skip(storedCount).GroupBy(p => p.Step >> shift).Select(group => MetricSummary.Of(group)).ToList();
            foreach (var bucket in buckets.OrderBy(_ => random.Next()))
            {
                builder.Merge(bucket);
            }

            var actual = builder.ToSummary();
            Assert.Equal((expected.Count, expected.NumericCount, expected.NanCount, expected.Sum), (actual.Count, actual.NumericCount, actual.NanCount, actual.Sum));
            AssertSame(expected.First, actual.First);
            AssertSame(expected.Last, actual.Last);
            if (expected.NumericCount > 0)
            {
                AssertSame(expected.Min, actual.Min);
                AssertSame(expected.Max, actual.Max);
            }
        }
    }

    private static MetricPoint RandomPoint(Random random)
    {
        var (step, time) = (random.Next(12), random.Next(2));
        return random.Next(10) switch
        {
            0 => MetricPoint.OfString(step, time, "tensor"),
            1 => MetricPoint.OfDouble(step, time, double.NaN),
            2 => MetricPoint.OfDouble(step, time, random.Next(2) == 0 ? double.PositiveInfinity : double.NegativeInfinity),
            _ => MetricPoint.OfDouble(step, time, random.Next(-3, 3) / 4.0),
        };
    }

    // Points are told apart by what a summary keeps of them; the value tells which of two points with the same step and
    // time was kept only when it differs, so equal-looking points are the same to a reader.
    private static void AssertSame(MetricPoint expected, MetricPoint actual) =>
        Assert.True(
            expected.Step == actual.Step && expected.WallclockSeconds == actual.WallclockSeconds && expected.Kind == actual.Kind
                && (expected.Number.Equals(actual.Number) || (double.IsNaN(expected.Number) && double.IsNaN(actual.Number))),
            $"expected {expected}, got {actual}");
}
