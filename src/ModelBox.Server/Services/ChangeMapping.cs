using System.Runtime.CompilerServices;
using Google.Protobuf.WellKnownTypes;
using ModelBox.Domain.Changes;
using Proto = ModelBox.Protocol;

namespace ModelBox.Server.Services;

/// <summary>Domain → wire mapping of change records, for WatchNamespace.</summary>
internal static class ChangeMapping
{
    // Every watcher of a namespace receives the same record objects; parse each record's JSON once, not once per watcher.
    // Responses are only read after they are built, so sharing one instance between concurrent streams is safe.
    private static readonly ConditionalWeakTable<ChangeRecord, Proto.WatchNamespaceResponse> s_responses = [];

    /// <summary>The response for a change record; the same instance for the same record.</summary>
    public static Proto.WatchNamespaceResponse ToResponse(this ChangeRecord change) => s_responses.GetValue(change, Build);

    private static Proto.WatchNamespaceResponse Build(ChangeRecord change) => new()
    {
        Sequence = (ulong)change.Sequence,
        Event = change.Change switch
        {
            ChangeType.Created => Proto.ChangeEvent.ObjectCreated,
            ChangeType.Updated => Proto.ChangeEvent.ObjectUpdated,
            ChangeType.Deleted => Proto.ChangeEvent.ObjectDeleted,
            _ => Proto.ChangeEvent.Undefined,
        },
        ObjectKind = change.ObjectKind,
        ObjectId = change.ObjectId,
        ChangedAt = change.ChangedAt.ToTimestamp(),
        Payload = Value.Parser.ParseJson(change.StateJson),
    };
}
