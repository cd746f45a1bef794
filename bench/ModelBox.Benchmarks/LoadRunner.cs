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
        await WarmUpAsync(call, concurrency, warmUp);
        return await MeasureWhileAsync(operation, _ => call(), concurrency, () => Task.Delay(duration));
    }

    /// <summary>
    /// The load of <paramref name="concurrency"/> workers (<paramref name="call"/> gets the worker's index) measured for as
    /// long as <paramref name="until"/> runs: the load beside a job, or for a time (<c>() => Task.Delay(...)</c>). The elapsed
    /// time ends with the last call, which every worker finishes after <paramref name="until"/> (its samples are counted).
    /// </summary>
    public static async Task<CellResult> MeasureWhileAsync(string operation, Func<int, Task> call, int concurrency, Func<Task> until)
    {
        using var stop = new CancellationTokenSource();
        var started = Stopwatch.GetTimestamp();
        var workers = RunWorkersAsync(call, concurrency, stop.Token);
        await until();
        await stop.CancelAsync();
        var samples = await workers;
        var elapsed = Stopwatch.GetElapsedTime(started);

        var all = samples.SelectMany(s => s).ToArray();
        Array.Sort(all);
        return new CellResult(operation, concurrency, all.Length, elapsed, PercentileMs(all, 0.50), PercentileMs(all, 0.99));
    }

    /// <summary>Runs the load for <paramref name="duration"/> without measuring it (the JIT's tier-up, caches).</summary>
    public static async Task WarmUpAsync(Func<Task> call, int concurrency, TimeSpan duration)
    {
        using var stop = new CancellationTokenSource(duration);
        await RunWorkersAsync(_ => call(), concurrency, stop.Token);
    }

    private static async Task<List<long>[]> RunWorkersAsync(Func<int, Task> call, int concurrency, CancellationToken stop)
    {
        var workers = Enumerable.Range(0, concurrency).Select(worker => Task.Run(async () =>
        {
            var ticks = new List<long>(4096);
            while (!stop.IsCancellationRequested)
            {
                var before = Stopwatch.GetTimestamp();
                await call(worker);
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
