using Grpc.Core;
using Grpc.Health.V1;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;
using Xunit.Abstractions;
using ModelBox.Testing;

namespace ModelBox.EndToEnd.Tests.Replicas;

/// <summary>
/// The metadata database restarts under a running ModelBox: calls fail with UNAVAILABLE (retryable) during the outage, the
/// health service says NOT_SERVING, and everything works again afterwards without restarting ModelBox. The database is a
/// private server, so stopping it disturbs no other test.
/// </summary>
public abstract class DatabaseRestartTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("modelbox-restart-").FullName;
    private IPrivateDatabaseServer? _cluster;
    private IServerTestDatabase? _database;
    private ModelBoxProcess? _server;

    /// <summary>Starts the private database server under test.</summary>
    protected abstract Task<IPrivateDatabaseServer> StartDatabaseServerAsync();

    public async Task InitializeAsync()
    {
        _cluster = await StartDatabaseServerAsync();
        _database = await _cluster.CreateDatabaseAsync("modelbox_restart");
        _server = await ModelBoxProcess.StartAsync(
            new Dictionary<string, string>(ServerTestDatabase.Environment(_database)) { ["MODELBOX_DATA_DIR"] = Path.Combine(_root, "data") },
            _root);
    }

    [Fact]
    public async Task Calls_fail_with_unavailable_while_the_database_is_down_and_succeed_after_it_restarts()
    {
        var server = _server!;
        var cluster = _cluster!;
        var ns = "restart";
        var experiment = await server.Store.CreateExperimentAsync(new CreateExperimentRequest { Name = "before", Namespace = ns });

        // A client keeps issuing requests throughout; every answer must be OK or UNAVAILABLE, never UNKNOWN/INTERNAL.
        using var stopLoad = new CancellationTokenSource();
        var load = Task.Run(() => KeepCallingAsync(server, experiment.ExperimentId, stopLoad.Token));

        await cluster.StopServerAsync();
        var duringOutage = new List<StatusCode>();
        for (var i = 0; i < 10; i++)
        {
            duringOutage.Add(await CallAsync(server, experiment.ExperimentId, $"during-{i}"));
        }

        Assert.All(duringOutage, status => Assert.Equal(StatusCode.Unavailable, status));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, await server.HealthStatusAsync());

        await cluster.StartServerAsync();
        // The pool drops its dead connections as it meets them: the first calls after the restart may still fail,
        // but only with UNAVAILABLE, and success must come back without restarting ModelBox.
        var afterRestart = new List<StatusCode>();
        using (var patience = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
        {
            var i = 0;
            while (afterRestart.LastOrDefault(StatusCode.Unknown) != StatusCode.OK)
            {
                patience.Token.ThrowIfCancellationRequested();
                afterRestart.Add(await CallAsync(server, experiment.ExperimentId, $"after-{i++}"));
            }
        }

        Assert.All(afterRestart, status => Assert.Contains(status, new[] { StatusCode.OK, StatusCode.Unavailable }));
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(StatusCode.OK, await CallAsync(server, experiment.ExperimentId, $"steady-{i}"));
        }

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, await server.HealthStatusAsync());

        await stopLoad.CancelAsync();
        var loadStatuses = await load;
        output.WriteLine($"background load: {string.Join(", ", loadStatuses.GroupBy(s => s).Select(g => $"{g.Key} x{g.Count()}"))}; after restart: {string.Join(", ", afterRestart)}");
        Assert.All(loadStatuses, status => Assert.Contains(status, new[] { StatusCode.OK, StatusCode.Unavailable }));
        Assert.Contains(StatusCode.OK, loadStatuses);

        // What was acknowledged before the outage is still there.
        var before = await server.Store.GetExperimentAsync(new GetExperimentRequest { Id = experiment.ExperimentId });
        Assert.Equal("before", before.Experiment.Name);
        AssertOnlyTheOutageWasLogged(server);
    }

    /// <summary>The outage is expected and the health check reports it (an operator must see it); any other error line is a bug.</summary>
    internal static void AssertOnlyTheOutageWasLogged(ModelBoxProcess server)
    {
        var failLines = server.Output.Split('\n').Where(line => line.Contains(" fail: ", StringComparison.Ordinal)).ToList();
        Assert.Contains(failLines, line => line.Contains(" fail: ModelBox.Server.Observability.MetadataStoreHealthCheck", StringComparison.Ordinal));
        // A caller whose deadline passed while the database was down resets its request stream; gRPC's own handler logs
        // that at error level, and it is the caller's doing, not the server's.
        var errors = failLines
            .Where(line => !line.Contains(" fail: ModelBox.Server.Observability.MetadataStoreHealthCheck", StringComparison.Ordinal))
            .Where(line => !(line.Contains(" fail: Grpc.AspNetCore.Server.ServerCallHandler", StringComparison.Ordinal)
                && line.Contains("The client reset the request stream", StringComparison.Ordinal)))
            .ToList();
        Assert.True(errors.Count == 0, "the server logged errors:\n" + string.Join('\n', errors));
    }

    /// <summary>One read and one write; returns the first failure's status, or OK.</summary>
    internal static async Task<StatusCode> CallAsync(ModelBoxProcess server, string experimentId, string name)
    {
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(20);
            await server.Store.GetExperimentAsync(new GetExperimentRequest { Id = experimentId }, deadline: deadline);
            await server.Store.CreateExperimentAsync(new CreateExperimentRequest { Name = name, Namespace = "restart" }, deadline: deadline);
            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }

    private static async Task<List<StatusCode>> KeepCallingAsync(ModelBoxProcess server, string experimentId, CancellationToken stop)
    {
        var statuses = new List<StatusCode>();
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            statuses.Add(await CallAsync(server, experimentId, $"load-{i}"));
        }

        return statuses;
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }
}

/// <summary>PostgreSQL restarted (pg_ctl stop -m fast, then start) under a running ModelBox.</summary>
public sealed class PostgresRestartTests(ITestOutputHelper output) : DatabaseRestartTests(output)
{
    protected override async Task<IPrivateDatabaseServer> StartDatabaseServerAsync() => await PrivatePostgresCluster.StartAsync();
}

/// <summary>MariaDB restarted (SIGTERM, its normal shutdown, then start) under a running ModelBox.</summary>
public sealed class MariaDbRestartTests(ITestOutputHelper output) : DatabaseRestartTests(output)
{
    protected override async Task<IPrivateDatabaseServer> StartDatabaseServerAsync() => await PrivateMariaDbServer.StartAsync();
}
