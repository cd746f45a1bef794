using Grpc.Core;
using ModelBox.Domain;
using ModelBox.Protocol;

namespace ModelBox.Server.Services;

// Labels, aliases, unique tags, datasets, lineage and search.
public sealed partial class ModelStoreService
{
    public override async Task<SetLabelsResponse> SetLabels(SetLabelsRequest request, ServerCallContext context)
    {
        var result = await governance.SetLabelsAsync(
            request.ObjectId, request.Labels, RegistryMapping.Actor(request.Actor, context), context.CancellationToken);
        return result.ToSetLabelsResponse();
    }

    public override async Task<RemoveLabelsResponse> RemoveLabels(RemoveLabelsRequest request, ServerCallContext context)
    {
        var result = await governance.RemoveLabelsAsync(
            request.ObjectId, request.Keys, RegistryMapping.Actor(request.Actor, context), context.CancellationToken);
        return result.ToRemoveLabelsResponse();
    }

    public override async Task<SetModelAliasResponse> SetModelAlias(SetModelAliasRequest request, ServerCallContext context)
    {
        var (alias, previous) = await governance.SetAliasAsync(
            request.ModelId, request.Alias, request.VersionId, RegistryMapping.Actor(request.Actor, context), context.CancellationToken);
        return new SetModelAliasResponse { Alias = alias.ToProto(), PreviousVersionId = previous ?? string.Empty };
    }

    public override async Task<GetModelAliasResponse> GetModelAlias(GetModelAliasRequest request, ServerCallContext context) =>
        new() { Alias = (await governance.GetAliasAsync(request.ModelId, request.Alias, context.CancellationToken)).ToProto() };

    public override async Task<ListModelAliasesResponse> ListModelAliases(ListModelAliasesRequest request, ServerCallContext context)
    {
        var response = new ListModelAliasesResponse();
        response.Aliases.Add((await governance.ListAliasesAsync(request.ModelId, context.CancellationToken)).Select(a => a.ToProto()));
        return response;
    }

    public override async Task<DeleteModelAliasResponse> DeleteModelAlias(DeleteModelAliasRequest request, ServerCallContext context) =>
        new()
        {
            Alias = (await governance.DeleteAliasAsync(
                request.ModelId, request.Alias, RegistryMapping.Actor(request.Actor, context), context.CancellationToken)).ToProto(),
        };

    public override async Task<UpdateUniqueTagsResponse> UpdateUniqueTags(UpdateUniqueTagsRequest request, ServerCallContext context)
    {
        var version = await governance.UpdateUniqueTagsAsync(
            request.VersionId, request.Add, request.Remove, RegistryMapping.Actor(request.Actor, context), context.CancellationToken);
        return new UpdateUniqueTagsResponse { ModelVersion = (await details.OfAsync(version, context.CancellationToken)).ToProto() };
    }

    public override async Task<CreateDatasetResponse> CreateDataset(CreateDatasetRequest request, ServerCallContext context) =>
        (await datasets.RegisterDatasetAsync(request.ToDomain(), context.CancellationToken)).ToResponse();

    public override async Task<GetDatasetResponse> GetDataset(GetDatasetRequest request, ServerCallContext context)
    {
        var (dataset, versions) = await datasets.GetDatasetAsync(request.Id, context.CancellationToken);
        var response = new GetDatasetResponse { Dataset = dataset.ToProto() };
        response.Versions.Add(versions.Select(v => v.ToProto()));
        return response;
    }

    public override async Task<ListDatasetsResponse> ListDatasets(ListDatasetsRequest request, ServerCallContext context)
    {
        var page = await datasets.ListDatasetsAsync(request.Namespace, request.Recursive, PageRequest.From(request.PageSize, request.PageToken), context.CancellationToken);
        var response = new ListDatasetsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        response.Datasets.Add(page.Items.Select(d => d.ToProto()));
        return response;
    }

    public override async Task<GetDatasetUsageResponse> GetDatasetUsage(GetDatasetUsageRequest request, ServerCallContext context)
    {
        var usage = await lineage.GetDatasetUsageAsync(request.DatasetId, context.CancellationToken);
        var response = new GetDatasetUsageResponse();
        response.Experiments.Add((await details.OfAsync(usage.Experiments, context.CancellationToken)).Select(e => e.ToProto()));
        response.ModelVersions.Add((await details.OfAsync(usage.ModelVersions, context.CancellationToken)).Select(v => v.ToProto()));
        return response;
    }

    public override async Task<SetLineageResponse> SetLineage(SetLineageRequest request, ServerCallContext context)
    {
        var recorded = await lineage.SetLineageAsync(
            request.SubjectId, request.Lineage.ToDomain(), RegistryMapping.Actor(request.Actor, context), context.CancellationToken);
        return new SetLineageResponse { Lineage = recorded.ToProto() };
    }

    public override async Task<GetLineageResponse> GetLineage(GetLineageRequest request, ServerCallContext context)
    {
        var graph = await lineage.GetLineageAsync(request.VersionId, context.CancellationToken);
        return (await details.OfAsync(graph, context.CancellationToken)).ToResponse();
    }

    public override async Task<ListVersionsTrainedInResponse> ListVersionsTrainedIn(ListVersionsTrainedInRequest request, ServerCallContext context)
    {
        var versions = await lineage.ListVersionsTrainedInAsync(request.ExperimentId, context.CancellationToken);
        var response = new ListVersionsTrainedInResponse();
        response.ModelVersions.Add((await details.OfAsync(versions, context.CancellationToken)).Select(v => v.ToProto()));
        return response;
    }

    public override async Task<SearchExperimentsResponse> SearchExperiments(SearchRequest request, ServerCallContext context)
    {
        var page = await search.SearchExperimentsAsync(
            request.Namespace, request.Recursive, request.Filter, request.OrderBy, PageRequest.From(request.PageSize, request.PageToken),
            Readable(context), context.CancellationToken);
        var response = new SearchExperimentsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        response.Experiments.Add((await details.OfAsync(page.Items, context.CancellationToken)).Select(e => e.ToProto()));
        return response;
    }

    public override async Task<SearchModelsResponse> SearchModels(SearchRequest request, ServerCallContext context)
    {
        var page = await search.SearchModelsAsync(
            request.Namespace, request.Recursive, request.Filter, request.OrderBy, PageRequest.From(request.PageSize, request.PageToken),
            Readable(context), context.CancellationToken);
        var response = new SearchModelsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        response.Models.Add((await details.OfAsync(page.Items, context.CancellationToken)).Select(m => m.ToProto()));
        return response;
    }

    public override async Task<SearchModelVersionsResponse> SearchModelVersions(SearchRequest request, ServerCallContext context)
    {
        var page = await search.SearchModelVersionsAsync(
            request.Namespace, request.Recursive, request.Filter, request.OrderBy, PageRequest.From(request.PageSize, request.PageToken),
            Readable(context), context.CancellationToken);
        var response = new SearchModelVersionsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        response.ModelVersions.Add((await details.OfAsync(page.Items, context.CancellationToken)).Select(v => v.ToProto()));
        return response;
    }
}
