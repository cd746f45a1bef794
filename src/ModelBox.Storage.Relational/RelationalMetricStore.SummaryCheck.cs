using System.Data.Common;
using System.Globalization;
using ModelBox.Domain;

namespace ModelBox.Storage.Relational;

/// <summary>The check `modelbox server verify` makes of a series' stored summaries against its points.</summary>
public sealed partial class RelationalMetricStore
{
    /// <summary>
    /// Adds each point of <paramref name="seriesId"/> to its bucket at every resolution (on its own, not by the merges ingest
    /// and the backlog build use), and
    /// compares them with the stored rows of <c>metric_summaries</c>: the same buckets, and in each the same counts and the
    /// same first, last, lowest and highest point. The finite sum is compared to a relative 1e-9, since ingest adds in
    /// arrival order and this in step order. Returns what differs first, or null. Run it in a snapshot transaction (an append
    /// between the two reads would be reported). Series still in the backlog have no summaries yet: not checked here.
    /// </summary>
    internal static async Task<string?> CompareSummariesWithPointsAsync(
        SqlDialect dialect, DbConnection connection, DbTransaction transaction, long seriesId, CancellationToken cancellationToken)
    {
        var folded = new Dictionary<(int Shift, long Bucket), MetricSummaryBuilder>();
        await using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = dialect.Sql($"SELECT {PointColumns} FROM metric_points WHERE series_id = @Series ORDER BY step, \"time\", seq");
            Add(command, "Series", seriesId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var point = ReadPoint(reader, 0);
                foreach (var shift in AllShifts)
                {
                    var key = (shift, point.Step >> shift);
                    folded.TryGetValue(key, out var builder);
                    builder.Add(point);
                    folded[key] = builder;
                }
            }
        }

        var stored = new HashSet<(int Shift, long Bucket)>();
        await using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = dialect.Sql($"SELECT step_shift, bucket, {SummaryColumns} FROM metric_summaries WHERE series_id = @Series");
            Add(command, "Series", seriesId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var (shift, bucket) = ((int)reader.GetInt64(0), reader.GetInt64(1));
                var summary = ReadSummary(reader, 2);
                stored.Add((shift, bucket));
                if (!folded.TryGetValue((shift, bucket), out var builder))
                {
                    return $"a summary of {summary.Count} point(s) at resolution 2^{shift} bucket {bucket} where the series has no point";
                }

                if (Difference(builder.ToSummary(), summary) is { } difference)
                {
                    return $"the summary at resolution 2^{shift} bucket {bucket} {difference}";
                }
            }
        }

        if (folded.Keys.Where(key => !stored.Contains(key)).ToList() is { Count: > 0 } missing)
        {
            return $"{missing.Count} bucket(s) with points have no summary (e.g. resolution 2^{missing[0].Shift} bucket {missing[0].Bucket})";
        }

        return null;
    }

    private static string? Difference(in MetricSummary points, in MetricSummary stored)
    {
        if ((points.Count, points.NumericCount, points.NanCount) != (stored.Count, stored.NumericCount, stored.NanCount))
        {
            return $"counts {stored.Count} points, {stored.NumericCount} numeric, {stored.NanCount} NaN; the points: {points.Count}, {points.NumericCount}, {points.NanCount}";
        }

        if (!SameSum(points.Sum, stored.Sum))
        {
            return $"sums to {stored.Sum.ToString("R", CultureInfo.InvariantCulture)}; the points to {points.Sum.ToString("R", CultureInfo.InvariantCulture)}";
        }

        var numeric = points.NumericCount > 0;
        foreach (var (name, a, b, compare) in new[]
        {
            ("first", points.First, stored.First, true),
            ("last", points.Last, stored.Last, true),
            ("lowest", points.Min, stored.Min, numeric),
            ("highest", points.Max, stored.Max, numeric),
        })
        {
            if (compare && (a.Step != b.Step || a.WallclockSeconds != b.WallclockSeconds || a.Kind != b.Kind || MetricSummary.CompareValues(a.Number, b.Number) != 0))
            {
                return $"has {name} point {Describe(b)}; the points: {Describe(a)}";
            }
        }

        return null;
    }

    private static bool SameSum(double a, double b) =>
        MetricSummary.CompareValues(a, b) == 0
        || (double.IsFinite(a) && double.IsFinite(b) && Math.Abs(a - b) <= 1e-9 * Math.Max(Math.Abs(a), Math.Abs(b)));

    private static string Describe(in MetricPoint point) => string.Create(
        CultureInfo.InvariantCulture, $"(step {point.Step}, time {point.WallclockSeconds}, {point.Kind} {point.Number:R})");
}
