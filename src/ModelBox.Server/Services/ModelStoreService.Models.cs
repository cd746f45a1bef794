using Grpc.Core;
using ModelBox.Domain;
using ModelBox.Protocol;
using ModelBox.Server.Security;

namespace ModelBox.Server.Services;

// Models, their versions, and namespaces.
public sealed partial class ModelStoreService
{
    public override async Task<CreateModelResponse> CreateModel(CreateModelRequest request, ServerCallContext context) =>
        (await models.CreateModelAsync(request.ToDomain(), request.Files.ToNewFiles(), context.CancellationToken)).ToResponse();

    public override async Task<GetModelResponse> GetModel(GetModelRequest request, ServerCallContext context)
    {
        var model = await models.GetModelAsync(request.Id, context.CancellationToken);
        return new() { Model = (await details.OfAsync(model, context.CancellationToken)).ToProto() };
    }

    public override async Task<ListModelsResponse> ListModels(ListModelsRequest request, ServerCallContext context)
    {
        var page = await models.ListModelsAsync(
            request.Namespace, request.Recursive, request.LabelSelector, PageRequest.From(request.PageSize, request.PageToken), context.CancellationToken);
        var response = new ListModelsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        response.Models.Add((await details.OfAsync(page.Items, context.CancellationToken)).Select(m => m.ToProto()));
        return response;
    }

    public override async Task<DeleteModelResponse> DeleteModel(DeleteModelRequest request, ServerCallContext context) =>
        new() { DeletedAt = (await models.DeleteModelAsync(request.Id, context.CancellationToken)).ToTimestamp() };

    public override async Task<RestoreModelResponse> RestoreModel(RestoreModelRequest request, ServerCallContext context) =>
        new() { Model = (await models.RestoreModelAsync(request.Id, context.CancellationToken)).ToProto() };

    public override async Task<CreateModelVersionResponse> CreateModelVersion(CreateModelVersionRequest request, ServerCallContext context) =>
        (await governance.CreateModelVersionAsync(
            request.ToDomain(),
            request.Lineage.ToDomain(),
            RegistryMapping.Actor(request.Actor, context),
            request.Files.ToNewFiles(),
            context.CancellationToken)).ToResponse();

    public override async Task<GetModelVersionResponse> GetModelVersion(GetModelVersionRequest request, ServerCallContext context)
    {
        // By id, by a model's alias, or by a reference (namespace/model@alias, namespace/model:version): whichever the request names.
        var version = request.Reference.Length > 0 ? await governance.ResolveAsync(request.Reference, context.CancellationToken)
            : request.Alias.Length > 0 || (request.Id.Length == 0 && request.ModelId.Length > 0)
                ? await governance.GetVersionByAliasAsync(request.ModelId, request.Alias, context.CancellationToken)
                : await models.GetModelVersionAsync(request.Id, context.CancellationToken);
        return new() { ModelVersion = (await details.OfAsync(version, context.CancellationToken)).ToProto() };
    }

    public override async Task<ListModelVersionsResponse> ListModelVersions(ListModelVersionsRequest request, ServerCallContext context)
    {
        var page = await models.ListModelVersionsAsync(
            request.Model, request.LabelSelector, PageRequest.From(request.PageSize, request.PageToken), context.CancellationToken);
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
        // With auth enforced, only the namespaces the caller may read (a page may then hold fewer than its size).
        var caller = CallerSession.Of(context)?.Current;
        response.Namespaces.Add(page.Items.Where(n => caller is null || caller.CanRead(n.Name)).Select(n => n.ToProto()));
        return response;
    }
}
