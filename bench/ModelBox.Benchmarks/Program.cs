using System.Globalization;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using ModelBox.Benchmarks;
using ModelBox.Protocol;
using ModelBox.Server.Configuration;
using ModelBox.Cli.Hosting;

// RPC benchmark: an in-process server on loopback, a real HTTP/2 gRPC channel, and for each concurrency the
// no-op RPC (health Check) measured in the same run as the baseline the store's RPCs are compared with.
if (args.Length > 0 && args[0].StartsWith("metrics-", StringComparison.Ordinal))
{
    await ModelBox.Benchmarks.Metrics.MetricBenchmarks.RunAsync(args);
    return;
}

if (args.Length > 0 && args[0] == "relational-ingest")
{
    Environment.ExitCode = await RelationalIngestBenchmark.RunAsync(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "copy-data")
{
    Environment.ExitCode = await CopyDataBenchmark.RunAsync(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "backup")
{
    Environment.ExitCode = await BackupBenchmark.RunAsync(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "search")
{
    await SearchBenchmark.RunAsync(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "changes")
{
    await ChangeStreamBenchmark.RunAsync(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "rest")
{
    await RestBenchmark.RunAsync(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "http2-guard")
{
    await Http2GuardBenchmark.RunAsync(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "auth")
{
    await AuthBenchmark.RunAsync(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "mlflow-ingest")
{
    await MlflowIngestBenchmark.RunAsync(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "mlflow-bulk-interval")
{
    await MlflowBulkIntervalBenchmark.RunAsync(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "soak")
{
    Environment.ExitCode = await SoakBenchmark.RunAsync(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "webui")
{
    Environment.ExitCode = await WebUiBenchmark.RunAsync(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "webui-screenshots")
{
    Environment.ExitCode = await WebUiBenchmark.ScreenshotsAsync(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "artifacts-server")
{
    Environment.ExitCode = await ArtifactBenchmark.ServeAsync(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "artifacts")
{
    Environment.ExitCode = await ArtifactBenchmark.RunAsync(args[1..]);
    return;
}

var options = BenchOptions.Parse(args);
var dataDir = Directory.CreateTempSubdirectory("modelbox-bench-").FullName;
var server = ServerStorage.CreateServer(
    new ServerConfig { ListenAddr = "127.0.0.1:0", HttpListenAddr = "127.0.0.1:0", PrometheusListenAddr = "127.0.0.1:0", DataDir = dataDir },
    logging => logging.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());
try
{
    await server.StartAsync();
    var address = server.GrpcAddress;

    // One channel for every worker: HTTP/2 multiplexes the calls over one connection, as a real client would.
    using var channel = GrpcChannel.ForAddress(address);
    var health = new Health.HealthClient(channel);
    var store = new ModelStore.ModelStoreClient(channel);

    Console.WriteLine($"# ModelBox RPC benchmark");
    Console.WriteLine();
    Console.WriteLine($"server {address} (in-process, SQLite in {dataDir}), .NET {Environment.Version}, {Environment.ProcessorCount} cores, "
        + $"warm-up {options.WarmUp.TotalSeconds:0.#} s, {options.Duration.TotalSeconds:0.#} s per cell");

    var experimentIds = new string[options.PreCreated];
    for (var i = 0; i < experimentIds.Length; i++)
    {
        var created = await store.CreateExperimentAsync(NewExperiment($"get-{i}"));
        experimentIds[i] = created.ExperimentId;
    }

    long createCounter = 0;
    long getCounter = 0;
    var operations = new (string Name, Func<Task> Call)[]
    {
        ("no-op (health Check)", async () => await health.CheckAsync(new HealthCheckRequest { Service = "liveness" })),
        ("CreateExperiment", async () =>
            await store.CreateExperimentAsync(NewExperiment($"create-{Interlocked.Increment(ref createCounter)}"))),
        ("GetExperiment", async () =>
            await store.GetExperimentAsync(new GetExperimentRequest
            {
                Id = experimentIds[(int)(Interlocked.Increment(ref getCounter) % experimentIds.Length)],
            })),
    };

    var results = new List<CellResult>();
    foreach (var concurrency in options.Concurrencies)
    {
        foreach (var (name, call) in operations)
        {
            var result = await LoadRunner.MeasureAsync(name, call, concurrency, options.WarmUp, options.Duration);
            Console.Error.WriteLine($"  {name} x{concurrency}: {result.CallsPerSecond:0} calls/s");
            results.Add(result);
        }
    }

    Console.WriteLine();
    Console.WriteLine("| operation | concurrency | calls/s | p50 ms | p99 ms | vs no-op |");
    Console.WriteLine("|---|---:|---:|---:|---:|---:|");
    foreach (var r in results)
    {
        var baseline = results.First(b => b.Concurrency == r.Concurrency && b.Operation == operations[0].Name);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {r.Operation} | {r.Concurrency} | {r.CallsPerSecond:0} | {r.P50Ms:0.000} | {r.P99Ms:0.000} | {r.CallsPerSecond / baseline.CallsPerSecond:0.00} |"));
    }

    var goalConcurrency = options.Concurrencies.Max();
    var get = results.First(r => r.Operation == "GetExperiment" && r.Concurrency == goalConcurrency);
    var noop = results.First(r => r.Operation == operations[0].Name && r.Concurrency == goalConcurrency);
    var ratio = get.CallsPerSecond / noop.CallsPerSecond;
    Console.WriteLine();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"goal at concurrency {goalConcurrency}: GetExperiment throughput >= 50% of no-op: {ratio:P0} ({(ratio >= 0.5 ? "met" : "MISSED")}); "
        + $"p99 <= 5 ms: {get.P99Ms:0.00} ms ({(get.P99Ms <= 5 ? "met" : "MISSED")})"));
}
finally
{
    await server.StopAsync();
    await server.DisposeAsync();
    Directory.Delete(dataDir, recursive: true);
}

static CreateExperimentRequest NewExperiment(string name)
{
    var request = new CreateExperimentRequest
    {
        Name = name,
        Namespace = "bench",
        Owner = "bench@example.com",
        Framework = MLFramework.Pytorch,
        Task = "asr",
        Metadata = new Metadata(),
    };
    request.Metadata.Metadata_["lr"] = Google.Protobuf.WellKnownTypes.Value.ForNumber(0.001);
    return request;
}
