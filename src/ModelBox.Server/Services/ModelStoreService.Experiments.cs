using Grpc.Core;
using ModelBox.Domain;
using ModelBox.Protocol;

namespace ModelBox.Server.Services;

// Experiments and their checkpoints.
public sealed partial class ModelStoreService
{
    public override async Task<CreateExperimentResponse> CreateExperiment(CreateExperimentRequest request, ServerCallContext context) =>
        (await experiments.CreateExperimentAsync(request.ToDomain(), context.CancellationToken)).ToResponse();

    public override async Task<GetExperimentResponse> GetExperiment(GetExperimentRequest request, ServerCallContext context)
    {
        var experiment = await experiments.GetExperimentAsync(request.Id, context.CancellationToken);
        return new() { Experiment = (await details.OfAsync(experiment, context.CancellationToken)).ToProto() };
    }

    public override async Task<ListExperimentsResponse> ListExperiments(ListExperimentsRequest request, ServerCallContext context)
    {
        var page = await experiments.ListExperimentsAsync(
            request.Namespace, request.Recursive, request.LabelSelector, PageRequest.From(request.PageSize, request.PageToken), context.CancellationToken);
        var response = new ListExperimentsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        response.Experiments.Add((await details.OfAsync(page.Items, context.CancellationToken)).Select(e => e.ToProto()));
        return response;
    }

    public override async Task<UpdateExperimentResponse> UpdateExperiment(UpdateExperimentRequest request, ServerCallContext context) =>
        new() { Experiment = (await experiments.UpdateExperimentAsync(request.Id, request.ToDomain(), context.CancellationToken)).ToProto() };

    public override async Task<DeleteExperimentResponse> DeleteExperiment(DeleteExperimentRequest request, ServerCallContext context) =>
        new() { DeletedAt = (await experiments.DeleteExperimentAsync(request.Id, context.CancellationToken)).ToTimestamp() };

    public override async Task<RestoreExperimentResponse> RestoreExperiment(RestoreExperimentRequest request, ServerCallContext context) =>
        new() { Experiment = (await experiments.RestoreExperimentAsync(request.Id, context.CancellationToken)).ToProto() };

    public override async Task<CreateCheckpointResponse> CreateCheckpoint(CreateCheckpointRequest request, ServerCallContext context) =>
        (await experiments.CreateCheckpointAsync(request.ToDomain(), request.Files.ToNewFiles(), context.CancellationToken)).ToResponse();

    public override async Task<GetCheckpointResponse> GetCheckpoint(GetCheckpointRequest request, ServerCallContext context)
    {
        var checkpoint = request.CheckpointId.Length > 0
            ? await experiments.GetCheckpointAsync(request.CheckpointId, context.CancellationToken)
            : await experiments.GetCheckpointAsync(request.ExperimentId, request.Epoch, context.CancellationToken);
        return new() { Checkpoint = (await details.OfAsync(checkpoint, context.CancellationToken)).ToProto() };
    }

    public override async Task<ListCheckpointsResponse> ListCheckpoints(ListCheckpointsRequest request, ServerCallContext context)
    {
        var page = await experiments.ListCheckpointsAsync(
            request.ExperimentId, PageRequest.From(request.PageSize, request.PageToken), context.CancellationToken);
        var response = new ListCheckpointsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        response.Checkpoints.Add((await details.OfAsync(page.Items, context.CancellationToken)).Select(c => c.ToProto()));
        return response;
    }
}
