using Grpc.Core;
using ModelBox.Domain;
using ModelBox.Domain.Operations;
using ModelBox.Protocol;

namespace ModelBox.Server.Services;

/// <summary>
/// The ModelStore gRPC service: maps wire messages to domain operations and back, nothing else.
/// Validation lives in the domain; errors become statuses in <see cref="ErrorMappingInterceptor"/>.
/// Each capability's RPCs live in their own part (ModelStoreService.Capability.cs) and take their domain operations from
/// <c>services</c>; RPCs not implemented yet answer UNIMPLEMENTED from the base class.
/// </summary>
public sealed partial class ModelStoreService(IServiceProvider services) : ModelStore.ModelStoreBase
{
    private readonly ExperimentTracker experiments = services.GetRequiredService<ExperimentTracker>();
    private readonly ModelRegistry models = services.GetRequiredService<ModelRegistry>();

    public override async Task<CreateExperimentResponse> CreateExperiment(CreateExperimentRequest request, ServerCallContext context)
    {
        var result = await experiments.CreateExperimentAsync(
            new NewExperiment(
                request.Namespace,
                request.Name,
                request.Owner,
                request.Framework.ToDomain(),
                request.Task,
                request.ExternalId,
                request.Description,
                request.Metadata.ToJsonMap()),
            context.CancellationToken);
        return new CreateExperimentResponse
        {
            ExperimentId = result.Value.Id,
            ExperimentExists = result.Existed,
            CreatedAt = result.Value.CreatedAt.ToTimestamp(),
            UpdatedAt = result.Value.UpdatedAt.ToTimestamp(),
        };
    }

    public override async Task<GetExperimentResponse> GetExperiment(GetExperimentRequest request, ServerCallContext context) =>
        new() { Experiment = (await experiments.GetExperimentAsync(request.Id, context.CancellationToken)).ToProto() };

    public override async Task<ListExperimentsResponse> ListExperiments(ListExperimentsRequest request, ServerCallContext context)
    {
        var page = await experiments.ListExperimentsAsync(
            request.Namespace, PageRequest.From(request.PageSize, request.PageToken), context.CancellationToken);
        var response = new ListExperimentsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        response.Experiments.Add(page.Items.Select(e => e.ToProto()));
        return response;
    }

    public override async Task<UpdateExperimentResponse> UpdateExperiment(UpdateExperimentRequest request, ServerCallContext context)
    {
        var changes = new ExperimentChanges(
            request.Status == Protocol.ExperimentStatus.Unspecified ? null : (Domain.ExperimentStatus)request.Status,
            request.HasDescription ? request.Description : null,
            request.HasExternalId ? request.ExternalId : null);
        var experiment = await experiments.UpdateExperimentAsync(request.Id, changes, context.CancellationToken);
        return new UpdateExperimentResponse { Experiment = experiment.ToProto() };
    }

    public override async Task<DeleteExperimentResponse> DeleteExperiment(DeleteExperimentRequest request, ServerCallContext context) =>
        new() { DeletedAt = (await experiments.DeleteExperimentAsync(request.Id, context.CancellationToken)).ToTimestamp() };

    public override async Task<RestoreExperimentResponse> RestoreExperiment(RestoreExperimentRequest request, ServerCallContext context) =>
        new() { Experiment = (await experiments.RestoreExperimentAsync(request.Id, context.CancellationToken)).ToProto() };

    public override async Task<CreateCheckpointResponse> CreateCheckpoint(CreateCheckpointRequest request, ServerCallContext context)
    {
        var files = artifacts.ValidateFilesOfNewObject(request.Files.ToNewFiles());
        var result = await experiments.CreateCheckpointAsync(
            new NewCheckpoint(
                request.ExperimentId,
                request.Epoch,
                request.Metrics.ToDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal),
                request.Metadata.ToJsonMap()),
            context.CancellationToken);
        await AttachFilesAsync(result, result.Value.Id, files, context.CancellationToken);
        return new CreateCheckpointResponse
        {
            CheckpointId = result.Value.Id,
            Exists = result.Existed,
            CreatedAt = result.Value.CreatedAt.ToTimestamp(),
            UpdatedAt = result.Value.UpdatedAt.ToTimestamp(),
        };
    }

    public override async Task<GetCheckpointResponse> GetCheckpoint(GetCheckpointRequest request, ServerCallContext context)
    {
        var checkpoint = request.CheckpointId.Length > 0
            ? await experiments.GetCheckpointAsync(request.CheckpointId, context.CancellationToken)
            : await experiments.GetCheckpointAsync(request.ExperimentId, request.Epoch, context.CancellationToken);
        var proto = checkpoint.ToProto();
        proto.Files.AddFiles(await FilesOfAsync([checkpoint.Id], context.CancellationToken), checkpoint.Id);
        return new GetCheckpointResponse { Checkpoint = proto };
    }

    public override async Task<ListCheckpointsResponse> ListCheckpoints(ListCheckpointsRequest request, ServerCallContext context)
    {
        var page = await experiments.ListCheckpointsAsync(
            request.ExperimentId, PageRequest.From(request.PageSize, request.PageToken), context.CancellationToken);
        var response = new ListCheckpointsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        var files = await FilesOfAsync(page.Items.Select(c => c.Id), context.CancellationToken);
        response.Checkpoints.Add(page.Items.Select(c =>
        {
            var proto = c.ToProto();
            proto.Files.AddFiles(files, c.Id);
            return proto;
        }));
        return response;
    }

    public override async Task<CreateModelResponse> CreateModel(CreateModelRequest request, ServerCallContext context)
    {
        var files = artifacts.ValidateFilesOfNewObject(request.Files.ToNewFiles());
        var result = await models.CreateModelAsync(
            new NewModel(request.Namespace, request.Name, request.Owner, request.Task, request.Description, request.Metadata.ToJsonMap()),
            context.CancellationToken);
        await AttachFilesAsync(result, result.Value.Id, files, context.CancellationToken);
        return new CreateModelResponse
        {
            Id = result.Value.Id,
            Exists = result.Existed,
            CreatedAt = result.Value.CreatedAt.ToTimestamp(),
            UpdatedAt = result.Value.UpdatedAt.ToTimestamp(),
        };
    }

    public override async Task<GetModelResponse> GetModel(GetModelRequest request, ServerCallContext context)
    {
        var model = await models.GetModelAsync(request.Id, context.CancellationToken);
        var proto = model.ToProto();
        proto.Files.AddFiles(await FilesOfAsync([model.Id], context.CancellationToken), model.Id);
        return new GetModelResponse { Model = proto };
    }

    public override async Task<ListModelsResponse> ListModels(ListModelsRequest request, ServerCallContext context)
    {
        var page = await models.ListModelsAsync(
            request.Namespace, PageRequest.From(request.PageSize, request.PageToken), context.CancellationToken);
        var response = new ListModelsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        var files = await FilesOfAsync(page.Items.Select(m => m.Id), context.CancellationToken);
        response.Models.Add(page.Items.Select(m =>
        {
            var proto = m.ToProto();
            proto.Files.AddFiles(files, m.Id);
            return proto;
        }));
        return response;
    }

    public override async Task<DeleteModelResponse> DeleteModel(DeleteModelRequest request, ServerCallContext context) =>
        new() { DeletedAt = (await models.DeleteModelAsync(request.Id, context.CancellationToken)).ToTimestamp() };

    public override async Task<RestoreModelResponse> RestoreModel(RestoreModelRequest request, ServerCallContext context) =>
        new() { Model = (await models.RestoreModelAsync(request.Id, context.CancellationToken)).ToProto() };

    public override async Task<CreateModelVersionResponse> CreateModelVersion(CreateModelVersionRequest request, ServerCallContext context)
    {
        var files = artifacts.ValidateFilesOfNewObject(request.Files.ToNewFiles());
        var result = await models.CreateModelVersionAsync(
            new NewModelVersion(
                request.Model,
                request.Name,
                request.Version,
                request.Description,
                request.Framework.ToDomain(),
                request.UniqueTags,
                request.Metadata.ToJsonMap()),
            context.CancellationToken);
        await AttachFilesAsync(result, result.Value.Id, files, context.CancellationToken);
        return new CreateModelVersionResponse
        {
            ModelVersion = result.Value.Id,
            Exists = result.Existed,
            CreatedAt = result.Value.CreatedAt.ToTimestamp(),
            UpdatedAt = result.Value.UpdatedAt.ToTimestamp(),
        };
    }

    public override async Task<GetModelVersionResponse> GetModelVersion(GetModelVersionRequest request, ServerCallContext context)
    {
        var version = await models.GetModelVersionAsync(request.Id, context.CancellationToken);
        var proto = version.ToProto();
        proto.Files.AddFiles(await FilesOfAsync([version.Id], context.CancellationToken), version.Id);
        return new GetModelVersionResponse { ModelVersion = proto };
    }

    public override async Task<ListModelVersionsResponse> ListModelVersions(ListModelVersionsRequest request, ServerCallContext context)
    {
        var page = await models.ListModelVersionsAsync(
            request.Model, PageRequest.From(request.PageSize, request.PageToken), context.CancellationToken);
        var response = new ListModelVersionsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        var files = await FilesOfAsync(page.Items.Select(v => v.Id), context.CancellationToken);
        response.ModelVersions.Add(page.Items.Select(v =>
        {
            var proto = v.ToProto();
            proto.Files.AddFiles(files, v.Id);
            return proto;
        }));
        return response;
    }

    public override async Task<DeleteModelVersionResponse> DeleteModelVersion(DeleteModelVersionRequest request, ServerCallContext context) =>
        new() { DeletedAt = (await models.DeleteModelVersionAsync(request.Id, context.CancellationToken)).ToTimestamp() };

    public override async Task<RestoreModelVersionResponse> RestoreModelVersion(RestoreModelVersionRequest request, ServerCallContext context) =>
        new() { ModelVersion = (await models.RestoreModelVersionAsync(request.Id, context.CancellationToken)).ToProto() };

    public override async Task<ListNamespacesResponse> ListNamespaces(ListNamespacesRequest request, ServerCallContext context)
    {
        var page = await models.ListNamespacesAsync(PageRequest.From(request.PageSize, request.PageToken), context.CancellationToken);
        var response = new ListNamespacesResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        response.Namespaces.Add(page.Items.Select(n => n.ToProto()));
        return response;
    }
}
