using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Health.V1;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.EndToEnd.Tests.Replicas;
using ModelBox.Protocol;
using ModelBox.Testing;
using Xunit.Abstractions;

namespace ModelBox.EndToEnd.Tests.Reliability;

/// <summary>
/// The metadata database killed with SIGKILL under a write load, so transactions are cut mid-statement and mid-commit, while
/// ModelBox keeps running: no acknowledged write is lost, every call fails with UNAVAILABLE (never UNKNOWN or INTERNAL)
/// while the database is away and the health service says NOT_SERVING, the same ModelBox process serves again once the
/// database has recovered, and `modelbox server verify` finds nothing wrong afterwards. The database is a private server,
/// so killing it disturbs no other test.
/// </summary>
public abstract class DatabaseKillTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Writers = 4;
    private const int PointsPerBatch = 20;
    private const string Namespace = "kill";

    private readonly string _root = Directory.CreateTempSubdirectory("modelbox-db-kill-").FullName;
    private IPrivateDatabaseServer? _databaseServer;
    private IServerTestDatabase? _database;
    private Dictionary<string, string>? _environment;
    private ModelBoxProcess? _server;

    /// <summary>Starts the private database server under test.</summary>
    protected abstract Task<IPrivateDatabaseServer> StartDatabaseServerAsync();

    /// <summary>Kills one session's process while the database server lives on, or returns null when the database has no
    /// process per session. Returns what the session was doing.</summary>
    protected virtual Task<string?> KillOneSessionAsync(IPrivateDatabaseServer server, IServerTestDatabase database) => Task.FromResult<string?>(null);

    public async Task InitializeAsync()
    {
        _databaseServer = await StartDatabaseServerAsync();
        _database = await _databaseServer.CreateDatabaseAsync("modelbox_kill");
        _environment = new Dictionary<string, string>(ServerTestDatabase.Environment(_database)) { ["MODELBOX_DATA_DIR"] = Path.Combine(_root, "data") };
        _server = await ModelBoxProcess.StartAsync(_environment, _root);
    }

    [Fact]
    public async Task Acknowledged_writes_survive_the_database_killed_mid_transaction_and_modelbox_recovers_without_a_restart()
    {
        var (databaseServer, database, server) = (_databaseServer!, _database!, _server!);
        var probe = (await server.Store.CreateExperimentAsync(new CreateExperimentRequest { Name = "probe", Namespace = "probe" })).ExperimentId;
        var ledger = new Ledger();
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(() => WriteAsync(server.Store, ledger, w, stop.Token))).ToArray();
        await ProgressAsync(ledger, writers, "before the kill");

        if (await KillOneSessionAsync(databaseServer, database) is { } session)
        {
            output.WriteLine($"killed one session: {session}; acknowledged so far: {ledger.Summary()}");
            await ProgressAsync(ledger, writers, "after one session was killed");
        }

        await databaseServer.KillServerAsync();
        output.WriteLine($"killed the database server; acknowledged so far: {ledger.Summary()}");
        var duringOutage = new List<StatusCode>();
        for (var i = 0; i < 5; i++)
        {
            duringOutage.Add(await DatabaseRestartTests.CallAsync(server, probe, $"during-{i}"));
        }

        Assert.All(duringOutage, status => Assert.Equal(StatusCode.Unavailable, status));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, await server.HealthStatusAsync());

        await databaseServer.StartServerAsync();
        await ProgressAsync(ledger, writers, "after the database recovered");
        await stop.CancelAsync();
        await Task.WhenAll(writers);
        output.WriteLine($"acknowledged: {ledger.Summary()}; UNAVAILABLE answers: {ledger.Unavailable}");
        Assert.True(
            ledger.Unexpected.IsEmpty,
            "calls failed with other statuses than UNAVAILABLE:\n" + string.Join('\n', ledger.Unexpected.Take(20))
            + "\nthe server's error output:\n" + ErrorOutput(server));
        Assert.True(ledger.Unavailable > 0, "the write load never met the outage, so it proves nothing");

        // Everything acknowledged is there, through the same ModelBox process that lived through the kills.
        var listed = (await server.Store.ListExperimentsAsync(new ListExperimentsRequest { Namespace = Namespace })).Experiments.ToDictionary(e => e.Id);
        foreach (var (id, name) in ledger.Experiments)
        {
            Assert.True(listed.TryGetValue(id, out var experiment), $"acknowledged experiment {id} ({name}) is missing");
            Assert.Equal(name, experiment.Name);
        }

        await CrashTests.VerifyBatchesAsync(server.Store, ledger.Batches);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, await server.HealthStatusAsync());
        DatabaseRestartTests.AssertOnlyTheOutageWasLogged(server);

        Assert.Equal(0, await server.StopAsync());
        var (exitCode, stdout, stderr) = await ModelBoxExecutable.RunAsync(["server", "verify"], _environment!, _root);
        Assert.True(exitCode == 0, $"modelbox server verify exited with {exitCode}:\n{stdout}{stderr}");
    }

    /// <summary>The server's error-level log entries with the lines that follow them (the exception), for a failure message.</summary>
    private static string ErrorOutput(ModelBoxProcess server)
    {
        var lines = server.Output.Split('\n');
        var picked = new List<string>();
        for (var i = 0; i < lines.Length && picked.Count < 200; i++)
        {
            if (lines[i].Contains(" fail: ", StringComparison.Ordinal) && !lines[i].Contains("MetadataStoreHealthCheck", StringComparison.Ordinal))
            {
                picked.AddRange(lines.Skip(i).Take(30));
            }
        }

        return string.Join('\n', picked);
    }

    /// <summary>Waits until every writer has had two more writes acknowledged: the store works (again). Bounded generously,
    /// since a loaded machine makes the database's crash recovery slow.</summary>
    private static async Task ProgressAsync(Ledger ledger, Task[] writers, string when)
    {
        var target = ledger.Acknowledged + (2 * Writers);
        var patience = DateTime.UtcNow.AddMinutes(3);
        while (ledger.Acknowledged < target)
        {
            Assert.False(writers.All(w => w.IsCompleted), $"every writer ended {when}");
            Assert.True(DateTime.UtcNow < patience, $"no write was acknowledged within 3 minutes {when}: {ledger.Summary()}");
            await Task.Delay(50);
        }
    }

    private static async Task WriteAsync(ModelStore.ModelStoreClient store, Ledger ledger, int writer, CancellationToken stop)
    {
        string? experiment = null;
        long step = 0;
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            var deadline = DateTime.UtcNow.AddMinutes(2);
            try
            {
                if (experiment is null || i % 4 == 0)
                {
                    var name = $"w{writer}-{i}";
                    var created = await store.CreateExperimentAsync(new CreateExperimentRequest { Name = name, Namespace = Namespace }, deadline: deadline, cancellationToken: stop);
                    ledger.Experiments[created.ExperimentId] = name;
                    experiment ??= created.ExperimentId;
                }
                else
                {
                    var batch = new CrashTests.MetricBatch(experiment, "loss", step, PointsPerBatch);
                    step += PointsPerBatch;
                    ledger.Batches.Add(batch);
                    var response = await store.LogMetricsBatchAsync(batch.Request(), deadline: deadline, cancellationToken: stop);
                    Assert.Equal((ulong)PointsPerBatch, response.NumPointsWritten);
                    batch.Acknowledged = true;
                }

                ledger.Ack();
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
            {
                // Not acknowledged: it may or may not have been committed. Retry after a pause, as a client should.
                ledger.CountUnavailable();
                await Task.Delay(100, CancellationToken.None);
            }
            catch (RpcException) when (stop.IsCancellationRequested)
            {
            }
            catch (Exception ex)
            {
                ledger.Unexpected.Enqueue($"writer {writer}: {ex.Message}");
                await Task.Delay(100, CancellationToken.None);
            }
        }
    }

    private sealed class Ledger
    {
        private int _acknowledged;
        private int _unavailable;

        public int Acknowledged => Volatile.Read(ref _acknowledged);

        public int Unavailable => Volatile.Read(ref _unavailable);

        public void Ack() => Interlocked.Increment(ref _acknowledged);

        public void CountUnavailable() => Interlocked.Increment(ref _unavailable);

        public ConcurrentDictionary<string, string> Experiments { get; } = new();

        public ConcurrentBag<CrashTests.MetricBatch> Batches { get; } = [];

        public ConcurrentQueue<string> Unexpected { get; } = new();

        public string Summary() => $"{Experiments.Count} experiments, {Batches.Count(b => b.Acknowledged)}/{Batches.Count} metric batches";
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

        if (_databaseServer is not null)
        {
            await _databaseServer.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }
}

/// <summary>
/// PostgreSQL: first one backend is killed mid-transaction (the postmaster then ends every session and recovers on its own),
/// then the postmaster and all its processes (an operator, or a supervisor, starts it again and it runs crash recovery).
/// </summary>
public sealed class PostgresKillTests(ITestOutputHelper output) : DatabaseKillTests(output)
{
    protected override async Task<IPrivateDatabaseServer> StartDatabaseServerAsync() => await PrivatePostgresCluster.StartAsync();

    protected override async Task<string?> KillOneSessionAsync(IPrivateDatabaseServer server, IServerTestDatabase database) =>
        await ((PrivatePostgresCluster)server).KillBackendAsync(database.Name);
}

/// <summary>MariaDB: mariadbd killed (InnoDB recovers from its redo log at the next start).</summary>
public sealed class MariaDbKillTests(ITestOutputHelper output) : DatabaseKillTests(output)
{
    protected override async Task<IPrivateDatabaseServer> StartDatabaseServerAsync() => await PrivateMariaDbServer.StartAsync();
}
