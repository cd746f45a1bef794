using Grpc.Core;
using ModelBox.Domain;
using ModelBox.Protocol;

namespace ModelBox.Server.Services;

// Metadata and events of any object.
public sealed partial class ModelStoreService
{
    public override async Task<UpdateMetadataResponse> UpdateMetadata(UpdateMetadataRequest request, ServerCallContext context)
    {
        var result = await metadata.UpdateMetadataAsync(request.ParentId, request.Metadata.ToJsonMap(), context.CancellationToken);
        return new UpdateMetadataResponse { NumKeysWritten = result.KeysAffected, UpdatedAt = result.UpdatedAt.ToTimestamp() };
    }

    public override async Task<ListMetadataResponse> ListMetadata(ListMetadataRequest request, ServerCallContext context)
    {
        var values = await metadata.ListMetadataAsync(request.ParentId, context.CancellationToken);
        var response = new ListMetadataResponse();
        response.Metadata.Add(values.ToProtoMetadata().Metadata_);
        return response;
    }

    public override async Task<DeleteMetadataResponse> DeleteMetadata(DeleteMetadataRequest request, ServerCallContext context)
    {
        var result = await metadata.DeleteMetadataAsync(request.ParentId, request.Keys, context.CancellationToken);
        return new DeleteMetadataResponse { NumKeysDeleted = result.KeysAffected, UpdatedAt = result.UpdatedAt.ToTimestamp() };
    }

    public override async Task<LogEventResponse> LogEvent(LogEventRequest request, ServerCallContext context) =>
        new() { CreatedAt = (await events.LogEventAsync(request.ToDomain(), context.CancellationToken)).CreatedAt.ToTimestamp() };

    public override async Task<ListEventsResponse> ListEvents(ListEventsRequest request, ServerCallContext context)
    {
        var page = await events.ListEventsAsync(
            request.ParentId,
            request.Since is null ? null : request.Since.ToUnixNanos("since"),
            PageRequest.From(request.PageSize, request.PageToken),
            context.CancellationToken);
        var response = new ListEventsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        response.Events.Add(page.Items.Select(item => item.ToProto()));
        return response;
    }
}
