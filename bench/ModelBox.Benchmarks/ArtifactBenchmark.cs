using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using ModelBox.Client;
using ModelBox.Server.Configuration;
using ModelBox.Cli.Hosting;

namespace ModelBox.Benchmarks;

/// <summary>
/// `artifacts [SIZE_MIB]`: uploads and downloads one file through the SDK → server → filesystem blob store, and in the
/// same run copies the same file on the same disk (the raw baseline) and hashes it with MD5 and SHA-256 alone (what bounds
/// a transfer). The server is a child process, so the table shows its CPU time and peak resident memory growth apart
/// from the client's. Prints MB/s and the ratio to the raw copy.
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

            // The server runs in a child process (this program in its server mode), so its CPU time and peak memory are
            // its own, not mixed with the client's.
            await using var server = await ServerProcess.StartAsync(Path.Combine(work, "data"));
            await using var client = new ModelBoxClient(server.Address);
            var experiment = (await client.CreateExperimentAsync("artifact-bench", "bench", "bench", Framework.PyTorch)).Value;

            // Warm the code paths (JIT, connection) on a small file so the big one measures steady state.
            var warm = Path.Combine(work, "warm.bin");
            await WriteRandomFileAsync(warm, 4 * 1024 * 1024);
            var warmFile = await client.UploadFileAsync(experiment.Id, warm);
            await client.DownloadFileAsync(warmFile.Id, Path.Combine(work, "warm-back.bin"));

            var target = Path.Combine(work, "downloaded.bin");
            ArtifactFile? uploaded = null;
            if (profile is not null)
            {
                uploaded = await client.UploadFileAsync(experiment.Id, source);
                var measured = profile == "upload"
                    ? await MeasureAsync(server, () => client.UploadFileAsync(experiment.Id, source))
                    : await MeasureAsync(server, () => client.DownloadFileAsync(uploaded.Id, target));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{profile}: {measured.Time.TotalSeconds:0.00} s, server {measured.ServerCpu:0.00} CPU s, client {measured.ClientCpu:0.00} CPU s, server peak growth {measured.ServerPeakMb:0} MB, client {measured.ClientPeakMb:0} MB"));
                return 0;
            }

            // Best of two runs each way (the machine is shared); the server's peak memory growth is the larger of the two.
            Transfer? upload = null;
            Transfer? download = null;
            for (var run = 0; run < 2; run++)
            {
                var up = await MeasureAsync(server, async () => uploaded = await client.UploadFileAsync(experiment.Id, source));
                var down = await MeasureAsync(server, () => client.DownloadFileAsync(uploaded!.Id, target));
                if (new FileInfo(target).Length != size)
                {
                    throw new InvalidOperationException("the downloaded file has the wrong size");
                }

                File.Delete(target);
                upload = Best(upload, up);
                download = Best(download, down);
            }

            double Rate(TimeSpan t) => size / 1e6 / t.TotalSeconds;
            Console.WriteLine("# ModelBox artifact benchmark");
            Console.WriteLine();
            Console.WriteLine($"{sizeMiB} MiB file, SDK → server process (loopback HTTP/2, SQLite) → filesystem blob store in {work}; "
                + $".NET {Environment.Version}, {Environment.ProcessorCount} cores shared by client and server; best of two runs");
            Console.WriteLine();
            Console.WriteLine("| transfer | seconds | MB/s | vs raw copy | vs durable raw copy | server CPU s | client CPU s | server peak RSS growth MB | client peak RSS growth MB |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            Row("raw copy (File.Copy), the 100% reference", copyTime, null);
            Row("raw copy + fsync", durableCopyTime, null);
            Row("user-space copy (1 MiB read/write loop), for information", userCopyTime, null);
            Row("MD5 alone over the file (one core), for information", md5Time, null);
            Row("SHA-256 alone over the file (one core), for information", sha256Time, null);
            Row("upload (64 KiB chunks, client SHA-256 while sending → server MD5 ‖ SHA-256 + direct write, trailer check, fsync, rename)", upload!.Time, upload);
            Row("download (64 KiB chunks, server direct read → client SHA-256 ‖ direct write)", download!.Time, download);
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"the upload cannot beat the MD5 the server must compute on one core: {Rate(md5Time):0} MB/s here = {Rate(md5Time) / Rate(copyTime):P0} of the raw copy"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"goal >= 60% of the raw copy each way: upload {Rate(upload.Time) / Rate(copyTime):P0} ({Verdict(upload.Time)}), "
                + $"download {Rate(download.Time) / Rate(copyTime):P0} ({Verdict(download.Time)}); "
                + $"against the durable copy: upload {Rate(upload.Time) / Rate(durableCopyTime):P0}, download {Rate(download.Time) / Rate(durableCopyTime):P0}"));
            return 0;

            void Row(string name, TimeSpan time, Transfer? transfer) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {time.TotalSeconds:0.00} | {Rate(time):0} | {Rate(time) / Rate(copyTime):P0} | {Rate(time) / Rate(durableCopyTime):P0} | "
                + $"{Number(transfer?.ServerCpu, "0.00")} | {Number(transfer?.ClientCpu, "0.00")} | {Number(transfer?.ServerPeakMb, "0")} | {Number(transfer?.ClientPeakMb, "0")} |"));

            string Verdict(TimeSpan time) => Rate(time) / Rate(copyTime) >= 0.6 ? "met" : "MISSED";
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>`artifacts-server DATA_DIR`: the server of the artifact benchmark, in its own process.</summary>
    public static async Task<int> ServeAsync(string[] args)
    {
        var server = ServerStorage.CreateServer(
            new ServerConfig { ListenAddr = "127.0.0.1:0", HttpListenAddr = "127.0.0.1:0", PrometheusListenAddr = "127.0.0.1:0", DataDir = args[0] },
            logging => logging.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());
        await server.StartAsync();
        Console.WriteLine("ADDRESS " + server.GrpcAddress);
        // Until the parent closes standard input.
        await Console.In.ReadToEndAsync();
        await server.StopAsync();
        await server.DisposeAsync();
        return 0;
    }

    private sealed record Transfer(TimeSpan Time, double ServerCpu, double ClientCpu, double ServerPeakMb, double ClientPeakMb);

    private static Transfer Best(Transfer? best, Transfer run) =>
        (best is null || run.Time < best.Time ? run : best) with
        {
            ServerPeakMb = Math.Max(run.ServerPeakMb, best?.ServerPeakMb ?? 0),
            ClientPeakMb = Math.Max(run.ClientPeakMb, best?.ClientPeakMb ?? 0),
        };

    private static string Number(double? value, string format) => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "-";

    /// <summary>
    /// Time, the server's and the client's CPU time, and the server's peak resident memory growth (Linux VmHWM of the
    /// child after resetting it through clear_refs). CPU time is steadier than wall time on a shared machine: it shows
    /// what a transfer costs, not what it got.
    /// </summary>
    private static async Task<Transfer> MeasureAsync(ServerProcess server, Func<Task> action)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var serverBefore = server.ResidentKb("VmRSS");
        server.ResetPeak();
        var clientBefore = ReadStatusKb("/proc/self/status", "VmRSS");
        File.WriteAllText("/proc/self/clear_refs", "5");
        using var self = Process.GetCurrentProcess();
        var clientCpu = self.TotalProcessorTime;
        var serverCpu = server.CpuTime();
        var time = await TimeAsync(action);
        self.Refresh();
        var serverPeak = server.ResidentKb("VmHWM");
        var clientPeak = ReadStatusKb("/proc/self/status", "VmHWM");
        return new Transfer(
            time,
            (server.CpuTime() - serverCpu).TotalSeconds,
            (self.TotalProcessorTime - clientCpu).TotalSeconds,
            Math.Max(0, serverPeak - serverBefore) / 1024.0,
            Math.Max(0, clientPeak - clientBefore) / 1024.0);
    }

    /// <summary>This program in its `artifacts-server` mode, as a child process.</summary>
    private sealed class ServerProcess : IAsyncDisposable
    {
        private readonly Process _process;

        private ServerProcess(Process process, string address)
        {
            _process = process;
            Address = address;
        }

        public string Address { get; }

        public static async Task<ServerProcess> StartAsync(string dataDir)
        {
            var start = new ProcessStartInfo(Environment.ProcessPath!)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
            {
                start.ArgumentList.Add(typeof(ArtifactBenchmark).Assembly.Location);
            }

            start.ArgumentList.Add("artifacts-server");
            start.ArgumentList.Add(dataDir);
            var process = Process.Start(start)!;
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("ADDRESS ", StringComparison.Ordinal))
                {
                    return new ServerProcess(process, line["ADDRESS ".Length..]);
                }
            }

            throw new InvalidOperationException("the benchmark server exited before it listened");
        }

        public TimeSpan CpuTime()
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }

        public long ResidentKb(string field) => ReadStatusKb($"/proc/{_process.Id}/status", field);

        public void ResetPeak() => File.WriteAllText($"/proc/{_process.Id}/clear_refs", "5");

        public async ValueTask DisposeAsync()
        {
            _process.StandardInput.Close();
            await _process.WaitForExitAsync();
            _process.Dispose();
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

    private static long ReadStatusKb(string path, string field)
    {
        foreach (var line in File.ReadLines(path))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }
}
