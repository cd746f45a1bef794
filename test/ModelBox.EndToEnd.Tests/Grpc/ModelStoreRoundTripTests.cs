using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Grpc;

/// <summary>The ModelStore API over real HTTP/2 with the generated gRPC client, as any SDK sees it.</summary>
[Collection(ServerCollection.Name)]
public sealed class ModelStoreRoundTripTests : IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly ModelStore.ModelStoreClient _client;

    public ModelStoreRoundTripTests(ModelBoxServerFixture server)
    {
        _client = server.CreateGrpcClient(out _channel);
    }

    public void Dispose() => _channel.Dispose();

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    [Fact]
    public async Task Experiment_create_returns_every_field_on_get()
    {
        var ns = Unique("ns");
        var request = new CreateExperimentRequest
        {
            Name = "wav2vec-lid",
            Owner = "your@email.com",
            Namespace = ns,
            Framework = MLFramework.Pytorch,
            Task = "lid",
            ExternalId = "slurm-42",
            Description = "language id",
            Metadata = new Protocol.Metadata(),
        };
        request.Metadata.Metadata_["lr"] = Value.ForNumber(0.001);
        request.Metadata.Metadata_["layers"] = Value.ForList(Value.ForNumber(1), Value.ForString("two"));

        var created = await _client.CreateExperimentAsync(request);
        Assert.False(created.ExperimentExists);
        Assert.StartsWith("exp-", created.ExperimentId, StringComparison.Ordinal);

        var got = (await _client.GetExperimentAsync(new GetExperimentRequest { Id = created.ExperimentId })).Experiment;
        Assert.Equal(created.ExperimentId, got.Id);
        Assert.Equal("wav2vec-lid", got.Name);
        Assert.Equal(ns, got.Namespace);
        Assert.Equal("your@email.com", got.Owner);
        Assert.Equal(MLFramework.Pytorch, got.Framework);
        Assert.Equal("lid", got.Task);
        Assert.Equal("slurm-42", got.ExternalId);
        Assert.Equal("language id", got.Description);
        Assert.Equal(Protocol.ExperimentStatus.Running, got.Status);
        Assert.Equal(0.001, got.Metadata.Metadata_["lr"].NumberValue);
        Assert.Equal("two", got.Metadata.Metadata_["layers"].ListValue.Values[1].StringValue);
        Assert.Equal(created.CreatedAt, got.CreatedAt);
        Assert.Equal(created.UpdatedAt, got.UpdatedAt);
        Assert.InRange(got.CreatedAt.ToDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
    }

    [Fact]
    public async Task Repeated_create_returns_the_same_id_and_says_it_existed()
    {
        var ns = Unique("ns");
        var first = await _client.CreateExperimentAsync(new CreateExperimentRequest { Name = "run", Namespace = ns, Owner = "a" });
        var second = await _client.CreateExperimentAsync(new CreateExperimentRequest { Name = "run", Namespace = ns, Owner = "b" });
        Assert.Equal(first.ExperimentId, second.ExperimentId);
        Assert.True(second.ExperimentExists);
        Assert.Equal(first.CreatedAt, second.CreatedAt);

        var model1 = await _client.CreateModelAsync(new CreateModelRequest { Name = "run", Namespace = ns });
        var model2 = await _client.CreateModelAsync(new CreateModelRequest { Name = "run", Namespace = ns });
        Assert.False(model1.Exists);
        Assert.True(model2.Exists);
        Assert.Equal(model1.Id, model2.Id);

        // Same namespace and name, different kinds: never the same id.
        Assert.NotEqual(first.ExperimentId, model1.Id);
    }

    [Fact]
    public async Task Empty_namespace_means_default()
    {
        var name = Unique("exp");
        var created = await _client.CreateExperimentAsync(new CreateExperimentRequest { Name = name });
        var got = await _client.GetExperimentAsync(new GetExperimentRequest { Id = created.ExperimentId });
        Assert.Equal("default", got.Experiment.Namespace);
        var listed = await _client.ListExperimentsAsync(new ListExperimentsRequest { Namespace = "default" });
        Assert.Contains(listed.Experiments, e => e.Id == created.ExperimentId);
        var namespaces = await _client.ListNamespacesAsync(new ListNamespacesRequest());
        Assert.Contains(namespaces.Namespaces, n => n.Name == "default");
    }

    [Fact]
    public async Task Thirty_two_concurrent_identical_creates_make_one_object()
    {
        var ns = Unique("race");
        var responses = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ =>
            _client.CreateExperimentAsync(new CreateExperimentRequest { Name = "same", Namespace = ns, Owner = "racer" }).ResponseAsync));
        Assert.Single(responses.Select(r => r.ExperimentId).Distinct());
        Assert.Equal(1, responses.Count(r => !r.ExperimentExists));
        var list = await _client.ListExperimentsAsync(new ListExperimentsRequest { Namespace = ns });
        Assert.Single(list.Experiments);

        var model = await _client.CreateModelAsync(new CreateModelRequest { Name = "m", Namespace = ns });
        var versions = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ =>
            _client.CreateModelVersionAsync(new CreateModelVersionRequest { Model = model.Id, Version = "1" }).ResponseAsync));
        Assert.Single(versions.Select(v => v.ModelVersion).Distinct());
        Assert.Equal(1, versions.Count(v => !v.Exists));
    }

    [Fact]
    public async Task Checkpoints_round_trip_by_id_and_by_epoch_and_list_in_epoch_order()
    {
        var experiment = await _client.CreateExperimentAsync(new CreateExperimentRequest { Name = "ckpt", Namespace = Unique("ns") });
        foreach (var epoch in new ulong[] { 3, 1, 2 })
        {
            var request = new CreateCheckpointRequest { ExperimentId = experiment.ExperimentId, Epoch = epoch };
            request.Metrics["loss"] = 1.0f / epoch;
            var created = await _client.CreateCheckpointAsync(request);
            Assert.False(created.Exists);
        }

        var again = await _client.CreateCheckpointAsync(new CreateCheckpointRequest { ExperimentId = experiment.ExperimentId, Epoch = 2 });
        Assert.True(again.Exists);

        var byEpoch = await _client.GetCheckpointAsync(new GetCheckpointRequest { ExperimentId = experiment.ExperimentId, Epoch = 2 });
        Assert.Equal(again.CheckpointId, byEpoch.Checkpoint.Id);
        Assert.Equal(0.5f, byEpoch.Checkpoint.Metrics["loss"]);
        var byId = await _client.GetCheckpointAsync(new GetCheckpointRequest { CheckpointId = again.CheckpointId });
        Assert.Equal(byEpoch.Checkpoint, byId.Checkpoint);

        var list = await _client.ListCheckpointsAsync(new ListCheckpointsRequest { ExperimentId = experiment.ExperimentId });
        Assert.Equal(new ulong[] { 1, 2, 3 }, list.Checkpoints.Select(c => c.Epoch));
    }

    [Fact]
    public async Task Models_and_versions_round_trip()
    {
        var ns = Unique("ns");
        var created = await _client.CreateModelAsync(new CreateModelRequest
        {
            Name = "wav2vec", Owner = "diptanuc@gmail.com", Task = "asr", Description = "English ASR", Namespace = ns,
        });
        var model = (await _client.GetModelAsync(new GetModelRequest { Id = created.Id })).Model;
        Assert.Equal(("wav2vec", "diptanuc@gmail.com", "asr", "English ASR", ns), (model.Name, model.Owner, model.Task, model.Description, model.Namespace));

        var versionRequest = new CreateModelVersionRequest
        {
            Model = created.Id, Name = "wav2vec-v1", Version = "1.0", Description = "first", Framework = MLFramework.Keras,
            Metadata = new Protocol.Metadata(),
        };
        versionRequest.UniqueTags.Add("prod");
        versionRequest.Metadata.Metadata_["wer"] = Value.ForNumber(0.12);
        var version = await _client.CreateModelVersionAsync(versionRequest);
        var got = (await _client.GetModelVersionAsync(new GetModelVersionRequest { Id = version.ModelVersion })).ModelVersion;
        Assert.Equal(created.Id, got.ModelId);
        Assert.Equal("1.0", got.Version);
        Assert.Equal("wav2vec-v1", got.Name);
        Assert.Equal(MLFramework.Keras, got.Framework);
        Assert.Equal(new[] { "prod" }, got.UniqueTags);
        Assert.Equal(0.12, got.Metadata.Metadata_["wer"].NumberValue);

        await _client.CreateModelVersionAsync(new CreateModelVersionRequest { Model = created.Id, Version = "2.0" });
        var versions = await _client.ListModelVersionsAsync(new ListModelVersionsRequest { Model = created.Id });
        Assert.Equal(new[] { "1.0", "2.0" }, versions.ModelVersions.Select(v => v.Version));
        var models = await _client.ListModelsAsync(new ListModelsRequest { Namespace = ns });
        Assert.Equal(created.Id, Assert.Single(models.Models).Id);
    }

    [Fact]
    public async Task Update_experiment_sets_status_end_time_and_text_fields()
    {
        var created = await _client.CreateExperimentAsync(new CreateExperimentRequest { Name = "upd", Namespace = Unique("ns"), ExternalId = "x" });
        var finished = (await _client.UpdateExperimentAsync(new UpdateExperimentRequest
        {
            Id = created.ExperimentId, Status = Protocol.ExperimentStatus.Finished, Description = "done",
        })).Experiment;
        Assert.Equal(Protocol.ExperimentStatus.Finished, finished.Status);
        Assert.NotNull(finished.EndedAt);
        Assert.Equal("done", finished.Description);
        Assert.Equal("x", finished.ExternalId);
        Assert.True(finished.UpdatedAt.ToDateTimeOffset() >= created.UpdatedAt.ToDateTimeOffset());

        var running = (await _client.UpdateExperimentAsync(new UpdateExperimentRequest
        {
            Id = created.ExperimentId, Status = Protocol.ExperimentStatus.Running, ExternalId = string.Empty,
        })).Experiment;
        Assert.Null(running.EndedAt);
        Assert.Equal(string.Empty, running.ExternalId);
        Assert.Equal("done", running.Description);
        Assert.Equal(running, (await _client.GetExperimentAsync(new GetExperimentRequest { Id = created.ExperimentId })).Experiment);
    }

    [Fact]
    public async Task Delete_hides_experiment_and_checkpoints_and_restore_brings_them_back()
    {
        var ns = Unique("ns");
        var experiment = await _client.CreateExperimentAsync(new CreateExperimentRequest { Name = "del", Namespace = ns });
        var checkpoint = await _client.CreateCheckpointAsync(new CreateCheckpointRequest { ExperimentId = experiment.ExperimentId, Epoch = 1 });

        await _client.DeleteExperimentAsync(new DeleteExperimentRequest { Id = experiment.ExperimentId });
        await AssertStatus(StatusCode.NotFound, experiment.ExperimentId, () => _client.GetExperimentAsync(new GetExperimentRequest { Id = experiment.ExperimentId }).ResponseAsync);
        await AssertStatus(StatusCode.NotFound, checkpoint.CheckpointId, () => _client.GetCheckpointAsync(new GetCheckpointRequest { CheckpointId = checkpoint.CheckpointId }).ResponseAsync);
        Assert.Empty((await _client.ListExperimentsAsync(new ListExperimentsRequest { Namespace = ns })).Experiments);
        await AssertStatus(StatusCode.NotFound, experiment.ExperimentId, () => _client.CreateCheckpointAsync(new CreateCheckpointRequest { ExperimentId = experiment.ExperimentId, Epoch = 2 }).ResponseAsync);
        await AssertStatus(StatusCode.FailedPrecondition, "deleted", () => _client.CreateExperimentAsync(new CreateExperimentRequest { Name = "del", Namespace = ns }).ResponseAsync);

        var restored = await _client.RestoreExperimentAsync(new RestoreExperimentRequest { Id = experiment.ExperimentId });
        Assert.Equal(experiment.ExperimentId, restored.Experiment.Id);
        var back = await _client.GetCheckpointAsync(new GetCheckpointRequest { CheckpointId = checkpoint.CheckpointId });
        Assert.Equal(1ul, back.Checkpoint.Epoch);
    }

    [Fact]
    public async Task Delete_model_hides_versions_until_restored()
    {
        var ns = Unique("ns");
        var model = await _client.CreateModelAsync(new CreateModelRequest { Name = "m", Namespace = ns });
        var version = await _client.CreateModelVersionAsync(new CreateModelVersionRequest { Model = model.Id, Version = "1" });
        await _client.DeleteModelAsync(new DeleteModelRequest { Id = model.Id });
        await AssertStatus(StatusCode.NotFound, version.ModelVersion, () => _client.GetModelVersionAsync(new GetModelVersionRequest { Id = version.ModelVersion }).ResponseAsync);
        await AssertStatus(StatusCode.NotFound, model.Id, () => _client.ListModelVersionsAsync(new ListModelVersionsRequest { Model = model.Id }).ResponseAsync);
        await AssertStatus(StatusCode.FailedPrecondition, model.Id, () => _client.RestoreModelVersionAsync(new RestoreModelVersionRequest { Id = version.ModelVersion }).ResponseAsync);
        await _client.RestoreModelAsync(new RestoreModelRequest { Id = model.Id });
        Assert.Single((await _client.ListModelVersionsAsync(new ListModelVersionsRequest { Model = model.Id })).ModelVersions);

        await _client.DeleteModelVersionAsync(new DeleteModelVersionRequest { Id = version.ModelVersion });
        Assert.Empty((await _client.ListModelVersionsAsync(new ListModelVersionsRequest { Model = model.Id })).ModelVersions);
        await _client.RestoreModelVersionAsync(new RestoreModelVersionRequest { Id = version.ModelVersion });
        Assert.Single((await _client.ListModelVersionsAsync(new ListModelVersionsRequest { Model = model.Id })).ModelVersions);
    }

    [Fact]
    public async Task Pagination_walks_every_experiment_once_newest_first()
    {
        var ns = Unique("page");
        var ids = new List<string>();
        for (var i = 0; i < 23; i++)
        {
            ids.Add((await _client.CreateExperimentAsync(new CreateExperimentRequest { Name = $"e{i}", Namespace = ns })).ExperimentId);
        }

        var seen = new List<Experiment>();
        var token = string.Empty;
        var pages = 0;
        do
        {
            var page = await _client.ListExperimentsAsync(new ListExperimentsRequest { Namespace = ns, PageSize = 5, PageToken = token });
            Assert.True(page.Experiments.Count <= 5);
            seen.AddRange(page.Experiments);
            token = page.NextPageToken;
            pages++;
        }
        while (token.Length > 0);

        Assert.True(pages == 5, $"pages={pages} seen={seen.Count}");
        Assert.Equal(ids.Order(StringComparer.Ordinal), seen.Select(e => e.Id).Order(StringComparer.Ordinal));
        var created = seen.Select(e => e.CreatedAt.ToDateTimeOffset()).ToList();
        Assert.Equal(created.OrderDescending(), created);

        var all = await _client.ListExperimentsAsync(new ListExperimentsRequest { Namespace = ns });
        Assert.Equal(23, all.Experiments.Count);
        Assert.Empty(all.NextPageToken);
    }

    private static async Task AssertStatus(StatusCode expected, string messagePart, Func<Task> call)
    {
        var error = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal(expected, error.StatusCode);
        Assert.Contains(messagePart, error.Status.Detail, StringComparison.Ordinal);
    }
}
