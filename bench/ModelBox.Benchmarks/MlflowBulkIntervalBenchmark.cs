using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using ModelBox.Benchmarks.Metrics;
using ModelBox.Cli.Hosting;
using ModelBox.Protocol;
using ModelBox.Server.Configuration;

namespace ModelBox.Benchmarks;

/// <summary>
/// `mlflow-bulk-interval [--runs 100] [--points 1000000] [--calls 20] [--max-results 320]`: MLflow's
/// metrics/get-history-bulk-interval (one metric of every run, sampled) over runs of N points each, beside ModelBox's own
/// GetMetricSeriesBatch of the same series with the same max points, in the same run against the same in-process server
/// (SQLite). The two are called alternately; prints p50/p99 of each and the ratio of the p50s.
/// </summary>
public static class MlflowBulkIntervalBenchmark
{
    private const int PointsPerRequest = 50_000;

    public static async Task RunAsync(string[] args)
    {
        var runs = Option(args, "--runs", 100);
        var points = Option(args, "--points", 1_000_000);
        var calls = Option(args, "--calls", 20);
        var maxResults = Option(args, "--max-results", 320);
        var dataDir = Directory.CreateTempSubdirectory("modelbox-bench-bulk-").FullName;
        await using var server = ServerStorage.CreateServer(
            new ServerConfig { ListenAddr = "127.0.0.1:0", HttpListenAddr = "127.0.0.1:0", PrometheusListenAddr = "127.0.0.1:0", DataDir = dataDir },
            logging => logging.SetMinimumLevel(LogLevel.Warning));
        await server.StartAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(server.HttpAddress), Timeout = TimeSpan.FromMinutes(5) };
            using var channel = GrpcChannel.ForAddress(server.GrpcAddress, new GrpcChannelOptions { MaxReceiveMessageSize = 256 * 1024 * 1024 });
            var grpc = new ModelStore.ModelStoreClient(channel);

            var experimentId = (await MlflowIngestBenchmark.PostAsync(http, "experiments/create", """{"name": "bench-bulk-interval"}""")).GetProperty("experiment_id").GetString()!;
            var runIds = new string[runs];
            for (var i = 0; i < runs; i++)
            {
                var created = await MlflowIngestBenchmark.PostAsync(http, "runs/create", $$"""{"experiment_id": "{{experimentId}}", "run_name": "run-{{i}}", "start_time": 1700000000000}""");
                runIds[i] = created.GetProperty("run").GetProperty("info").GetProperty("run_id").GetString()!;
            }

            // The points go in through LogMetricsBatch (the fastest path), two requests in flight.
            var ingest = Stopwatch.StartNew();
            var requests = new List<(string Run, int First)>();
            foreach (var run in runIds)
            {
                for (var first = 0; first < points; first += PointsPerRequest)
                {
                    requests.Add((run, first));
                }
            }

            await Parallel.ForEachAsync(requests, new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (request, ct) =>
            {
                var series = new MetricSeriesPoints { ParentId = "exp-" + request.Run, Key = "loss" };
                for (var step = request.First; step < Math.Min(points, request.First + PointsPerRequest); step++)
                {
                    series.Values.Add(new MetricsValue { Step = (ulong)step, WallclockTime = 1_700_000_000 + (ulong)(step / 10), DVal = 1.0 / (step + 1) });
                }

                await grpc.LogMetricsBatchAsync(new LogMetricsBatchRequest { Series = { series } }, cancellationToken: ct);
            });
            ingest.Stop();

            var query = "metrics/get-history-bulk-interval?metric_key=loss&max_results=" + maxResults.ToString(CultureInfo.InvariantCulture)
                + string.Concat(runIds.Select(id => "&run_ids=" + id));
            var batch = new GetMetricSeriesBatchRequest { XAxis = MetricAxis.Step, MaxPoints = (uint)maxResults };
            batch.Series.AddRange(runIds.Select(id => new MetricSeriesRef { ParentId = "exp-" + id, Key = "loss" }));

            var mlflowSamples = new List<double>();
            var nativeSamples = new List<double>();
            var mlflowPoints = 0;
            var nativePoints = 0;
            for (var call = -2; call < calls; call++)
            {
                // Alternate which goes first, so neither always meets a warmer cache.
                var mlflowFirst = call % 2 == 0;
                for (var side = 0; side < 2; side++)
                {
                    var watch = Stopwatch.StartNew();
                    if (mlflowFirst == (side == 0))
                    {
                        using var response = await http.GetAsync(new Uri("/api/2.0/mlflow/" + query, UriKind.Relative));
                        var text = await response.Content.ReadAsStringAsync();
                        response.EnsureSuccessStatusCode();
                        watch.Stop();
                        using var document = JsonDocument.Parse(text);
                        mlflowPoints = document.RootElement.GetProperty("metrics").GetArrayLength();
                        if (call >= 0)
                        {
                            mlflowSamples.Add(watch.Elapsed.TotalMilliseconds);
                        }
                    }
                    else
                    {
                        var answer = await grpc.GetMetricSeriesBatchAsync(batch);
                        watch.Stop();
                        nativePoints = answer.Series.Sum(s => s.Values.Count);
                        if (call >= 0)
                        {
                            nativeSamples.Add(watch.Elapsed.TotalMilliseconds);
                        }
                    }
                }
            }

            mlflowSamples.Sort();
            nativeSamples.Sort();
            var load = File.Exists("/proc/loadavg") ? (await File.ReadAllTextAsync("/proc/loadavg")).Split(' ')[0] : "?";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"# MLflow get-history-bulk-interval: {runs} runs × {points:N0} points (ingested in {ingest.Elapsed.TotalSeconds:0.0} s), max_results {maxResults}, {calls} calls each after 2 warm-up calls, SQLite, {Environment.ProcessorCount} cores, load average {load}"));
            Console.WriteLine();
            Console.WriteLine("| operation | points answered | p50 ms | p99 ms | p50 vs GetMetricSeriesBatch |");
            Console.WriteLine("|---|---:|---:|---:|---:|");
            var nativeP50 = MetricIngestBenchmark.Percentile(nativeSamples, 0.5);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| GetMetricSeriesBatch (gRPC, {runs} series) | {nativePoints} | {nativeP50:0.0} | {MetricIngestBenchmark.Percentile(nativeSamples, 0.99):0.0} | 1.00 |"));
            var mlflowP50 = MetricIngestBenchmark.Percentile(mlflowSamples, 0.5);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| MLflow get-history-bulk-interval (JSON, {runs} run_ids) | {mlflowPoints} | {mlflowP50:0.0} | {MetricIngestBenchmark.Percentile(mlflowSamples, 0.99):0.0} | {mlflowP50 / nativeP50:0.00} |"));
        }
        finally
        {
            await server.StopAsync();
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
