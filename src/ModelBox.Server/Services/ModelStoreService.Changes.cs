using System.Runtime.CompilerServices;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Operations;
using ModelBox.Protocol;

namespace ModelBox.Server.Services;

// Metadata of any object, events, and the change stream.
public sealed partial class ModelStoreService
{
    // Every watcher of a namespace receives the same record objects; parse each record's JSON once, not once per watcher.
    // Responses are only read after they are built, so sharing one instance between concurrent streams is safe.
    private static readonly ConditionalWeakTable<ChangeRecord, WatchNamespaceResponse> s_responses = [];

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

    public override async Task<LogEventResponse> LogEvent(LogEventRequest request, ServerCallContext context)
    {
        var e = request.Event ?? throw ModelBoxException.InvalidArgument("event is required");
        var logged = await events.LogEventAsync(
            new NewEvent(
                request.ParentId,
                e.Name,
                e.Source?.Name,
                e.WallclockTime is null ? null : e.WallclockTime.ToUnixNanos("event.wallclock_time"),
                e.Metadata.ToJsonMap("event.metadata")),
            context.CancellationToken);
        return new LogEventResponse { CreatedAt = logged.CreatedAt.ToTimestamp() };
    }

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

    public override async Task WatchNamespace(
        WatchNamespaceRequest request, IServerStreamWriter<WatchNamespaceResponse> responseStream, ServerCallContext context)
    {
        await foreach (var change in changes.WatchAsync(request.Namespace, request.Since, context.CancellationToken))
        {
            await responseStream.WriteAsync(s_responses.GetValue(change, ToResponse), context.CancellationToken);
        }
    }

    private static WatchNamespaceResponse ToResponse(ChangeRecord change) => new()
    {
        Sequence = (ulong)change.Sequence,
        Event = change.Change switch
        {
            ChangeType.Created => Protocol.ChangeEvent.ObjectCreated,
            ChangeType.Updated => Protocol.ChangeEvent.ObjectUpdated,
            ChangeType.Deleted => Protocol.ChangeEvent.ObjectDeleted,
            _ => Protocol.ChangeEvent.Undefined,
        },
        ObjectKind = change.ObjectKind,
        ObjectId = change.ObjectId,
        ChangedAt = change.ChangedAt.ToTimestamp(),
        Payload = Value.Parser.ParseJson(change.StateJson),
    };
}
