using System.Globalization;
using System.Text;
using System.Text.Json;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using ModelBox.Cli.Hosting;
using ModelBox.Protocol;
using ModelBox.Server.Configuration;

namespace ModelBox.Benchmarks;

/// <summary>
/// `mlflow-ingest [seconds]`: MLflow's runs/log-batch (1,000 metrics per request: 100 keys × 10 steps, JSON over
/// HTTP/1.1) from 8 concurrent clients, each on its own run, beside ModelBox's own LogMetricsBatch (gRPC, the same 1,000
/// points per call) in the same run against the same in-process server (SQLite). Prints points/s and the ratio.
/// </summary>
public static class MlflowIngestBenchmark
{
    private const int Clients = 8;
    private const int Keys = 100;
    private const int StepsPerRequest = 10;
    private const int PointsPerRequest = Keys * StepsPerRequest;

    public static async Task RunAsync(string[] args)
    {
        var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 10;
        var dataDir = Directory.CreateTempSubdirectory("modelbox-bench-mlflow-").FullName;
        await using var server = ServerStorage.CreateServer(
            new ServerConfig { ListenAddr = "127.0.0.1:0", HttpListenAddr = "127.0.0.1:0", PrometheusListenAddr = "127.0.0.1:0", DataDir = dataDir },
            logging => logging.SetMinimumLevel(LogLevel.Warning));
        await server.StartAsync();
        try
        {
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = Clients };
            using var http = new HttpClient(handler) { BaseAddress = new Uri(server.HttpAddress) };
            using var channel = GrpcChannel.ForAddress(server.GrpcAddress);
            var grpc = new ModelStore.ModelStoreClient(channel);

            var experimentId = (await PostAsync(http, "experiments/create", """{"name": "bench-ingest"}""")).GetProperty("experiment_id").GetString()!;
            var mlflowRuns = new string[Clients];
            var nativeRuns = new string[Clients];
            for (var i = 0; i < Clients; i++)
            {
                var created = await PostAsync(http, "runs/create", $$"""{"experiment_id": "{{experimentId}}", "run_name": "mlflow-{{i}}", "start_time": 1700000000000}""");
                mlflowRuns[i] = created.GetProperty("run").GetProperty("info").GetProperty("run_id").GetString()!;
                nativeRuns[i] = (await grpc.CreateExperimentAsync(new CreateExperimentRequest { Namespace = "bench-native", Name = $"native-{i}" })).ExperimentId;
            }

            // Each client owns a run and moves its steps forward, as a training loop does.
            var mlflowSteps = new long[Clients];
            var nativeSteps = new long[Clients];
            var nextMlflow = -1;
            var nextNative = -1;
            var warmUp = TimeSpan.FromSeconds(2);
            var duration = TimeSpan.FromSeconds(seconds);

            var native = await LoadRunner.MeasureAsync("ModelBox LogMetricsBatch (gRPC)", async () =>
            {
                var client = (int)((uint)Interlocked.Increment(ref nextNative) % Clients);
                var first = Interlocked.Add(ref nativeSteps[client], StepsPerRequest) - StepsPerRequest;
                var request = new LogMetricsBatchRequest();
                var wallclock = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
                for (var k = 0; k < Keys; k++)
                {
                    var series = new MetricSeriesPoints { ParentId = nativeRuns[client], Key = $"metric_{k}" };
                    for (var s = 0; s < StepsPerRequest; s++)
                    {
                        series.Values.Add(new MetricsValue { Step = (ulong)(first + s), WallclockTime = wallclock, DVal = k + s * 0.001 });
                    }

                    request.Series.Add(series);
                }

                await grpc.LogMetricsBatchAsync(request);
            }, Clients, warmUp, duration);

            var mlflow = await LoadRunner.MeasureAsync("MLflow runs/log-batch (JSON)", async () =>
            {
                var client = (int)((uint)Interlocked.Increment(ref nextMlflow) % Clients);
                var first = Interlocked.Add(ref mlflowSteps[client], StepsPerRequest) - StepsPerRequest;
                var timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                var body = new StringBuilder(PointsPerRequest * 80).Append("{\"run_id\": \"").Append(mlflowRuns[client]).Append("\", \"metrics\": [");
                for (var k = 0; k < Keys; k++)
                {
                    for (var s = 0; s < StepsPerRequest; s++)
                    {
                        if (k + s > 0)
                        {
                            body.Append(", ");
                        }

                        body.Append(CultureInfo.InvariantCulture, $"{{\"key\": \"metric_{k}\", \"value\": {k + s * 0.001}, \"timestamp\": {timestamp}, \"step\": {first + s}}}");
                    }
                }

                body.Append("]}");
                using var content = new StringContent(body.ToString(), Encoding.UTF8, "application/json");
                using var response = await http.PostAsync(new Uri("/api/2.0/mlflow/runs/log-batch", UriKind.Relative), content);
                response.EnsureSuccessStatusCode();
            }, Clients, warmUp, duration);

            Console.WriteLine($"# MLflow log-batch ingest: {Clients} clients, {PointsPerRequest} metrics per request ({Keys} keys × {StepsPerRequest} steps), "
                + $"SQLite in {dataDir}, {seconds:0.#} s per cell, {Environment.ProcessorCount} cores");
            Console.WriteLine();
            Console.WriteLine("| operation | clients | requests/s | points/s | p50 ms | p99 ms | vs LogMetricsBatch |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
            foreach (var cell in new[] { native, mlflow })
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {cell.Operation} | {cell.Concurrency} | {cell.CallsPerSecond:0.0} | {cell.CallsPerSecond * PointsPerRequest:0} | {cell.P50Ms:0.0} | {cell.P99Ms:0.0} | {cell.CallsPerSecond / native.CallsPerSecond:0.00} |"));
            }
        }
        finally
        {
            await server.StopAsync();
            Directory.Delete(dataDir, recursive: true);
        }
    }

    /// <summary>POSTs to an MLflow endpoint and returns the answer, failing on an error.</summary>
    internal static async Task<JsonElement> PostAsync(HttpClient http, string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri("/api/2.0/mlflow/" + path, UriKind.Relative), content);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{path} answered {(int)response.StatusCode}: {text}");
        }

        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }
}
