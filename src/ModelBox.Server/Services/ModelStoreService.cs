using Grpc.Core;
using ModelBox.Domain;
using ModelBox.Domain.Operations;
using ModelBox.Protocol;
using ModelBox.Server.Configuration;

namespace ModelBox.Server.Services;

/// <summary>
/// The ModelStore gRPC service: maps wire messages to domain operations and back, nothing else.
/// Validation lives in the domain; errors become statuses in <see cref="ErrorMappingInterceptor"/>.
/// Each capability's RPCs live in their own part (ModelStoreService.Capability.cs); the domain operations they delegate to
/// come in through the constructor. RPCs not implemented yet answer UNIMPLEMENTED from the base class.
/// </summary>
public sealed partial class ModelStoreService(
    ExperimentTracker experiments,
    ModelRegistry models,
    ModelGovernance governance,
    DatasetCatalog datasets,
    LineageTracker lineage,
    RegistrySearch search,
    MetricLog metricLog,
    MetadataEditor metadata,
    EventLog events,
    ChangeStream changes,
    ArtifactStore artifacts,
    ObjectDetails details,
    ServerConfig config) : ModelStore.ModelStoreBase
{

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
        new() { Experiment = (await details.OfAsync(await experiments.GetExperimentAsync(request.Id, context.CancellationToken), context.CancellationToken)).ToProto() };

    public override async Task<ListExperimentsResponse> ListExperiments(ListExperimentsRequest request, ServerCallContext context)
    {
        var pageRequest = PageRequest.From(request.PageSize, request.PageToken);
        var page = request.LabelSelector.Length > 0
            ? await search.ListExperimentsAsync(request.Namespace, request.LabelSelector, pageRequest, context.CancellationToken)
            : await experiments.ListExperimentsAsync(request.Namespace, pageRequest, context.CancellationToken);
        var response = new ListExperimentsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        response.Experiments.Add((await details.OfAsync(page.Items, context.CancellationToken)).Select(e => e.ToProto()));
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
        var result = await experiments.CreateCheckpointAsync(
            new NewCheckpoint(
                request.ExperimentId,
                request.Epoch,
                request.Metrics.ToDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal),
                request.Metadata.ToJsonMap()),
            request.Files.ToNewFiles(),
            context.CancellationToken);
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
        return new GetCheckpointResponse { Checkpoint = (await details.OfAsync(checkpoint, context.CancellationToken)).ToProto() };
    }

    public override async Task<ListCheckpointsResponse> ListCheckpoints(ListCheckpointsRequest request, ServerCallContext context)
    {
        var page = await experiments.ListCheckpointsAsync(
            request.ExperimentId, PageRequest.From(request.PageSize, request.PageToken), context.CancellationToken);
        var response = new ListCheckpointsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        response.Checkpoints.Add((await details.OfAsync(page.Items, context.CancellationToken)).Select(c => c.ToProto()));
        return response;
    }

    public override async Task<CreateModelResponse> CreateModel(CreateModelRequest request, ServerCallContext context)
    {
        var result = await models.CreateModelAsync(
            new NewModel(request.Namespace, request.Name, request.Owner, request.Task, request.Description, request.Metadata.ToJsonMap()),
            request.Files.ToNewFiles(),
            context.CancellationToken);
        return new CreateModelResponse
        {
            Id = result.Value.Id,
            Exists = result.Existed,
            CreatedAt = result.Value.CreatedAt.ToTimestamp(),
            UpdatedAt = result.Value.UpdatedAt.ToTimestamp(),
        };
    }

    public override async Task<GetModelResponse> GetModel(GetModelRequest request, ServerCallContext context) =>
        new() { Model = (await details.OfAsync(await models.GetModelAsync(request.Id, context.CancellationToken), context.CancellationToken)).ToProto() };

    public override async Task<ListModelsResponse> ListModels(ListModelsRequest request, ServerCallContext context)
    {
        var pageRequest = PageRequest.From(request.PageSize, request.PageToken);
        var page = request.LabelSelector.Length > 0
            ? await search.ListModelsAsync(request.Namespace, request.LabelSelector, pageRequest, context.CancellationToken)
            : await models.ListModelsAsync(request.Namespace, pageRequest, context.CancellationToken);
        var response = new ListModelsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        response.Models.Add((await details.OfAsync(page.Items, context.CancellationToken)).Select(m => m.ToProto()));
        return response;
    }

    public override async Task<DeleteModelResponse> DeleteModel(DeleteModelRequest request, ServerCallContext context) =>
        new() { DeletedAt = (await models.DeleteModelAsync(request.Id, context.CancellationToken)).ToTimestamp() };

    public override async Task<RestoreModelResponse> RestoreModel(RestoreModelRequest request, ServerCallContext context) =>
        new() { Model = (await models.RestoreModelAsync(request.Id, context.CancellationToken)).ToProto() };

    public override async Task<CreateModelVersionResponse> CreateModelVersion(CreateModelVersionRequest request, ServerCallContext context)
    {
        var result = await governance.CreateModelVersionAsync(
            new NewModelVersion(
                request.Model,
                request.Name,
                request.Version,
                request.Description,
                request.Framework.ToDomain(),
                request.UniqueTags,
                request.Metadata.ToJsonMap()),
            request.Lineage.ToDomain(),
            RegistryMapping.Actor(request.Actor, context),
            request.Files.ToNewFiles(),
            context.CancellationToken);
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
        // By id, by a model's alias, or by a reference (namespace/model@alias, namespace/model:version).
        var version = request.Reference.Length > 0 ? await governance.ResolveAsync(request.Reference, context.CancellationToken)
            : request.Alias.Length > 0 || (request.Id.Length == 0 && request.ModelId.Length > 0)
                ? await governance.GetVersionByAliasAsync(request.ModelId, request.Alias, context.CancellationToken)
                : await models.GetModelVersionAsync(request.Id, context.CancellationToken);
        return new() { ModelVersion = (await details.OfAsync(version, context.CancellationToken)).ToProto() };
    }

    public override async Task<ListModelVersionsResponse> ListModelVersions(ListModelVersionsRequest request, ServerCallContext context)
    {
        var pageRequest = PageRequest.From(request.PageSize, request.PageToken);
        var page = await models.ListModelVersionsAsync(
            request.Model, request.LabelSelector.Length > 0 ? new PageRequest(1, null) : pageRequest, context.CancellationToken);
        if (request.LabelSelector.Length > 0)
        {
            page = await search.ListModelVersionsAsync(request.Model, request.LabelSelector, pageRequest, context.CancellationToken);
        }

        var response = new ListModelVersionsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        response.ModelVersions.Add((await details.OfAsync(page.Items, context.CancellationToken)).Select(v => v.ToProto()));
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
