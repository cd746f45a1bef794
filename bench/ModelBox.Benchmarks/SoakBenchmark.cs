using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using ModelBox.Protocol;
using ModelBox.Server.Configuration;
using ModelBox.Cli.Hosting;

namespace ModelBox.Benchmarks;

/// <summary>
/// Soak: measures the capacity of a mixed workload (closed loop, 10 s), then runs the same mix open loop at half that
/// rate for --minutes (default 10), with a few watchers on the namespace. Per minute: calls, errors (goal 0), p50/p99
/// latency, and memory (working set, and the live GC heap after a full collection). The baseline is the first minute:
/// the verdict compares the last minute's p99 and live heap with it (flat when within 25 %).
/// The server is in-process, so memory includes the load generator's (steady) share.
/// </summary>
public static class SoakBenchmark
{
    private const int Workers = 32;
    private const int Watchers = 4;

    public static async Task<int> RunAsync(string[] args)
    {
        var minutes = 10.0;
        var hostile = false;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--hostile")
            {
                hostile = true;
                continue;
            }

            minutes = args[i] == "--minutes" && i + 1 < args.Length
                ? double.Parse(args[++i], CultureInfo.InvariantCulture)
                : throw new ArgumentException($"unknown option {args[i]}; usage: soak [--minutes N] [--hostile]");
        }

        var dataDir = Directory.CreateTempSubdirectory("modelbox-soak-").FullName;
        var server = ServerStorage.CreateServer(
            new ServerConfig
            {
                ListenAddr = "127.0.0.1:0", HttpListenAddr = "127.0.0.1:0", PrometheusListenAddr = "127.0.0.1:0", DataDir = dataDir,
                // With hostile clients, stalled streams are ended within the soak's minutes.
                StreamIdleTimeoutSeconds = hostile ? 20 : 300,
            },
            logging => logging.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());
        try
        {
            await server.StartAsync();
            using var channel = GrpcChannel.ForAddress(server.GrpcAddress);
            var workload = await Workload.CreateAsync(new ModelStore.ModelStoreClient(channel));
            Console.WriteLine("# ModelBox soak");
            Console.WriteLine();
            Console.WriteLine($"server {server.GrpcAddress} (in-process, SQLite + filesystem in {dataDir}), .NET {Environment.Version}, {Environment.ProcessorCount} cores");

            var capacity = await MeasureCapacityAsync(workload);
            var target = capacity / 2;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"capacity (closed loop, {Workers} workers, 10 s): {capacity:0} calls/s; soak at {target:0} calls/s for {minutes:0.#} min with {Watchers} watchers"));

            using var stop = new CancellationTokenSource();
            var watchers = Enumerable.Range(0, Watchers).Select(_ => WatchAsync(workload, stop.Token)).ToArray();
            await using var hostiles = hostile
                ? new HostileClients(server.GrpcAddress, workload.FirstExperiment, await HostileClients.UploadTargetAsync(workload.Client, workload.FirstExperiment), Workload.Namespace)
                : null;
            var hostileRun = hostiles?.RunAsync(stop.Token) ?? Task.CompletedTask;
            var rows = await SoakAsync(workload, target, TimeSpan.FromMinutes(minutes));
            await stop.CancelAsync();
            await Task.WhenAll(watchers);
            await hostileRun;

            Console.WriteLine();
            Console.WriteLine("| minute | calls | calls/s | errors | p50 ms | p99 ms | working set MiB | live GC heap MiB | changes watched |");
            Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var r in rows)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {r.Minute} | {r.Calls} | {r.Calls / r.Seconds:0} | {r.Errors} | {r.P50Ms:0.00} | {r.P99Ms:0.00} | {r.WorkingSetMiB:0} | {r.HeapMiB:0.0} | {r.Changes} |"));
            }

            var first = rows[0];
            var last = rows[^1];
            var errors = rows.Sum(r => r.Errors);
            var heapRatio = last.HeapMiB / first.HeapMiB;
            var p99Ratio = last.P99Ms / first.P99Ms;
            var flat = heapRatio <= 1.25 && p99Ratio <= 1.25;
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"errors: {errors} (goal 0: {(errors == 0 ? "met" : "MISSED")}); last/first minute: live heap {heapRatio:0.00}x, p99 {p99Ratio:0.00}x, "
                + $"working set {last.WorkingSetMiB / first.WorkingSetMiB:0.00}x; verdict: {(flat ? "flat" : "GROWING")}"));
            Console.WriteLine($"watch resumes after falling behind (ABORTED, then since = last sequence): {Interlocked.Read(ref workload.WatchResumes)}");
            foreach (var sample in workload.ErrorSamples.Take(5))
            {
                Console.WriteLine("  error: " + sample);
            }

            if (hostiles is not null)
            {
                Console.WriteLine("hostile calls by status: " + string.Join(", ", hostiles.Outcomes.OrderBy(o => o.Key).Select(o => $"{o.Key} {o.Value}"))
                    + $"; INTERNAL/UNKNOWN: {hostiles.Internal} (goal 0: {(hostiles.Internal == 0 ? "met" : "MISSED")})");
            }

            return errors == 0 && (hostiles?.Internal ?? 0) == 0 ? 0 : 1;
        }
        finally
        {
            await server.StopAsync();
            await server.DisposeAsync();
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static async Task<double> MeasureCapacityAsync(Workload workload)
    {
        var calls = 0L;
        var stopAt = Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            while (Stopwatch.GetTimestamp() < stopAt)
            {
                await workload.NextAsync(random);
                Interlocked.Increment(ref calls);
            }
        })));
        return calls / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    private static async Task<List<MinuteRow>> SoakAsync(Workload workload, double callsPerSecond, TimeSpan duration)
    {
        var rows = new List<MinuteRow>();
        var samples = new ConcurrentQueue<long>();
        var interval = Workers / callsPerSecond;
        var begin = Stopwatch.GetTimestamp();
        var end = begin + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        workload.ResetErrors();
        var workers = Enumerable.Range(0, Workers).Select(w => Task.Run(async () =>
        {
            var random = new Random(1000 + w);
            // Open loop: each worker starts its calls on a fixed schedule, whatever the previous one took.
            var next = begin + (long)(w * interval / Workers * Stopwatch.Frequency);
            while (next < end)
            {
                var wait = next - Stopwatch.GetTimestamp();
                if (wait > 0)
                {
                    await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency));
                }

                var before = Stopwatch.GetTimestamp();
                await workload.NextAsync(random);
                samples.Enqueue(Stopwatch.GetTimestamp() - before);
                next += (long)(interval * Stopwatch.Frequency);
            }
        })).ToArray();

        var all = Task.WhenAll(workers);
        var minute = 0;
        var minuteStart = Stopwatch.GetTimestamp();
        while (!all.IsCompleted)
        {
            await Task.WhenAny(all, Task.Delay(TimeSpan.FromMinutes(1)));
            var taken = new List<long>();
            while (samples.TryDequeue(out var t))
            {
                taken.Add(t);
            }

            var seconds = Stopwatch.GetElapsedTime(minuteStart).TotalSeconds;
            minuteStart = Stopwatch.GetTimestamp();
            if (taken.Count == 0 || seconds < 10)
            {
                continue;
            }

            taken.Sort();
            var heap = GC.GetTotalMemory(forceFullCollection: true) / 1024.0 / 1024.0;
            using var process = Process.GetCurrentProcess();
            rows.Add(new MinuteRow(
                ++minute, taken.Count, seconds, workload.TakeErrors(), Ms(taken, 0.50), Ms(taken, 0.99),
                process.WorkingSet64 / 1024.0 / 1024.0, heap, Interlocked.Exchange(ref workload.ChangesWatched, 0)));
            Console.Error.WriteLine($"  minute {minute}: {taken.Count} calls, p99 {Ms(taken, 0.99):0.00} ms, heap {heap:0.0} MiB");
        }

        return rows;
    }

    private static async Task WatchAsync(Workload workload, CancellationToken stop)
    {
        // A watcher that falls behind is ended with ABORTED naming its last sequence; like the SDK, resume from there.
        ulong since = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using var call = workload.Client.WatchNamespace(new WatchNamespaceRequest { Namespace = Workload.Namespace, Since = since }, cancellationToken: stop);
                await foreach (var change in call.ResponseStream.ReadAllAsync(stop))
                {
                    since = change.Sequence;
                    Interlocked.Increment(ref workload.ChangesWatched);
                }
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Aborted && !stop.IsCancellationRequested)
            {
                Interlocked.Increment(ref workload.WatchResumes);
            }
            catch (RpcException) when (stop.IsCancellationRequested)
            {
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private static double Ms(List<long> sorted, double quantile) =>
        sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Count) - 1, 0, sorted.Count - 1)] * 1000.0 / Stopwatch.Frequency;

    private sealed record MinuteRow(int Minute, int Calls, double Seconds, long Errors, double P50Ms, double P99Ms, double WorkingSetMiB, double HeapMiB, long Changes);

    /// <summary>The mix: creates, gets, lists, metric batches, metadata updates, checkpoints, small uploads and downloads.</summary>
    private sealed class Workload
    {
        public const string Namespace = "soak";

        private readonly string[] _experiments;
        private readonly ConcurrentBag<string> _files = [];
        private readonly byte[] _smallFile = RandomNumberGenerator.GetBytes(4096);
        private long _created;
        private long _errors;
        private long _epoch;

        public long ChangesWatched;

        public long WatchResumes;

        private Workload(ModelStore.ModelStoreClient client, string[] experiments)
        {
            Client = client;
            _experiments = experiments;
        }

        public ModelStore.ModelStoreClient Client { get; }

        /// <summary>A seeded experiment (the hostile clients' target).</summary>
        public string FirstExperiment => _experiments[0];

        public ConcurrentQueue<string> ErrorSamples { get; } = new();

        public static async Task<Workload> CreateAsync(ModelStore.ModelStoreClient client)
        {
            var ids = new string[200];
            for (var i = 0; i < ids.Length; i++)
            {
                ids[i] = (await client.CreateExperimentAsync(new CreateExperimentRequest { Name = $"seed-{i}", Namespace = Namespace })).ExperimentId;
            }

            var workload = new Workload(client, ids);
            await workload.UploadAsync(ids[0]);
            return workload;
        }

        public void ResetErrors()
        {
            Interlocked.Exchange(ref _errors, 0);
            ErrorSamples.Clear();
        }

        public long TakeErrors() => Interlocked.Exchange(ref _errors, 0);

        public async Task NextAsync(Random random)
        {
            var experiment = _experiments[random.Next(_experiments.Length)];
            try
            {
                switch (random.Next(100))
                {
                    case < 10:
                        await Client.CreateExperimentAsync(new CreateExperimentRequest { Name = $"soak-{Interlocked.Increment(ref _created)}", Namespace = Namespace });
                        break;
                    case < 35:
                        await Client.GetExperimentAsync(new GetExperimentRequest { Id = experiment });
                        break;
                    case < 45:
                        await Client.ListExperimentsAsync(new ListExperimentsRequest { Namespace = Namespace, PageSize = 50 });
                        break;
                    case < 65:
                    {
                        var series = new Protocol.MetricSeriesPoints { ParentId = experiment, Key = "loss" };
                        for (var i = 0; i < 100; i++)
                        {
                            series.Values.Add(new MetricsValue { Step = (ulong)i, DVal = random.NextDouble() });
                        }

                        await Client.LogMetricsBatchAsync(new LogMetricsBatchRequest { Series = { series } });
                        break;
                    }

                    case < 80:
                    {
                        var request = new UpdateMetadataRequest { ParentId = experiment, Metadata = new Protocol.Metadata() };
                        request.Metadata.Metadata_["lr"] = Google.Protobuf.WellKnownTypes.Value.ForNumber(random.NextDouble());
                        await Client.UpdateMetadataAsync(request);
                        break;
                    }

                    case < 85:
                        await Client.CreateCheckpointAsync(new CreateCheckpointRequest { ExperimentId = experiment, Epoch = (ulong)Interlocked.Increment(ref _epoch) });
                        break;
                    case < 92:
                        await UploadAsync(experiment);
                        break;
                    default:
                        await DownloadAsync(_files.ElementAt(random.Next(Math.Min(_files.Count, 100))));
                        break;
                }
            }
            catch (RpcException ex)
            {
                Interlocked.Increment(ref _errors);
                if (ErrorSamples.Count < 20)
                {
                    ErrorSamples.Enqueue($"{ex.StatusCode}: {ex.Status.Detail}");
                }
            }
        }

        private async Task UploadAsync(string parent)
        {
            using var call = Client.UploadFile();
            await call.RequestStream.WriteAsync(new UploadFileRequest { Metadata = new FileMetadata { ParentId = parent, Path = "small.bin" } });
            await call.RequestStream.WriteAsync(new UploadFileRequest { Chunks = ByteString.CopyFrom(_smallFile) });
            await call.RequestStream.CompleteAsync();
            var id = (await call.ResponseAsync).FileId;
            if (_files.Count < 100)
            {
                _files.Add(id);
            }
        }

        private async Task DownloadAsync(string id)
        {
            using var call = Client.DownloadFile(new DownloadFileRequest { FileId = id });
            await foreach (var frame in call.ResponseStream.ReadAllAsync())
            {
            }
        }
    }
}
