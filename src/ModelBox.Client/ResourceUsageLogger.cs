using System.Diagnostics;
using System.Globalization;

namespace ModelBox.Client;

/// <summary>
/// Logs the training process's resource usage as metrics of one object every interval: <c>system/cpu_percent</c>
/// (of all cores), <c>system/working_set_bytes</c>, <c>system/gc_heap_bytes</c>, <c>system/gc_gen0_collections</c>,
/// <c>system/gc_gen1_collections</c>, <c>system/gc_gen2_collections</c>, and per GPU <c>system/gpu{i}/utilization_percent</c>
/// and <c>system/gpu{i}/memory_used_mib</c> when <c>nvidia-smi</c> is on the PATH. The step is the sample number.
/// A failed send surfaces from <see cref="DisposeAsync"/> (or <see cref="LogSampleAsync"/>).
/// </summary>
public sealed class ResourceUsageLogger : IAsyncDisposable
{
    private readonly MetricLogger _metrics;
    private readonly PeriodicTimer _timer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly string? _nvidiaSmi = FindOnPath("nvidia-smi");
    private readonly SemaphoreSlim _sampling = new(1, 1);
    private TimeSpan _lastCpu;
    private long _lastTimestamp;
    private long _step;

    internal ResourceUsageLogger(MetricLogger metrics, TimeSpan interval)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        _metrics = metrics;
        using (var process = Process.GetCurrentProcess())
        {
            _lastCpu = process.TotalProcessorTime;
        }

        _lastTimestamp = Stopwatch.GetTimestamp();
        _timer = new PeriodicTimer(interval);
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Takes one sample now, logs it, and waits until it is stored.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public async Task LogSampleAsync(CancellationToken cancellationToken = default)
    {
        await SampleAsync(cancellationToken).ConfigureAwait(false);
        await _metrics.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops sampling and waits until every sample is stored.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _timer.Dispose();
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
        await _metrics.DisposeAsync().ConfigureAwait(false);
        _sampling.Dispose();
    }

    private async Task RunAsync()
    {
        try
        {
            while (await _timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                await SampleAsync(_stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (ModelBoxException)
        {
            // The metric logger keeps the failure; DisposeAsync rethrows it.
        }
    }

    private async Task SampleAsync(CancellationToken cancellationToken)
    {
        await _sampling.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var step = _step++;
            var now = DateTimeOffset.UtcNow;
            TimeSpan cpu;
            long workingSet;
            using (var process = Process.GetCurrentProcess())
            {
                cpu = process.TotalProcessorTime;
                workingSet = process.WorkingSet64;
            }

            var timestamp = Stopwatch.GetTimestamp();
            var wall = Stopwatch.GetElapsedTime(_lastTimestamp, timestamp);
            var cpuPercent = wall > TimeSpan.Zero ? (cpu - _lastCpu) / wall / Environment.ProcessorCount * 100 : 0;
            (_lastCpu, _lastTimestamp) = (cpu, timestamp);

            await _metrics.LogAsync("system/cpu_percent", cpuPercent, step, now, cancellationToken).ConfigureAwait(false);
            await _metrics.LogAsync("system/working_set_bytes", (double)workingSet, step, now, cancellationToken).ConfigureAwait(false);
            await _metrics.LogAsync("system/gc_heap_bytes", (double)GC.GetTotalMemory(forceFullCollection: false), step, now, cancellationToken).ConfigureAwait(false);
            for (var generation = 0; generation <= 2; generation++)
            {
                await _metrics.LogAsync($"system/gc_gen{generation}_collections", (double)GC.CollectionCount(generation), step, now, cancellationToken).ConfigureAwait(false);
            }

            if (_nvidiaSmi is not null)
            {
                foreach (var gpu in await QueryGpusAsync(_nvidiaSmi, cancellationToken).ConfigureAwait(false))
                {
                    await _metrics.LogAsync($"system/gpu{gpu.Index}/utilization_percent", gpu.UtilizationPercent, step, now, cancellationToken).ConfigureAwait(false);
                    await _metrics.LogAsync($"system/gpu{gpu.Index}/memory_used_mib", gpu.MemoryUsedMib, step, now, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _sampling.Release();
        }
    }

    private static async Task<IReadOnlyList<GpuSample>> QueryGpusAsync(string nvidiaSmi, CancellationToken cancellationToken)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(nvidiaSmi, "--query-gpu=index,utilization.gpu,memory.used --format=csv,noheader,nounits")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is null)
            {
                return [];
            }

            var output = await process.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            return process.ExitCode == 0 ? ParseNvidiaSmi(output) : [];
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // A driver without a working nvidia-smi: no GPU figures, the rest still logs.
            return [];
        }
    }

    /// <summary>Parses <c>index, utilization.gpu, memory.used</c> CSV lines; lines that are not numbers ("[N/A]") are skipped.</summary>
    internal static IReadOnlyList<GpuSample> ParseNvidiaSmi(string csv)
    {
        var samples = new List<GpuSample>();
        foreach (var line in csv.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var fields = line.Split(',', StringSplitOptions.TrimEntries);
            if (fields.Length >= 3
                && int.TryParse(fields[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var index)
                && double.TryParse(fields[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var utilization)
                && double.TryParse(fields[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var memory))
            {
                samples.Add(new GpuSample(index, utilization, memory));
            }
        }

        return samples;
    }

    private static string? FindOnPath(string command)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var name in OperatingSystem.IsWindows() ? [command + ".exe"] : new[] { command })
            {
                var path = Path.Combine(directory, name);
                if (File.Exists(path))
                {
                    return path;
                }
            }
        }

        return null;
    }

    internal readonly record struct GpuSample(int Index, double UtilizationPercent, double MemoryUsedMib);
}
