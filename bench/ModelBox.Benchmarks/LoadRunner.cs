using System.Diagnostics;

namespace ModelBox.Benchmarks;

/// <summary>Throughput and latency of one operation at one concurrency.</summary>
public sealed record CellResult(string Operation, int Concurrency, long Calls, TimeSpan Elapsed, double P50Ms, double P99Ms)
{
    public double CallsPerSecond => Calls / Elapsed.TotalSeconds;
}

/// <summary>
/// Closed-loop load: <c>concurrency</c> workers each issue the next call as soon as the previous one returns, for a
/// fixed duration. Every call is timed with Stopwatch timestamps; percentiles come from the sorted samples.
/// </summary>
public static class LoadRunner
{
    public static async Task<CellResult> MeasureAsync(
        string operation, Func<Task> call, int concurrency, TimeSpan warmUp, TimeSpan duration)
    {
        await RunWorkersAsync(call, concurrency, warmUp);

        var started = Stopwatch.GetTimestamp();
        var samples = await RunWorkersAsync(call, concurrency, duration);
        var elapsed = Stopwatch.GetElapsedTime(started);

        var all = samples.SelectMany(s => s).ToArray();
        Array.Sort(all);
        return new CellResult(operation, concurrency, all.Length, elapsed, PercentileMs(all, 0.50), PercentileMs(all, 0.99));
    }

    /// <summary>Runs the load for <paramref name="duration"/> without measuring it (the JIT's tier-up, caches).</summary>
    public static Task WarmUpAsync(Func<Task> call, int concurrency, TimeSpan duration) => RunWorkersAsync(call, concurrency, duration);

    private static async Task<List<long>[]> RunWorkersAsync(Func<Task> call, int concurrency, TimeSpan duration)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            var ticks = new List<long>(4096);
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var before = Stopwatch.GetTimestamp();
                await call();
                ticks.Add(Stopwatch.GetTimestamp() - before);
            }

            return ticks;
        }));
        return await Task.WhenAll(workers);
    }

    /// <summary>The nearest-rank percentile of sorted Stopwatch tick samples, in milliseconds.</summary>
    internal static double PercentileMs(long[] sortedTicks, double quantile)
    {
        if (sortedTicks.Length == 0)
        {
            return double.NaN;
        }

        // Nearest rank: the smallest sample with at least `quantile` of all samples at or below it.
        var rank = (int)Math.Ceiling(quantile * sortedTicks.Length) - 1;
        return sortedTicks[Math.Clamp(rank, 0, sortedTicks.Length - 1)] * 1000.0 / Stopwatch.Frequency;
    }
}
