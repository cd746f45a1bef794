using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Storage;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;
using ModelBox.Storage.Migrations;
using ModelBox.Storage.Relational;
using ModelBox.Storage.Sqlite;
using DomainExperiment = ModelBox.Domain.Experiment;
using DomainModel = ModelBox.Domain.Model;

namespace ModelBox.EndToEnd.Tests.ServerProcess;

/// <summary>
/// A database made by a ModelBox from before access control (schema version 10, before migration 11) with data in it,
/// then opened by today's server with <c>[auth] mode = "none"</c>: it migrates, and everything reads and writes as before,
/// for callers without any token.
/// </summary>
public sealed class PreAccessControlUpgradeTests : IAsyncLifetime
{
    private const long VersionBeforeAccessControl = 10;
    private readonly ModelBoxServerFixture _server = new() { Configure = config => config with { AuthMode = "none" } };
    private readonly DateTimeOffset _created = DateTimeOffset.UtcNow.AddDays(-30);
    private DomainExperiment _experiment = null!;
    private DomainModel _model = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_server.DataDir);
        var dialect = new SqliteDialect(new SqliteStorageOptions { DatabasePath = Path.Combine(_server.DataDir, "modelbox.db") });
        await using (dialect)
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

        await _server.InitializeAsync();
    }

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task The_server_migrates_it_and_anonymous_callers_read_and_write_everything_as_before()
    {
        var schema = await _server.Server.Services.GetRequiredService<IMetadataStore>().GetSchemaStatusAsync();
        Assert.Equal(SchemaMigrations.LatestVersion, schema.CurrentVersion);

        using var channel = GrpcChannel.ForAddress(_server.Address);
        var store = new ModelStore.ModelStoreClient(channel);
        var experiment = (await store.GetExperimentAsync(new GetExperimentRequest { Id = _experiment.Id })).Experiment;
        Assert.Equal(("before-auth", "legacy/speech", "old@example.com"), (experiment.Name, experiment.Namespace, experiment.Owner));
        var metadata = (await store.ListMetadataAsync(new ListMetadataRequest { ParentId = _experiment.Id })).Metadata;
        Assert.Equal(0.01, metadata["lr"].NumberValue);
        Assert.Equal("librispeech", metadata["dataset"].StringValue);
        Assert.Equal([_model.Id], (await store.ListModelsAsync(new ListModelsRequest { Namespace = "legacy/speech" })).Models.Select(m => m.Id));
        Assert.Equal(
            [_experiment.Id],
            (await store.ListExperimentsAsync(new ListExperimentsRequest { Namespace = "legacy", Recursive = true })).Experiments.Select(e => e.Id));

        // Writes: to the old objects and new ones beside them, all without a token.
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

        // Access control is there and off, and no principal was made behind the operator's back.
        var who = await new Access.AccessClient(channel).WhoAmIAsync(new WhoAmIRequest());
        Assert.Equal(("none", ""), (who.AuthMode, who.Principal));
        Assert.Empty(await _server.Server.Services.GetRequiredService<IAccessStore>().ListPrincipalsAsync());
    }
}
