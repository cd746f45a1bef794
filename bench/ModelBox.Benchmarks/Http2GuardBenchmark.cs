using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelBox.Server.Hosting;

namespace ModelBox.Benchmarks;

/// <summary>
/// The cost of the HTTP/2 stream-reuse guard (docs/reliability.md), which the server runs first on every HTTP/2
/// request: a no-op HTTP/2 request (an empty 200, the cheapest call there is, where the guard's share is largest) to a
/// bare Kestrel with the guard and, in the same run, to one without, in alternating rounds; the ratio of the totals
/// is the result.
/// Usage: http2-guard [--seconds 5] [--warmup 1] [--concurrency 1,16,64]
/// </summary>
public static class Http2GuardBenchmark
{
    private const int Rounds = 3;

    public static async Task RunAsync(string[] args)
    {
        var options = BenchOptions.Parse(args);
        Console.WriteLine($"http2-guard: guard available on this Kestrel: {Http2StreamReuseGuard.IsAvailable}; {Rounds} alternating rounds of {options.Duration.TotalSeconds:0} s");
        await using var guarded = await NoOpHost.StartAsync(guarded: true);
        await using var bare = await NoOpHost.StartAsync(guarded: false);
        Console.WriteLine("| concurrency | without guard calls/s | with guard calls/s | with / without | p50 ms without / with | p99 ms without / with |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var concurrency in options.Concurrencies)
        {
            var cells = new List<(CellResult Bare, CellResult Guarded)>();
            for (var round = 0; round < Rounds; round++)
            {
                var without = await LoadRunner.MeasureAsync("without guard", bare.CallAsync, concurrency, options.WarmUp, options.Duration);
                var with = await LoadRunner.MeasureAsync("with guard", guarded.CallAsync, concurrency, options.WarmUp, options.Duration);
                cells.Add((without, with));
            }

            double Rate(Func<(CellResult Bare, CellResult Guarded), CellResult> pick) =>
                cells.Sum(c => pick(c).Calls) / cells.Sum(c => pick(c).Elapsed.TotalSeconds);
            var (rateWithout, rateWith) = (Rate(c => c.Bare), Rate(c => c.Guarded));
            Console.WriteLine(
                $"| {concurrency} | {rateWithout:0} | {rateWith:0} | {rateWith / rateWithout:P1} | {cells.Average(c => c.Bare.P50Ms):0.000} / {cells.Average(c => c.Guarded.P50Ms):0.000} "
                + $"| {cells.Average(c => c.Bare.P99Ms):0.000} / {cells.Average(c => c.Guarded.P99Ms):0.000} |");
        }
    }

    /// <summary>Kestrel on a loopback port (HTTP/2 cleartext) answering <c>/noop</c> with an empty 200.</summary>
    private sealed class NoOpHost : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly HttpClient _client;

        private NoOpHost(WebApplication app, HttpClient client)
        {
            _app = app;
            _client = client;
        }

        public static async Task<NoOpHost> StartAsync(bool guarded)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, endpoint => endpoint.Protocols = HttpProtocols.Http2));
            var app = builder.Build();
            if (guarded)
            {
                app.UseHttp2StreamReuseGuard();
            }

            app.MapGet("/noop", () => Microsoft.AspNetCore.Http.Results.Ok());
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            var client = new HttpClient(new SocketsHttpHandler { EnableMultipleHttp2Connections = true })
            {
                BaseAddress = new Uri(address),
                DefaultRequestVersion = HttpVersion.Version20,
                DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            return new NoOpHost(app, client);
        }

        public async Task CallAsync()
        {
            using var response = await _client.GetAsync("/noop");
            response.EnsureSuccessStatusCode();
        }

        public async ValueTask DisposeAsync()
        {
            _client.Dispose();
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
