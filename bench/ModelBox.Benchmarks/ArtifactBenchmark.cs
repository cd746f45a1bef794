using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using ModelBox.Client;
using ModelBox.Server.Configuration;
using ModelBox.Server.Hosting;

namespace ModelBox.Benchmarks;

/// <summary>
/// `artifacts [SIZE_MIB]`: uploads and downloads one file through the SDK → server → filesystem blob store, and in the
/// same run copies the same file on the same disk (the raw baseline). Prints MB/s, the ratio to the raw copy, and the
/// process's peak resident memory growth during each transfer (server and client share the process, so it bounds the
/// server's growth from above).
/// </summary>
internal static class ArtifactBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var sizeMiB = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1024;
        var size = sizeMiB * 1024L * 1024L;
        var work = Directory.CreateTempSubdirectory("modelbox-artifact-bench-").FullName;
        var source = Path.Combine(work, "source.bin");
        try
        {
            Console.Error.WriteLine($"writing a {sizeMiB} MiB file of random bytes ...");
            await WriteRandomFileAsync(source, size);

            // Raw baselines on the same disk: a plain copy, and a copy made durable (fsync) as an upload is. The best
            // of two runs each, since the machine is shared and noisy.
            var copyTime = TimeSpan.MaxValue;
            var durableCopyTime = TimeSpan.MaxValue;
            for (var run = 0; run < 2; run++)
            {
                var plain = await TimeAsync(() => CopyAsync(source, Path.Combine(work, "copy.bin"), durable: false));
                File.Delete(Path.Combine(work, "copy.bin"));
                var durable = await TimeAsync(() => CopyAsync(source, Path.Combine(work, "copy.bin"), durable: true));
                File.Delete(Path.Combine(work, "copy.bin"));
                copyTime = plain < copyTime ? plain : copyTime;
                durableCopyTime = durable < durableCopyTime ? durable : durableCopyTime;
            }

            var server = ModelBoxServer.Create(
                new ServerConfig { ListenAddr = "127.0.0.1:0", DataDir = Path.Combine(work, "data") },
                logging => logging.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());
            await server.StartAsync();
            try
            {
                await using var client = new ModelBoxClient(server.GrpcAddress);
                var experiment = (await client.CreateExperimentAsync("artifact-bench", "bench", "bench", Framework.PyTorch)).Value;

                // Warm the code paths (JIT, connection) on a small file so the big one measures steady state.
                var warm = Path.Combine(work, "warm.bin");
                await WriteRandomFileAsync(warm, 4 * 1024 * 1024);
                var warmFile = await client.UploadFileAsync(experiment.Id, warm);
                await client.DownloadFileAsync(warmFile.Id, Path.Combine(work, "warm-back.bin"));

                ArtifactFile? uploaded = null;
                var (uploadTime, uploadPeak) = await MeasureAsync(async () => uploaded = await client.UploadFileAsync(experiment.Id, source));
                var target = Path.Combine(work, "downloaded.bin");
                var (downloadTime, downloadPeak) = await MeasureAsync(() => client.DownloadFileAsync(uploaded!.Id, target));
                if (new FileInfo(target).Length != size)
                {
                    throw new InvalidOperationException("the downloaded file has the wrong size");
                }

                double Rate(TimeSpan t) => size / 1e6 / t.TotalSeconds;
                Console.WriteLine("# ModelBox artifact benchmark");
                Console.WriteLine();
                Console.WriteLine($"{sizeMiB} MiB file, SDK → in-process server (loopback HTTP/2) → filesystem blob store in {work}; "
                    + $".NET {Environment.Version}, {Environment.ProcessorCount} cores");
                Console.WriteLine();
                Console.WriteLine("| transfer | seconds | MB/s | vs raw copy | vs durable raw copy | peak RSS growth MB |");
                Console.WriteLine("|---|---:|---:|---:|---:|---:|");
                Row("raw copy (File.Copy)", copyTime, null);
                Row("raw copy + fsync", durableCopyTime, null);
                Row("upload (client MD5 pre-pass, stream, server MD5+SHA-256, fsync, rename)", uploadTime, uploadPeak);
                Row("download (stream, client SHA-256 verify)", downloadTime, downloadPeak);
                Console.WriteLine();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"goal >= 60% of the raw copy each way: upload {Rate(uploadTime) / Rate(copyTime):P0} ({Verdict(uploadTime)}), "
                    + $"download {Rate(downloadTime) / Rate(copyTime):P0} ({Verdict(downloadTime)}); "
                    + $"against the durable copy: upload {Rate(uploadTime) / Rate(durableCopyTime):P0}, download {Rate(downloadTime) / Rate(durableCopyTime):P0}"));
                return 0;

                void Row(string name, TimeSpan time, double? peakMb) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name} | {time.TotalSeconds:0.00} | {Rate(time):0} | {Rate(time) / Rate(copyTime):P0} | {Rate(time) / Rate(durableCopyTime):P0} | {(peakMb is { } p ? p.ToString("0", CultureInfo.InvariantCulture) : "-")} |"));

                string Verdict(TimeSpan time) => Rate(time) / Rate(copyTime) >= 0.6 ? "met" : "MISSED";
            }
            finally
            {
                await server.StopAsync();
                await server.DisposeAsync();
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task WriteRandomFileAsync(string path, long size)
    {
        var buffer = new byte[1024 * 1024];
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 0);
        for (long written = 0; written < size; written += buffer.Length)
        {
            Random.Shared.NextBytes(buffer);
            await file.WriteAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, size - written)));
        }

        // On disk before anything is timed, so no measurement pays for this file's write-back.
        file.Flush(flushToDisk: true);
    }

    private static async Task CopyAsync(string from, string to, bool durable)
    {
        File.Copy(from, to, overwrite: true);
        if (durable)
        {
            await using var file = new FileStream(to, FileMode.Open, FileAccess.ReadWrite);
            file.Flush(flushToDisk: true);
        }
    }

    private static async Task<TimeSpan> TimeAsync(Func<Task> action)
    {
        var watch = Stopwatch.StartNew();
        await action();
        return watch.Elapsed;
    }

    /// <summary>Time and peak resident memory growth (Linux VmHWM after resetting it through clear_refs).</summary>
    private static async Task<(TimeSpan Time, double PeakGrowthMb)> MeasureAsync(Func<Task> action)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var before = ReadStatusKb("VmRSS");
        var canReset = TryResetPeak();
        var time = await TimeAsync(action);
        var peak = canReset ? ReadStatusKb("VmHWM") : Process.GetCurrentProcess().PeakWorkingSet64 / 1024;
        return (time, Math.Max(0, peak - before) / 1024.0);
    }

    private static bool TryResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static long ReadStatusKb(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }
}
