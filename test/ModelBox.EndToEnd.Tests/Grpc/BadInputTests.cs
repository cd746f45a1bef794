using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using ModelBox.Domain;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Grpc;

/// <summary>
/// Every RPC of the foundation with missing, oversized, malformed and unknown input: each gets its documented status
/// with the field or id in the message, and the server keeps serving (the fixture also fails on any logged error).
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class BadInputTests : IDisposable
{
    private static readonly string UnknownExperiment = ObjectIds.Experiment("nowhere", Guid.NewGuid().ToString());
    private static readonly string UnknownModel = ObjectIds.Model("nowhere", Guid.NewGuid().ToString());
    private static readonly string UnknownVersion = ObjectIds.ModelVersion(UnknownModel, "1");
    private static readonly string UnknownCheckpoint = ObjectIds.Checkpoint(UnknownExperiment, 1);
    private static readonly string LongName = new('n', 257);
    private static readonly string LongDescription = new('d', (64 * 1024) + 1);

    private sealed record Case(StatusCode Status, string MessagePart, Func<ModelStore.ModelStoreClient, Task> Call);

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["CreateExperiment without name"] = new(StatusCode.InvalidArgument, "name", c => c.CreateExperimentAsync(new CreateExperimentRequest { Owner = "x" }).ResponseAsync),
        ["CreateExperiment blank name"] = new(StatusCode.InvalidArgument, "name", c => c.CreateExperimentAsync(new CreateExperimentRequest { Name = "   " }).ResponseAsync),
        ["CreateExperiment name of 257 characters"] = new(StatusCode.InvalidArgument, "name", c => c.CreateExperimentAsync(new CreateExperimentRequest { Name = LongName }).ResponseAsync),
        ["CreateExperiment name with NUL"] = new(StatusCode.InvalidArgument, "name", c => c.CreateExperimentAsync(new CreateExperimentRequest { Name = "a\0b" }).ResponseAsync),
        ["CreateExperiment description over 64 KiB"] = new(StatusCode.InvalidArgument, "description", c => c.CreateExperimentAsync(new CreateExperimentRequest { Name = "x", Description = LongDescription }).ResponseAsync),
        ["CreateExperiment owner of 257 characters"] = new(StatusCode.InvalidArgument, "owner", c => c.CreateExperimentAsync(new CreateExperimentRequest { Name = "x", Owner = LongName }).ResponseAsync),
        ["CreateExperiment namespace with an empty path segment"] = new(StatusCode.InvalidArgument, "namespace", c => c.CreateExperimentAsync(new CreateExperimentRequest { Name = "x", Namespace = "a//b" }).ResponseAsync),
        ["CreateExperiment unknown framework"] = new(StatusCode.InvalidArgument, "framework", c => c.CreateExperimentAsync(new CreateExperimentRequest { Name = "x", Framework = (MLFramework)99 }).ResponseAsync),
        ["CreateExperiment NaN metadata"] = new(StatusCode.InvalidArgument, "metadata['loss']", c => c.CreateExperimentAsync(WithMetadata(new CreateExperimentRequest { Name = "x" }, "loss", Value.ForNumber(double.NaN))).ResponseAsync),
        ["GetExperiment without id"] = new(StatusCode.InvalidArgument, "id", c => c.GetExperimentAsync(new GetExperimentRequest()).ResponseAsync),
        ["GetExperiment malformed id"] = new(StatusCode.InvalidArgument, "not a ModelBox id", c => c.GetExperimentAsync(new GetExperimentRequest { Id = "../../etc/passwd" }).ResponseAsync),
        ["GetExperiment with a model id"] = new(StatusCode.InvalidArgument, "is the id of a model, not of an experiment", c => c.GetExperimentAsync(new GetExperimentRequest { Id = UnknownModel }).ResponseAsync),
        ["GetExperiment unknown id"] = new(StatusCode.NotFound, UnknownExperiment, c => c.GetExperimentAsync(new GetExperimentRequest { Id = UnknownExperiment }).ResponseAsync),
        ["ListExperiments bad namespace"] = new(StatusCode.InvalidArgument, "namespace", c => c.ListExperimentsAsync(new ListExperimentsRequest { Namespace = "white space" }).ResponseAsync),
        ["ListExperiments negative page size"] = new(StatusCode.InvalidArgument, "page_size", c => c.ListExperimentsAsync(new ListExperimentsRequest { PageSize = -1 }).ResponseAsync),
        ["ListExperiments malformed page token"] = new(StatusCode.InvalidArgument, "page_token", c => c.ListExperimentsAsync(new ListExperimentsRequest { PageSize = 2, PageToken = "garbage!" }).ResponseAsync),
        ["UpdateExperiment without id"] = new(StatusCode.InvalidArgument, "id", c => c.UpdateExperimentAsync(new UpdateExperimentRequest { Status = Protocol.ExperimentStatus.Finished }).ResponseAsync),
        ["UpdateExperiment unknown id"] = new(StatusCode.NotFound, UnknownExperiment, c => c.UpdateExperimentAsync(new UpdateExperimentRequest { Id = UnknownExperiment, Status = Protocol.ExperimentStatus.Finished }).ResponseAsync),
        ["UpdateExperiment unknown status"] = new(StatusCode.InvalidArgument, "status", c => c.UpdateExperimentAsync(new UpdateExperimentRequest { Id = UnknownExperiment, Status = (Protocol.ExperimentStatus)42 }).ResponseAsync),
        ["UpdateExperiment description over 64 KiB"] = new(StatusCode.InvalidArgument, "description", c => c.UpdateExperimentAsync(new UpdateExperimentRequest { Id = UnknownExperiment, Description = LongDescription }).ResponseAsync),
        ["DeleteExperiment unknown id"] = new(StatusCode.NotFound, UnknownExperiment, c => c.DeleteExperimentAsync(new DeleteExperimentRequest { Id = UnknownExperiment }).ResponseAsync),
        ["RestoreExperiment without id"] = new(StatusCode.InvalidArgument, "id", c => c.RestoreExperimentAsync(new RestoreExperimentRequest()).ResponseAsync),
        ["RestoreExperiment unknown id"] = new(StatusCode.NotFound, UnknownExperiment, c => c.RestoreExperimentAsync(new RestoreExperimentRequest { Id = UnknownExperiment }).ResponseAsync),
        ["CreateCheckpoint without experiment"] = new(StatusCode.InvalidArgument, "experiment_id", c => c.CreateCheckpointAsync(new CreateCheckpointRequest { Epoch = 1 }).ResponseAsync),
        ["CreateCheckpoint unknown experiment"] = new(StatusCode.NotFound, UnknownExperiment, c => c.CreateCheckpointAsync(new CreateCheckpointRequest { ExperimentId = UnknownExperiment, Epoch = 1 }).ResponseAsync),
        ["CreateCheckpoint epoch beyond int64"] = new(StatusCode.InvalidArgument, "epoch", c => c.CreateCheckpointAsync(new CreateCheckpointRequest { ExperimentId = UnknownExperiment, Epoch = ulong.MaxValue }).ResponseAsync),
        ["GetCheckpoint with nothing"] = new(StatusCode.InvalidArgument, "experiment_id", c => c.GetCheckpointAsync(new GetCheckpointRequest()).ResponseAsync),
        ["GetCheckpoint unknown epoch"] = new(StatusCode.NotFound, UnknownExperiment, c => c.GetCheckpointAsync(new GetCheckpointRequest { ExperimentId = UnknownExperiment, Epoch = 7 }).ResponseAsync),
        ["GetCheckpoint unknown id"] = new(StatusCode.NotFound, UnknownCheckpoint, c => c.GetCheckpointAsync(new GetCheckpointRequest { CheckpointId = UnknownCheckpoint }).ResponseAsync),
        ["GetCheckpoint with an experiment id as checkpoint id"] = new(StatusCode.InvalidArgument, "checkpoint_id", c => c.GetCheckpointAsync(new GetCheckpointRequest { CheckpointId = UnknownExperiment }).ResponseAsync),
        ["ListCheckpoints without experiment"] = new(StatusCode.InvalidArgument, "experiment_id", c => c.ListCheckpointsAsync(new ListCheckpointsRequest()).ResponseAsync),
        ["ListCheckpoints unknown experiment"] = new(StatusCode.NotFound, UnknownExperiment, c => c.ListCheckpointsAsync(new ListCheckpointsRequest { ExperimentId = UnknownExperiment }).ResponseAsync),
        ["CreateModel without name"] = new(StatusCode.InvalidArgument, "name", c => c.CreateModelAsync(new CreateModelRequest { Owner = "x" }).ResponseAsync),
        ["CreateModel name of 257 characters"] = new(StatusCode.InvalidArgument, "name", c => c.CreateModelAsync(new CreateModelRequest { Name = LongName }).ResponseAsync),
        ["CreateModel description over 64 KiB"] = new(StatusCode.InvalidArgument, "description", c => c.CreateModelAsync(new CreateModelRequest { Name = "x", Description = LongDescription }).ResponseAsync),
        ["GetModel without id"] = new(StatusCode.InvalidArgument, "id", c => c.GetModelAsync(new GetModelRequest()).ResponseAsync),
        ["GetModel unknown id"] = new(StatusCode.NotFound, UnknownModel, c => c.GetModelAsync(new GetModelRequest { Id = UnknownModel }).ResponseAsync),
        ["GetModel with an experiment id"] = new(StatusCode.InvalidArgument, "is the id of an experiment, not of a model", c => c.GetModelAsync(new GetModelRequest { Id = UnknownExperiment }).ResponseAsync),
        ["ListModels malformed page token"] = new(StatusCode.InvalidArgument, "page_token", c => c.ListModelsAsync(new ListModelsRequest { PageToken = "%%%" }).ResponseAsync),
        ["DeleteModel unknown id"] = new(StatusCode.NotFound, UnknownModel, c => c.DeleteModelAsync(new DeleteModelRequest { Id = UnknownModel }).ResponseAsync),
        ["RestoreModel unknown id"] = new(StatusCode.NotFound, UnknownModel, c => c.RestoreModelAsync(new RestoreModelRequest { Id = UnknownModel }).ResponseAsync),
        ["CreateModelVersion without model"] = new(StatusCode.InvalidArgument, "model", c => c.CreateModelVersionAsync(new CreateModelVersionRequest { Version = "1" }).ResponseAsync),
        ["CreateModelVersion without version"] = new(StatusCode.InvalidArgument, "version", c => c.CreateModelVersionAsync(new CreateModelVersionRequest { Model = UnknownModel }).ResponseAsync),
        ["CreateModelVersion unknown model"] = new(StatusCode.NotFound, UnknownModel, c => c.CreateModelVersionAsync(new CreateModelVersionRequest { Model = UnknownModel, Version = "1" }).ResponseAsync),
        ["CreateModelVersion empty unique tag"] = new(StatusCode.InvalidArgument, "unique_tags", c => c.CreateModelVersionAsync(WithTag(new CreateModelVersionRequest { Model = UnknownModel, Version = "1" }, "")).ResponseAsync),
        ["GetModelVersion unknown id"] = new(StatusCode.NotFound, UnknownVersion, c => c.GetModelVersionAsync(new GetModelVersionRequest { Id = UnknownVersion }).ResponseAsync),
        ["GetModelVersion without id"] = new(StatusCode.InvalidArgument, "id", c => c.GetModelVersionAsync(new GetModelVersionRequest()).ResponseAsync),
        ["ListModelVersions without model"] = new(StatusCode.InvalidArgument, "model", c => c.ListModelVersionsAsync(new ListModelVersionsRequest()).ResponseAsync),
        ["ListModelVersions unknown model"] = new(StatusCode.NotFound, UnknownModel, c => c.ListModelVersionsAsync(new ListModelVersionsRequest { Model = UnknownModel }).ResponseAsync),
        ["DeleteModelVersion unknown id"] = new(StatusCode.NotFound, UnknownVersion, c => c.DeleteModelVersionAsync(new DeleteModelVersionRequest { Id = UnknownVersion }).ResponseAsync),
        ["RestoreModelVersion unknown id"] = new(StatusCode.NotFound, UnknownVersion, c => c.RestoreModelVersionAsync(new RestoreModelVersionRequest { Id = UnknownVersion }).ResponseAsync),
        ["ListNamespaces malformed page token"] = new(StatusCode.InvalidArgument, "page_token", c => c.ListNamespacesAsync(new ListNamespacesRequest { PageToken = "bm90LWEtdG9rZW4" }).ResponseAsync),
    };

    private readonly GrpcChannel _channel;
    private readonly ModelStore.ModelStoreClient _client;

    public BadInputTests(ModelBoxServerFixture server)
    {
        _client = server.CreateGrpcClient(out _channel);
    }

    public static TheoryData<string> CaseNames() => new(Cases.Keys);

    public void Dispose() => _channel.Dispose();

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Bad_input_gets_its_status_naming_the_field_and_the_server_keeps_serving(string caseName)
    {
        var expected = Cases[caseName];
        var error = await Assert.ThrowsAsync<RpcException>(() => expected.Call(_client));
        Assert.Equal(expected.Status, error.StatusCode);
        Assert.Contains(expected.MessagePart, error.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error.Status.Detail, StringComparison.Ordinal);

        // The server still serves, and a good request right after works.
        var ok = await _client.CreateExperimentAsync(new CreateExperimentRequest { Name = "after-" + Guid.NewGuid().ToString("N") });
        Assert.False(ok.ExperimentExists);
    }

    [Fact]
    public async Task Rpcs_of_later_capabilities_answer_unimplemented_not_unknown()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => _client.GetClusterMembersAsync(new GetClusterMembersRequest()).ResponseAsync);
        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
    }

    private static CreateExperimentRequest WithMetadata(CreateExperimentRequest request, string key, Value value)
    {
        request.Metadata = new Protocol.Metadata();
        request.Metadata.Metadata_[key] = value;
        return request;
    }

    private static CreateModelVersionRequest WithTag(CreateModelVersionRequest request, string tag)
    {
        request.UniqueTags.Add(tag);
        return request;
    }
}
