using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Storage;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;
using ModelBox.Server.Configuration;
using ModelBox.Storage.Migrations;
using ModelBox.Storage.MySql;
using ModelBox.Storage.Postgres;
using ModelBox.Storage.Relational;
using ModelBox.Storage.Sqlite;
using ModelBox.Testing;
using DomainExperiment = ModelBox.Domain.Experiment;
using DomainModel = ModelBox.Domain.Model;
using Metadata = ModelBox.Protocol.Metadata;

namespace ModelBox.EndToEnd.Tests.ServerProcess;

/// <summary>
/// A database made by a ModelBox from before access control (schema version 10, before migration 11) with data in it,
/// then opened by today's server. With <c>[auth] mode = "none"</c> it migrates, and everything reads and writes as before,
/// for callers without any token. With <c>"enforced"</c> the first start migrates it, creates the first admin and prints
/// its token once; anonymous callers are refused and the admin reads and writes the old data. On each backend.
/// </summary>
public abstract partial class PreAccessControlUpgradeTests : IAsyncLifetime
{
    private const long VersionBeforeAccessControl = 10;
    private readonly ModelBoxServerFixture _server;
    private readonly DateTimeOffset _created = DateTimeOffset.UtcNow.AddDays(-30);
    private DomainExperiment _experiment = null!;
    private DomainModel _model = null!;

    protected PreAccessControlUpgradeTests()
    {
        _server = new ModelBoxServerFixture { Configure = config => UseDatabase(config) with { AuthMode = "none" } };
    }

    /// <summary>The server's data folder (the SQLite file, the blobs).</summary>
    protected string DataDir => _server.DataDir;

    /// <summary>The database under test, for building the old schema in it.</summary>
    protected abstract SqlDialect OpenDatabase();

    /// <summary>Points an in-process server's settings at the database under test.</summary>
    protected abstract ServerConfig UseDatabase(ServerConfig config);

    /// <summary>The MODELBOX_* variables that point `modelbox server` at the database under test (beside the data folder).</summary>
    protected abstract IReadOnlyDictionary<string, string> DatabaseEnvironment { get; }

    /// <summary>Creates the (empty) database under test.</summary>
    protected virtual Task CreateDatabaseAsync() => Task.CompletedTask;

    /// <summary>Drops the database under test.</summary>
    protected virtual Task DropDatabaseAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(DataDir);
        await CreateDatabaseAsync();
        var dialect = OpenDatabase();
        await using (dialect as IAsyncDisposable)
        {
            var store = new RelationalMetadataStore(dialect, new InProcessChangeSignal());
            await store.MigrateAsync(VersionBeforeAccessControl);
            Assert.Equal(VersionBeforeAccessControl, (await store.GetSchemaStatusAsync()).CurrentVersion);

            var metadata = new Dictionary<string, string> { ["lr"] = "0.01", ["dataset"] = "\"librispeech\"" };
            _experiment = (await store.CreateExperimentAsync(new DomainExperiment(
                ObjectIds.Experiment("legacy/speech", "before-auth"), "legacy/speech", "before-auth", "old@example.com", ModelBox.Domain.Framework.PyTorch, "asr", "",
                "made before access control", ModelBox.Domain.ExperimentStatus.Running, null, metadata, _created, _created))).Value;
            _model = (await store.CreateModelAsync(new DomainModel(
                ObjectIds.Model("legacy/speech", "whisper-old"), "legacy/speech", "whisper-old", "old@example.com", "asr", "an old model",
                new Dictionary<string, string>(), _created, _created))).Value;
        }
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await DropDatabaseAsync();
    }

    [Fact]
    public async Task The_server_migrates_it_and_anonymous_callers_read_and_write_everything_as_before()
    {
        await _server.InitializeAsync();
        var schema = await _server.Server.Services.GetRequiredService<IMetadataStore>().GetSchemaStatusAsync();
        Assert.Equal(SchemaMigrations.LatestVersion, schema.CurrentVersion);

        using var channel = GrpcChannel.ForAddress(_server.Address);
        var store = new ModelStore.ModelStoreClient(channel);
        await AssertOldDataReadAsync(store);

        // Writes: to the old objects and new ones beside them, all without a token.
        await WriteAsync(store);

        // Access control is there and off, and no principal was made behind the operator's back.
        var who = await new Access.AccessClient(channel).WhoAmIAsync(new WhoAmIRequest());
        Assert.Equal(("none", ""), (who.AuthMode, who.Principal));
        Assert.Empty(await _server.Server.Services.GetRequiredService<IAccessStore>().ListPrincipalsAsync());
    }

    [Fact]
    public async Task Started_with_enforcement_it_refuses_anonymous_callers_and_the_bootstrapped_admin_reads_and_writes_the_old_data()
    {
        var environment = new Dictionary<string, string>(DatabaseEnvironment) { ["MODELBOX_DATA_DIR"] = DataDir, ["MODELBOX_AUTH_MODE"] = "enforced" };
        await using var server = await ModelBoxProcess.StartAsync(environment, DataDir);

        // Anonymous callers: refused, for the old objects and for new ones, and nothing is written.
        foreach (var call in new Func<Task>[]
        {
            async () => await server.Store.GetExperimentAsync(new GetExperimentRequest { Id = _experiment.Id }),
            async () => await server.Store.ListModelsAsync(new ListModelsRequest { Namespace = "legacy/speech" }),
            async () => await server.Store.UpdateMetadataAsync(new UpdateMetadataRequest
            {
                ParentId = _experiment.Id,
                Metadata = new Metadata { Metadata_ = { ["anonymous"] = Google.Protobuf.WellKnownTypes.Value.ForBool(true) } },
            }),
            async () => await server.Store.CreateExperimentAsync(new CreateExperimentRequest { Namespace = "legacy/speech", Name = "anonymous" }),
        })
        {
            var refused = await Assert.ThrowsAsync<RpcException>(call);
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        }

        // The first start made the admin and printed its token once, outside the logs.
        var (principal, token) = await BootstrapTokenAsync(server);
        Assert.Equal("user:admin", principal);
        var invoker = server.WithToken(token);
        var who = await new Access.AccessClient(invoker).WhoAmIAsync(new WhoAmIRequest());
        Assert.Equal(("enforced", "user:admin", true), (who.AuthMode, who.Principal, who.Admin));

        var admin = new ModelStore.ModelStoreClient(invoker);
        Assert.DoesNotContain("anonymous", (await admin.ListMetadataAsync(new ListMetadataRequest { ParentId = _experiment.Id })).Metadata.Keys);
        Assert.Equal(
            ["before-auth"], (await admin.ListExperimentsAsync(new ListExperimentsRequest { Namespace = "legacy/speech" })).Experiments.Select(e => e.Name));
        await AssertOldDataReadAsync(admin);
        await WriteAsync(admin);

        Assert.Equal(0, await server.StopAsync());
        var errors = server.Output.Split('\n').Where(line => line.Contains(" fail: ", StringComparison.Ordinal) || line.Contains(" crit: ", StringComparison.Ordinal));
        Assert.Empty(errors);
        Assert.Single(TokenLine().Matches(server.Output));
    }

    private async Task AssertOldDataReadAsync(ModelStore.ModelStoreClient store)
    {
        var experiment = (await store.GetExperimentAsync(new GetExperimentRequest { Id = _experiment.Id })).Experiment;
        Assert.Equal(("before-auth", "legacy/speech", "old@example.com"), (experiment.Name, experiment.Namespace, experiment.Owner));
        var metadata = (await store.ListMetadataAsync(new ListMetadataRequest { ParentId = _experiment.Id })).Metadata;
        Assert.Equal(0.01, metadata["lr"].NumberValue);
        Assert.Equal("librispeech", metadata["dataset"].StringValue);
        Assert.Equal([_model.Id], (await store.ListModelsAsync(new ListModelsRequest { Namespace = "legacy/speech" })).Models.Select(m => m.Id));
        Assert.Equal(
            [_experiment.Id],
            (await store.ListExperimentsAsync(new ListExperimentsRequest { Namespace = "legacy", Recursive = true })).Experiments.Select(e => e.Id));
    }

    /// <summary>Writes to the old objects and new ones beside them, and reads them back.</summary>
    private async Task WriteAsync(ModelStore.ModelStoreClient store)
    {
        await store.UpdateMetadataAsync(new UpdateMetadataRequest
        {
            ParentId = _experiment.Id,
            Metadata = new Metadata { Metadata_ = { ["epochs"] = Google.Protobuf.WellKnownTypes.Value.ForNumber(3) } },
        });
        await store.LogMetricsAsync(new LogMetricsRequest
        {
            ParentId = _experiment.Id, Key = "loss", Value = new MetricsValue { Step = 1, WallclockTime = 1_700_000_000, FVal = 0.5f },
        });
        var version = await store.CreateModelVersionAsync(new CreateModelVersionRequest { Model = _model.Id, Name = "v1", Version = "1" });
        var created = await store.CreateExperimentAsync(new CreateExperimentRequest { Namespace = "legacy/speech", Name = "after-upgrade" });
        Assert.False(created.ExperimentExists);
        var again = await store.CreateExperimentAsync(new CreateExperimentRequest { Namespace = "legacy/speech", Name = "before-auth" });
        Assert.True(again.ExperimentExists);
        Assert.Equal(_experiment.Id, again.ExperimentId);

        Assert.Equal(3, (await store.ListMetadataAsync(new ListMetadataRequest { ParentId = _experiment.Id })).Metadata["epochs"].NumberValue);
        Assert.Equal(0.5f, (await store.GetMetricsAsync(new GetMetricsRequest { ParentId = _experiment.Id })).Metrics.Single(m => m.Key == "loss").Values.Single().FVal);
        Assert.Equal(
            [version.ModelVersion],
            (await store.ListModelVersionsAsync(new ListModelVersionsRequest { Model = _model.Id })).ModelVersions.Select(v => v.Id));
    }

    /// <summary>
    /// The admin token the server printed to standard error at its first start. It was written before the server answered
    /// its health check; the output is read as it comes, so it may land a moment later.
    /// </summary>
    private static async Task<(string Principal, string Token)> BootstrapTokenAsync(ModelBoxProcess server)
    {
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Match found;
        while (!(found = TokenLine().Match(server.Output)).Success)
        {
            await Task.Delay(50, patience.Token);
        }

        return (found.Groups["principal"].Value, found.Groups["token"].Value);
    }

    [GeneratedRegex(@"ModelBox admin token for (?<principal>\S+) \(shown once, store it now\): (?<token>\S+)")]
    private static partial Regex TokenLine();
}

/// <summary>The embedded store: the SQLite file under data_dir.</summary>
public sealed class SqlitePreAccessControlUpgradeTests : PreAccessControlUpgradeTests
{
    protected override SqlDialect OpenDatabase() =>
        new SqliteDialect(new SqliteStorageOptions { DatabasePath = Path.Combine(DataDir, "modelbox.db") });

    protected override ServerConfig UseDatabase(ServerConfig config) => config;

    protected override IReadOnlyDictionary<string, string> DatabaseEnvironment { get; } = new Dictionary<string, string>();
}

/// <summary>A fresh database on a server test.sh started.</summary>
public abstract class ServerDatabasePreAccessControlUpgradeTests(string backend) : PreAccessControlUpgradeTests
{
    private IServerTestDatabase? _database;

    protected IServerTestDatabase Database => _database ?? throw new InvalidOperationException("not initialized");

    protected override ServerConfig UseDatabase(ServerConfig config) => config.Use(Database);

    protected override IReadOnlyDictionary<string, string> DatabaseEnvironment => ServerTestDatabase.Environment(Database);

    protected override async Task CreateDatabaseAsync() => _database = await ServerTestDatabase.CreateAsync(backend, "modelbox_upgrade");

    protected override async Task DropDatabaseAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }
}

public sealed class PostgresPreAccessControlUpgradeTests() : ServerDatabasePreAccessControlUpgradeTests("postgres")
{
    protected override SqlDialect OpenDatabase() => new PostgresDialect(new PostgresStorageOptions { ConnectionString = Database.ConnectionString });
}

public sealed class MySqlPreAccessControlUpgradeTests() : ServerDatabasePreAccessControlUpgradeTests("mysql")
{
    protected override SqlDialect OpenDatabase() => new MySqlDialect(new MySqlStorageOptions { ConnectionString = Database.ConnectionString });
}
