using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelBox.Cli.Hosting;
using ModelBox.Domain.Access;
using ModelBox.Protocol;
using ModelBox.Server.Configuration;
using ModelBox.Server.Hosting;

namespace ModelBox.Benchmarks;

/// <summary>
/// The cost of access control: GetExperiment at a concurrency (default 64) against a server with <c>[auth] mode =
/// "enforced"</c> (a viewer's API token: authentication, the grant check and the object's namespace on every call)
/// and, in the same run, against the same kind of server with auth off. The two are measured in alternating rounds so
/// that the machine's noise falls on both; the ratio of the totals is the result (goal: at least 85 %).
/// Then the first sight of many objects: one GetMetricSummaries call naming objects the server has not seen yet (new
/// ones each round), whose namespaces the enforced server looks up (together, in one read) before the call reads them.
/// Usage: auth [--seconds 5] [--concurrency 64] [--rounds 3] [--experiments 1000] [--unseen 1000]
/// </summary>
public static class AuthBenchmark
{
    public static async Task RunAsync(string[] args)
    {
        var seconds = 5.0;
        var concurrency = 64;
        var rounds = 3;
        var experiments = 1000;
        var unseen = 1000;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--seconds": seconds = value; break;
                case "--concurrency": concurrency = (int)value; break;
                case "--rounds": rounds = (int)value; break;
                case "--experiments": experiments = (int)value; break;
                case "--unseen": unseen = (int)value; break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }

        await using var open = await BenchServer.StartAsync(enforced: false, experiments);
        await using var enforced = await BenchServer.StartAsync(enforced: true, experiments);
        Console.WriteLine("# ModelBox auth overhead: GetExperiment, auth enforced (viewer token) vs auth off");
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $".NET {Environment.Version}, {Environment.ProcessorCount} cores, SQLite, {concurrency} concurrent calls, {rounds} rounds of {seconds:0.#} s each, alternating"));

        var warmUp = TimeSpan.FromSeconds(1);
        var duration = TimeSpan.FromSeconds(seconds);
        // Both servers run in this process: the first seconds of load are spent in the JIT's tier-up (rounds measured
        // then were 70-160 % apart for the same code), so each side first runs unmeasured until its code is steady.
        await LoadRunner.WarmUpAsync(open.GetExperiment, concurrency, TimeSpan.FromSeconds(6));
        await LoadRunner.WarmUpAsync(enforced.GetExperiment, concurrency, TimeSpan.FromSeconds(6));
        var offResults = new List<CellResult>();
        var onResults = new List<CellResult>();
        for (var round = 0; round < rounds; round++)
        {
            // Each round swaps which side goes first, so a drift in the machine's load does not favour one side.
            for (var side = 0; side < 2; side++)
            {
                if ((side + round) % 2 == 0)
                {
                    offResults.Add(await LoadRunner.MeasureAsync("GetExperiment, auth off", open.GetExperiment, concurrency, warmUp, duration));
                }
                else
                {
                    onResults.Add(await LoadRunner.MeasureAsync("GetExperiment, auth enforced", enforced.GetExperiment, concurrency, warmUp, duration));
                }
            }

            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  round {round + 1}: off {offResults[^1].CallsPerSecond:0} calls/s, enforced {onResults[^1].CallsPerSecond:0} calls/s ({onResults[^1].CallsPerSecond / offResults[^1].CallsPerSecond:P1})"));
        }

        Console.WriteLine();
        Console.WriteLine("| operation | calls/s | p50 ms | p99 ms |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var results in new[] { offResults, onResults })
        {
            var callsPerSecond = results.Sum(r => r.Calls) / results.Sum(r => r.Elapsed.TotalSeconds);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {results[0].Operation} | {callsPerSecond:0} | {results.Average(r => r.P50Ms):0.000} | {results.Average(r => r.P99Ms):0.000} |"));
        }

        var ratio = (onResults.Sum(r => r.Calls) / onResults.Sum(r => r.Elapsed.TotalSeconds))
            / (offResults.Sum(r => r.Calls) / offResults.Sum(r => r.Elapsed.TotalSeconds));
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"goal: enforced >= 85% of off at concurrency {concurrency}: {ratio:P1} ({(ratio >= 0.85 ? "met" : "MISSED")})"));

        var firstOff = new List<TimeSpan>();
        var firstOn = new List<TimeSpan>();
        for (var round = 0; round < rounds; round++)
        {
            for (var side = 0; side < 2; side++)
            {
                var off = (side + round) % 2 == 0;
                var server = off ? open : enforced;
                var ids = await server.CreateExperimentsAsync($"unseen-{round}", unseen);
                (off ? firstOff : firstOn).Add(await server.SummariesAsync(ids));
            }
        }

        Console.WriteLine();
        Console.WriteLine("| operation | mean ms | min ms |");
        Console.WriteLine("|---|---:|---:|");
        foreach (var (name, results) in new[] { ("auth off", firstOff), ("auth enforced", firstOn) })
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| GetMetricSummaries of {unseen} objects first seen, {name} | {results.Average(r => r.TotalMilliseconds):0.0} | {results.Min(r => r.TotalMilliseconds):0.0} |"));
        }

        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"first sight of {unseen} objects, enforced / off: {firstOn.Average(r => r.TotalMilliseconds) / firstOff.Average(r => r.TotalMilliseconds):0.00}x"));
    }

    private sealed class BenchServer : IAsyncDisposable
    {
        private readonly ModelBoxServer _server;
        private readonly GrpcChannel _channel;
        private readonly string _dataDir;
        private readonly string[] _ids;
        private readonly ModelStore.ModelStoreClient _store;
        private readonly ModelStore.ModelStoreClient _setup;
        private long _next;

        private BenchServer(
            ModelBoxServer server, GrpcChannel channel, string dataDir, string[] ids, ModelStore.ModelStoreClient store, ModelStore.ModelStoreClient setup)
        {
            _server = server;
            _channel = channel;
            _dataDir = dataDir;
            _ids = ids;
            _store = store;
            _setup = setup;
        }

        public static async Task<BenchServer> StartAsync(bool enforced, int experiments)
        {
            var dataDir = Directory.CreateTempSubdirectory("modelbox-bench-auth-").FullName;
            var server = ServerStorage.CreateServer(
                new ServerConfig
                {
                    ListenAddr = "127.0.0.1:0",
                    HttpListenAddr = "127.0.0.1:0",
                    PrometheusListenAddr = "127.0.0.1:0",
                    DataDir = dataDir,
                    AuthMode = enforced ? "enforced" : "none",
                },
                logging => logging.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());
            string? adminToken = null, viewerToken = null;
            if (enforced)
            {
                // The admin exists before the start, so the server does not bootstrap (and print) one of its own.
                await server.MigrateAsync();
                var directory = server.Services.GetRequiredService<AccessDirectory>();
                adminToken = (await directory.BootstrapAdminAsync("bench-admin", force: false))!.Value.Token;
                var admin = await directory.AuthenticateTokenAsync(adminToken);
                await directory.CreatePrincipalAsync(admin, PrincipalKind.User, "bench-viewer", admin: false);
                await directory.SetGrantAsync(admin, "bench-viewer", "bench", "viewer");
                viewerToken = (await directory.CreateTokenAsync(admin, "bench-viewer", "bench", null)).Token;
            }

            await server.StartAsync();
            var channel = GrpcChannel.ForAddress(server.GrpcAddress);
            var setup = new ModelStore.ModelStoreClient(WithToken(channel, adminToken));
            var ids = await CreateExperimentsAsync(setup, "get", experiments);
            return new BenchServer(server, channel, dataDir, ids, new ModelStore.ModelStoreClient(WithToken(channel, viewerToken)), setup);
        }

        /// <summary>Creates experiments no call has named yet (not timed).</summary>
        public Task<string[]> CreateExperimentsAsync(string prefix, int count) => CreateExperimentsAsync(_setup, prefix, count);

        private static async Task<string[]> CreateExperimentsAsync(ModelStore.ModelStoreClient setup, string prefix, int count)
        {
            var ids = new string[count];
            for (var i = 0; i < ids.Length; i++)
            {
                ids[i] = (await setup.CreateExperimentAsync(new CreateExperimentRequest { Namespace = "bench", Name = $"{prefix}-{i}" })).ExperimentId;
            }

            return ids;
        }

        /// <summary>How long one GetMetricSummaries call naming <paramref name="ids"/> takes.</summary>
        public async Task<TimeSpan> SummariesAsync(string[] ids)
        {
            var started = Stopwatch.GetTimestamp();
            await _store.GetMetricSummariesAsync(new GetMetricSummariesRequest { ParentIds = { ids } });
            return Stopwatch.GetElapsedTime(started);
        }

        public async Task GetExperiment() =>
            await _store.GetExperimentAsync(new GetExperimentRequest { Id = _ids[(int)(Interlocked.Increment(ref _next) % _ids.Length)] });

        private static CallInvoker WithToken(GrpcChannel channel, string? token) =>
            token is null
                ? channel.CreateCallInvoker()
                : channel.Intercept(metadata =>
                {
                    metadata.Add("authorization", "Bearer " + token);
                    return metadata;
                });

        public async ValueTask DisposeAsync()
        {
            _channel.Dispose();
            await _server.StopAsync();
            await _server.DisposeAsync();
            Directory.Delete(_dataDir, recursive: true);
        }
    }
}
