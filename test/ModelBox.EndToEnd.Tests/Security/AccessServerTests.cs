using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelBox.Domain.Access;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Security;

/// <summary>Access control on servers of their own: throttling, public read, start-up.</summary>
public sealed class AccessServerTests
{
    [Fact]
    public async Task A_client_that_keeps_failing_to_authenticate_is_refused_before_its_tokens_are_looked_at()
    {
        await using var server = await StartAsync(config => config with { AuthMode = "enforced", AuthFailuresPerMinute = 3 });
        var (admin, _) = await AdminAsync(server);
        using var channel = GrpcChannel.ForAddress(server.Address);
        var client = new ModelStore.ModelStoreClient(channel);
        var bad = new global::Grpc.Core.Metadata { { "authorization", "Bearer mbx_000000000000_" + new string('x', 43) } };
        for (var i = 0; i < 3; i++)
        {
            var failed = await Assert.ThrowsAsync<RpcException>(() => client.ListNamespacesAsync(new ListNamespacesRequest(), bad).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, failed.StatusCode);
        }

        // The limit is per client address, and it holds even for a good token from the same address.
        var good = new global::Grpc.Core.Metadata { { "authorization", "Bearer " + admin } };
        var throttled = await Assert.ThrowsAsync<RpcException>(() => client.ListNamespacesAsync(new ListNamespacesRequest(), good).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, throttled.StatusCode);
        Assert.Contains("failures_per_minute", throttled.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Anonymous_callers_read_a_public_subtree_and_nothing_else()
    {
        await using var server = await StartAsync(config => config with { AuthMode = "enforced" });
        var (adminToken, directory) = await AdminAsync(server);
        var admin = await directory.AuthenticateTokenAsync(adminToken);
        await directory.SetGrantAsync(admin, "anonymous", "public", "viewer");
        using var channel = GrpcChannel.ForAddress(server.Address);
        var asAdmin = new global::Grpc.Core.Metadata { { "authorization", "Bearer " + adminToken } };
        var client = new ModelStore.ModelStoreClient(channel);
        var open = await client.CreateExperimentAsync(new CreateExperimentRequest { Namespace = "public/datasets", Name = "open" }, asAdmin);
        var closed = await client.CreateExperimentAsync(new CreateExperimentRequest { Namespace = "private", Name = "closed" }, asAdmin);

        // An unchanged original SDK sends no token: it reads the public subtree.
        Assert.Equal("open", (await client.GetExperimentAsync(new GetExperimentRequest { Id = open.ExperimentId })).Experiment.Name);
        var names = (await client.ListNamespacesAsync(new ListNamespacesRequest())).Namespaces.Select(n => n.Name).ToList();
        Assert.Contains("public/datasets", names);
        Assert.DoesNotContain("private", names);
        var read = await Assert.ThrowsAsync<RpcException>(() => client.GetExperimentAsync(new GetExperimentRequest { Id = closed.ExperimentId }).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, read.StatusCode);
        var write = await Assert.ThrowsAsync<RpcException>(() => client.CreateExperimentAsync(new CreateExperimentRequest { Namespace = "public", Name = "x" }).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, write.StatusCode);
    }

    [Fact]
    public async Task Auth_off_on_a_network_listener_is_warned_about_at_start_up_and_on_loopback_not()
    {
        var onNetwork = new ConcurrentQueue<string>();
        await using (await StartAsync(config => config with { ListenAddr = "0.0.0.0:0" }, onNetwork))
        {
        }

        Assert.Contains(onNetwork, line => line.Contains("Access control is off", StringComparison.Ordinal));

        var onLoopback = new ConcurrentQueue<string>();
        await using (await StartAsync(config => config, onLoopback))
        {
        }

        Assert.DoesNotContain(onLoopback, line => line.Contains("Access control is off", StringComparison.Ordinal));
    }

    private static async Task<(string Token, AccessDirectory Directory)> AdminAsync(OwnServer server)
    {
        var directory = server.Fixture.Server.Services.GetRequiredService<AccessDirectory>();
        return ((await directory.BootstrapAdminAsync("root", force: true))!.Value.Token, directory);
    }

    private static async Task<OwnServer> StartAsync(Func<Server.Configuration.ServerConfig, Server.Configuration.ServerConfig> configure, ConcurrentQueue<string>? warnings = null)
    {
        var fixture = new ModelBoxServerFixture
        {
            Configure = configure,
            ConfigureLogging = warnings is null ? null : logging => logging.AddProvider(new WarningCollector(warnings)),
        };
        await fixture.InitializeAsync();
        return new OwnServer(fixture);
    }

    private sealed class OwnServer(ModelBoxServerFixture fixture) : IAsyncDisposable
    {
        public ModelBoxServerFixture Fixture => fixture;

        public string Address => fixture.Address;

        public async ValueTask DisposeAsync() => await fixture.DisposeAsync();
    }

    private sealed class WarningCollector(ConcurrentQueue<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(lines);

        public void Dispose()
        {
        }

        private sealed class Logger(ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue(formatter(state, exception));
        }
    }
}
