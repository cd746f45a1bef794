using System.Globalization;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using ModelBox.Protocol;
using ModelBox.Server.Configuration;
using ModelBox.Cli.Hosting;

namespace ModelBox.Benchmarks;

/// <summary>
/// `rest`: GetExperiment through the REST/JSON listener (HTTP/1.1, JSON transcoding) beside the same call over gRPC,
/// and beside the REST no-op baseline (GET /api/v1/server-info, which touches no store), in one run.
/// </summary>
public static class RestBenchmark
{
    public static async Task RunAsync(string[] args)
    {
        var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        var dataDir = Directory.CreateTempSubdirectory("modelbox-bench-rest-").FullName;
        await using var server = ServerStorage.CreateServer(
            new ServerConfig { ListenAddr = "127.0.0.1:0", HttpListenAddr = "127.0.0.1:0", PrometheusListenAddr = "127.0.0.1:0", DataDir = dataDir },
            logging => logging.SetMinimumLevel(LogLevel.Warning));
        await server.StartAsync();
        try
        {
            using var channel = GrpcChannel.ForAddress(server.GrpcAddress);
            var grpc = new ModelStore.ModelStoreClient(channel);
            var ids = new string[100];
            for (var i = 0; i < ids.Length; i++)
            {
                ids[i] = (await grpc.CreateExperimentAsync(new CreateExperimentRequest { Name = $"rest-{i}", Namespace = "bench" })).ExperimentId;
            }

            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 64 };
            using var http = new HttpClient(handler) { BaseAddress = new Uri(server.HttpAddress) };
            var next = 0;
            string NextId() => ids[(int)((uint)Interlocked.Increment(ref next) % ids.Length)];

            Console.WriteLine("| operation | concurrency | calls/s | p50 ms | p99 ms | vs REST no-op |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|");
            foreach (var concurrency in new[] { 1, 16 })
            {
                var warmUp = TimeSpan.FromSeconds(1);
                var duration = TimeSpan.FromSeconds(seconds);
                var noop = await LoadRunner.MeasureAsync("REST no-op (GET /api/v1/server-info)", async () =>
                {
                    using var response = await http.GetAsync(new Uri("/api/v1/server-info", UriKind.Relative));
                    response.EnsureSuccessStatusCode();
                    await response.Content.ReadAsByteArrayAsync();
                }, concurrency, warmUp, duration);
                var rest = await LoadRunner.MeasureAsync("REST GetExperiment (GET /api/v1/experiments/{id})", async () =>
                {
                    using var response = await http.GetAsync(new Uri("/api/v1/experiments/" + NextId(), UriKind.Relative));
                    response.EnsureSuccessStatusCode();
                    await response.Content.ReadAsByteArrayAsync();
                }, concurrency, warmUp, duration);
                var viaGrpc = await LoadRunner.MeasureAsync("gRPC GetExperiment", async () =>
                    await grpc.GetExperimentAsync(new GetExperimentRequest { Id = NextId() }), concurrency, warmUp, duration);
                foreach (var cell in new[] { noop, rest, viaGrpc })
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {cell.Operation} | {cell.Concurrency} | {cell.CallsPerSecond:0} | {cell.P50Ms:0.000} | {cell.P99Ms:0.000} | {cell.CallsPerSecond / noop.CallsPerSecond:0.00} |"));
                }
            }
        }
        finally
        {
            await server.StopAsync();
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
