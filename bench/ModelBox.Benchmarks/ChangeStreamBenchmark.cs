using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using ModelBox.Protocol;
using ModelBox.Server.Configuration;
using ModelBox.Cli.Hosting;

namespace ModelBox.Benchmarks;

/// <summary>
/// <c>changes</c> mode: commit-to-receipt latency of the change stream with many concurrent watchers.
/// <para>
/// The client cannot see the commit instant, so each sample runs from the moment the CreateExperiment call is sent to
/// the moment a watcher receives its change. The raw baseline, measured in the same run, is the same CreateExperiment
/// call's own round trip without any watcher: the commit lies inside that round trip, so "receipt minus baseline" is
/// what the change stream adds (signal, one log read per namespace, fan-out, one more HTTP/2 message per watcher).
/// Creates are issued one at a time, the next once every watcher has the previous one: this measures latency, not a
/// saturated queue.
/// </para>
/// </summary>
public static class ChangeStreamBenchmark
{
    public static async Task RunAsync(string[] args)
    {
        var watchers = 100;
        var changes = 300;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            _ = args[i] switch
            {
                "--watchers" => watchers = value,
                "--changes" => changes = value,
                _ => throw new ArgumentException($"unknown option {args[i]}\nusage: ModelBox.Benchmarks changes [--watchers 100] [--changes 300]"),
            };
        }

        var dataDir = Directory.CreateTempSubdirectory("modelbox-bench-changes-").FullName;
        var server = ServerStorage.CreateServer(
            new ServerConfig { ListenAddr = "127.0.0.1:0", DataDir = dataDir },
            logging => logging.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());
        try
        {
            await server.StartAsync();
            // Watchers may exceed one connection's stream limit (Kestrel allows 100 per connection): let the handler open more.
            using var channel = GrpcChannel.ForAddress(server.GrpcAddress, new GrpcChannelOptions
            {
                HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
            });
            var store = new ModelStore.ModelStoreClient(channel);

            Console.WriteLine("# ModelBox change-stream benchmark");
            Console.WriteLine();
            Console.WriteLine($"server {server.GrpcAddress} (in-process, SQLite), .NET {Environment.Version}, {Environment.ProcessorCount} cores, "
                + $"{watchers} watchers, {changes} changes, creates issued one at a time");

            // Baseline: the create round trip with nobody watching (after a warm-up).
            for (var i = 0; i < 50; i++)
            {
                await store.CreateExperimentAsync(New("base", $"warm-{i}"));
            }

            var baseline = new List<double>();
            for (var i = 0; i < changes; i++)
            {
                var start = Stopwatch.GetTimestamp();
                await store.CreateExperimentAsync(New("base", $"base-{i}"));
                baseline.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }

            // The watchers: one stream each, all on namespace "watched".
            using var stop = new CancellationTokenSource();
            var sent = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
            var receipts = new ConcurrentBag<double>();
            var lastReceipt = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
            var pending = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
            var allReceived = new ConcurrentDictionary<string, TaskCompletionSource>(StringComparer.Ordinal);
            var tasks = Enumerable.Range(0, watchers).Select(_ => Task.Run(async () =>
            {
                using var call = store.WatchNamespace(new WatchNamespaceRequest { Namespace = "watched" }, cancellationToken: stop.Token);
                try
                {
                    await foreach (var change in call.ResponseStream.ReadAllAsync(stop.Token))
                    {
                        var now = Stopwatch.GetTimestamp();
                        var id = change.ObjectId;
                        if (sent.TryGetValue(id, out var start))
                        {
                            receipts.Add(Stopwatch.GetElapsedTime(start, now).TotalMilliseconds);
                            lastReceipt.AddOrUpdate(id, now, (_, previous) => Math.Max(previous, now));
                        }

                        if (pending.AddOrUpdate(id, watchers - 1, (_, left) => left - 1) == 0)
                        {
                            allReceived.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                        }
                    }
                }
                catch (RpcException) when (stop.IsCancellationRequested)
                {
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                }
            })).ToList();

            async Task<(string Id, double RpcMs)> CreateAndAwaitAllAsync(string name)
            {
                var request = New("watched", name);
                var id = ModelBox.Domain.ObjectIds.Experiment("watched", name);
                var done = allReceived.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                var start = Stopwatch.GetTimestamp();
                sent[id] = start;
                await store.CreateExperimentAsync(request);
                var rpc = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                await done.Task.WaitAsync(TimeSpan.FromSeconds(60));
                return (id, rpc);
            }

            // Warm-up: every watcher connected and has received at least one change.
            for (var i = 0; i < 20; i++)
            {
                await CreateAndAwaitAllAsync($"warm-{i}");
            }

            receipts.Clear();
            var rpcWithWatchers = new List<double>();
            var slowest = new List<double>();
            for (var i = 0; i < changes; i++)
            {
                var (id, rpc) = await CreateAndAwaitAllAsync($"change-{i}");
                rpcWithWatchers.Add(rpc);
                slowest.Add(Stopwatch.GetElapsedTime(sent[id], lastReceipt[id]).TotalMilliseconds);
            }

            await stop.CancelAsync();
            await Task.WhenAll(tasks);

            var baseP50 = Percentile(baseline, 0.50);
            var baseP99 = Percentile(baseline, 0.99);
            Console.WriteLine();
            Console.WriteLine("| measurement | samples | p50 ms | p99 ms | p50 / baseline p50 | p99 / baseline p99 |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|");
            Row("CreateExperiment round trip, no watchers (baseline)", baseline);
            Row($"CreateExperiment round trip, {watchers} watchers", rpcWithWatchers);
            Row($"send -> receipt, every watcher ({watchers} x {changes})", [.. receipts]);
            Row($"send -> receipt, slowest of {watchers} watchers", slowest);

            void Row(string name, List<double> samples) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {samples.Count} | {Percentile(samples, 0.50):0.000} | {Percentile(samples, 0.99):0.000} | "
                + $"{Percentile(samples, 0.50) / baseP50:0.00} | {Percentile(samples, 0.99) / baseP99:0.00} |"));
        }
        finally
        {
            await server.StopAsync();
            await server.DisposeAsync();
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static CreateExperimentRequest New(string @namespace, string name) =>
        new() { Name = name, Namespace = @namespace, Owner = "bench@example.com", Framework = MLFramework.Pytorch, Task = "asr" };

    // Nearest-rank percentile, as the RPC benchmark computes it.
    private static double Percentile(List<double> samples, double quantile)
    {
        var sorted = samples.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Count) - 1, 0, sorted.Count - 1)];
    }
}
