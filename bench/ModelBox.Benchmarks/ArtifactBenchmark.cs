using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
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
        // PROFILE=upload|download runs only that transfer, once, with no baselines (for a profiler attached to the process).
        var profile = Environment.GetEnvironmentVariable("PROFILE");
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
            var userCopyTime = TimeSpan.MaxValue;
            var md5Time = TimeSpan.MaxValue;
            var sha256Time = TimeSpan.MaxValue;
            for (var run = 0; run < (profile is null ? 2 : 0); run++)
            {
                var plain = await TimeAsync(() => CopyAsync(source, Path.Combine(work, "copy.bin"), durable: false));
                File.Delete(Path.Combine(work, "copy.bin"));
                var durable = await TimeAsync(() => CopyAsync(source, Path.Combine(work, "copy.bin"), durable: true));
                File.Delete(Path.Combine(work, "copy.bin"));
                var user = await TimeAsync(() => UserSpaceCopyAsync(source, Path.Combine(work, "copy.bin")));
                File.Delete(Path.Combine(work, "copy.bin"));
                copyTime = plain < copyTime ? plain : copyTime;
                durableCopyTime = durable < durableCopyTime ? durable : durableCopyTime;
                userCopyTime = user < userCopyTime ? user : userCopyTime;

                // What bounds a transfer: the server must compute both hashes of every byte, MD5 on one core at most.
                var md5 = await TimeAsync(() => HashFileAsync(source, HashAlgorithmName.MD5));
                var sha256 = await TimeAsync(() => HashFileAsync(source, HashAlgorithmName.SHA256));
                md5Time = md5 < md5Time ? md5 : md5Time;
                sha256Time = sha256 < sha256Time ? sha256 : sha256Time;
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

                // Best of two runs each way (the machine is shared); the peak memory is the larger of the two.
                ArtifactFile? uploaded = null;
                var upload = (Time: TimeSpan.MaxValue, PeakGrowthMb: 0.0, CpuSeconds: 0.0);
                var download = (Time: TimeSpan.MaxValue, PeakGrowthMb: 0.0, CpuSeconds: 0.0);
                var target = Path.Combine(work, "downloaded.bin");
                if (profile is not null)
                {
                    uploaded = await client.UploadFileAsync(experiment.Id, source);
                    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                    var measured = profile == "upload"
                        ? await MeasureAsync(() => client.UploadFileAsync(experiment.Id, source))
                        : await MeasureAsync(() => client.DownloadFileAsync(uploaded.Id, target));
                    Console.WriteLine($"{profile}: {measured.Time.TotalSeconds:0.00} s, {measured.CpuSeconds:0.00} CPU s, {measured.PeakGrowthMb:0} MB peak growth");
                    return 0;
                }

                for (var run = 0; run < 2; run++)
                {
                    var up = await MeasureAsync(async () => uploaded = await client.UploadFileAsync(experiment.Id, source));
                    var down = await MeasureAsync(() => client.DownloadFileAsync(uploaded!.Id, target));
                    if (new FileInfo(target).Length != size)
                    {
                        throw new InvalidOperationException("the downloaded file has the wrong size");
                    }

                    File.Delete(target);
                    upload = up.Time < upload.Time ? up with { PeakGrowthMb = Math.Max(up.PeakGrowthMb, upload.PeakGrowthMb) } : upload with { PeakGrowthMb = Math.Max(up.PeakGrowthMb, upload.PeakGrowthMb) };
                    download = down.Time < download.Time ? down with { PeakGrowthMb = Math.Max(down.PeakGrowthMb, download.PeakGrowthMb) } : download with { PeakGrowthMb = Math.Max(down.PeakGrowthMb, download.PeakGrowthMb) };
                }

                var (uploadTime, uploadPeak, uploadCpu) = upload;
                var (downloadTime, downloadPeak, downloadCpu) = download;

                double Rate(TimeSpan t) => size / 1e6 / t.TotalSeconds;
                Console.WriteLine("# ModelBox artifact benchmark");
                Console.WriteLine();
                Console.WriteLine($"{sizeMiB} MiB file, SDK → in-process server (loopback HTTP/2) → filesystem blob store in {work}; "
                    + $".NET {Environment.Version}, {Environment.ProcessorCount} cores");
                Console.WriteLine();
                Console.WriteLine("| transfer | seconds | MB/s | vs raw copy | vs durable raw copy | CPU seconds (both cores) | peak RSS growth MB |");
                Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
                Row("raw copy (File.Copy) — the 100% reference", copyTime, null, null);
                Row("raw copy + fsync", durableCopyTime, null, null);
                Row("user-space copy (1 MiB read/write loop), for information", userCopyTime, null, null);
                Row("MD5 alone over the file (one core), for information", md5Time, null, null);
                Row("SHA-256 alone over the file (one core), for information", sha256Time, null, null);
                Row("upload (stream + client SHA-256 → server MD5 ‖ SHA-256 + write, verify trailer, fsync, rename)", uploadTime, uploadCpu, uploadPeak);
                Row("download (1 MiB chunks, server read-ahead, client SHA-256 ‖ write)", downloadTime, downloadCpu, downloadPeak);
                Console.WriteLine();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"the upload cannot beat the MD5 the server must compute: {Rate(md5Time):0} MB/s = {Rate(md5Time) / Rate(copyTime):P0} of the raw copy on this CPU; "
                    + $"client and server share the process's {Environment.ProcessorCount} cores, so the peak RSS growth bounds the server's from above"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"goal >= 60% of the raw copy each way: upload {Rate(uploadTime) / Rate(copyTime):P0} ({Verdict(uploadTime)}), "
                    + $"download {Rate(downloadTime) / Rate(copyTime):P0} ({Verdict(downloadTime)}); "
                    + $"against the durable copy: upload {Rate(uploadTime) / Rate(durableCopyTime):P0}, download {Rate(downloadTime) / Rate(durableCopyTime):P0}"));
                return 0;

                void Row(string name, TimeSpan time, double? cpuSeconds, double? peakMb) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name} | {time.TotalSeconds:0.00} | {Rate(time):0} | {Rate(time) / Rate(copyTime):P0} | {Rate(time) / Rate(durableCopyTime):P0} | {(cpuSeconds is { } c ? c.ToString("0.00", CultureInfo.InvariantCulture) : "-")} | {(peakMb is { } p ? p.ToString("0", CultureInfo.InvariantCulture) : "-")} |"));

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

    private static async Task UserSpaceCopyAsync(string from, string to)
    {
        var buffer = new byte[1024 * 1024];
        await using var input = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
        await using var output = new FileStream(to, FileMode.Create, FileAccess.Write, FileShare.None, 0);
        int read;
        while ((read = await input.ReadAsync(buffer)) > 0)
        {
            await output.WriteAsync(buffer.AsMemory(0, read));
        }
    }

    private static async Task HashFileAsync(string path, HashAlgorithmName algorithm)
    {
        using var hash = IncrementalHash.CreateHash(algorithm);
        var buffer = new byte[1024 * 1024];
        await using var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
        int read;
        while ((read = await input.ReadAsync(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, read);
        }

        _ = hash.GetHashAndReset();
    }

    private static async Task<TimeSpan> TimeAsync(Func<Task> action)
    {
        var watch = Stopwatch.StartNew();
        await action();
        return watch.Elapsed;
    }

    /// <summary>
    /// Time, peak resident memory growth (Linux VmHWM after resetting it through clear_refs) and the CPU time the process
    /// used meanwhile (steadier than the time on a shared machine: it shows what a transfer costs, not what it got).
    /// </summary>
    private static async Task<(TimeSpan Time, double PeakGrowthMb, double CpuSeconds)> MeasureAsync(Func<Task> action)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var before = ReadStatusKb("VmRSS");
        var canReset = TryResetPeak();
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var time = await TimeAsync(action);
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpuBefore;
        var peak = canReset ? ReadStatusKb("VmHWM") : process.PeakWorkingSet64 / 1024;
        return (time, Math.Max(0, peak - before) / 1024.0, cpu.TotalSeconds);
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
