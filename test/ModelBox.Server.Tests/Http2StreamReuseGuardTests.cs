using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelBox.Server.Hosting;

namespace ModelBox.Server.Tests;

/// <summary>
/// The HTTP/2 stream-reuse guard against a real Kestrel over loopback. Kestrel's race (see <see cref="Http2StreamReuseGuard"/>)
/// needs a preempted thread at one point, so it cannot be forced; its result can: a finished stream whose output producer
/// is still marked scheduled, pooled and reused for the connection's next request. The first response here is left in
/// that state; the calls after it must all be answered with the guard, and one of them hangs without it (which shows that
/// this Kestrel still reuses such a stream: when that test fails, Kestrel resets the flag itself and the guard can go).
/// </summary>
public sealed class Http2StreamReuseGuardTests
{
    private const int BodyBytes = 300 * 1024;

    [Fact]
    public async Task A_stream_reused_with_a_stale_scheduled_flag_is_answered_with_the_guard()
    {
        var cleared = Http2StreamReuseGuard.Cleared;
        await using var host = await PoisoningHost.StartAsync(guarded: true);
        var outcomes = await host.PoisonThenCallAsync(TimeSpan.FromSeconds(20));
        Assert.All(outcomes, outcome => Assert.Equal(BodyBytes, outcome));
        Assert.True(Http2StreamReuseGuard.Cleared > cleared, "the guard never found the stale flag the first call left, so the test proved nothing");
    }

    [Fact]
    public async Task Without_the_guard_this_Kestrel_leaves_the_call_on_such_a_stream_unanswered()
    {
        Assert.True(Http2StreamReuseGuard.IsAvailable, "this Kestrel lacks the internals the guard reads");
        await using var host = await PoisoningHost.StartAsync(guarded: false);
        var outcomes = await host.PoisonThenCallAsync(TimeSpan.FromSeconds(3));
        Assert.Contains(null, outcomes);
    }

    /// <summary>A Kestrel host (HTTP/2 cleartext on loopback) whose <c>/data</c> answers <see cref="BodyBytes"/> bytes, and
    /// which leaves the stream of a call marked <c>x-poison</c> as the race leaves it.</summary>
    private sealed class PoisoningHost : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly HttpClient _client;
        private readonly TaskCompletionSource _poisoned = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private PoisoningHost(WebApplication app, string address)
        {
            _app = app;
            _client = new HttpClient(new SocketsHttpHandler())
            {
                BaseAddress = new Uri(address),
                DefaultRequestVersion = HttpVersion.Version20,
                DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
        }

        public static async Task<PoisoningHost> StartAsync(bool guarded)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, endpoint => endpoint.Protocols = HttpProtocols.Http2));
            var app = builder.Build();
            PoisoningHost? host = null;
            if (guarded)
            {
                app.UseHttp2StreamReuseGuard();
            }

            app.Use(async (context, next) =>
            {
                if (context.Request.Headers.ContainsKey("x-poison"))
                {
                    var producers = Http2StreamReuseGuard.Producers!;
                    var producer = producers.Of(context)!;
                    // After the response has been written to the end and before Kestrel finishes the stream and pools it.
                    context.Response.OnCompleted(async () =>
                    {
                        while (!producers.CompletedResponse(producer))
                        {
                            await Task.Delay(5);
                        }

                        producers.MarkScheduled(producer);
                        host!._poisoned.TrySetResult();
                    });
                }

                await next(context);
            });
            app.MapGet("/data", async context =>
            {
                var chunk = new byte[64 * 1024];
                for (var sent = 0; sent < BodyBytes; sent += chunk.Length)
                {
                    await context.Response.Body.WriteAsync(chunk.AsMemory(0, Math.Min(chunk.Length, BodyBytes - sent)), context.RequestAborted);
                }
            });
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            host = new PoisoningHost(app, address);
            return host;
        }

        /// <summary>One call whose stream is left marked, then three more on the same connection: the body length each
        /// received, or null for a call that got no answer within <paramref name="patience"/>.</summary>
        public async Task<List<int?>> PoisonThenCallAsync(TimeSpan patience)
        {
            using (var request = new HttpRequestMessage(HttpMethod.Get, "/data") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact })
            {
                request.Headers.Add("x-poison", "1");
                using var response = await _client.SendAsync(request);
                var body = await response.Content.ReadAsByteArrayAsync();
                Assert.True(body.Length == BodyBytes, $"{response.StatusCode}: {System.Text.Encoding.UTF8.GetString(body)}");
            }

            await _poisoned.Task.WaitAsync(TimeSpan.FromSeconds(30));
            // Kestrel pools the finished stream once its request processing has ended (just after the callback above), and
            // keeps it for the connection's next request for 5 s.
            await Task.Delay(TimeSpan.FromSeconds(1));
            var outcomes = new List<int?>();
            for (var call = 0; call < 3; call++)
            {
                using var timeout = new CancellationTokenSource(patience);
                try
                {
                    using var response = await _client.GetAsync("/data", timeout.Token);
                    outcomes.Add((await response.Content.ReadAsByteArrayAsync(timeout.Token)).Length);
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested)
                {
                    outcomes.Add(null);
                }
            }

            return outcomes;
        }

        public async ValueTask DisposeAsync()
        {
            _client.Dispose();
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _app.StopAsync(stop.Token);
            await _app.DisposeAsync();
        }
    }
}
