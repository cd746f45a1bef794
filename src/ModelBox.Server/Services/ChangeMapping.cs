using System.Runtime.CompilerServices;
using Google.Protobuf;
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
        Payload = Payload(change),
    };

    /// <summary>
    /// Past this size a record's state is served as an <see cref="ValueMapping.Unreadable"/> marker: today's limits keep
    /// every state well below it (2 MiB of metadata, 64 KiB of description), so only records written before them reach it.
    /// </summary>
    internal const int MaxServedStateBytes = 4 * 1024 * 1024;

    /// <summary>
    /// The record's state, or a marker for a state written before today's limits held (metadata nested deeper than they
    /// allow, or too large), so that such a record cannot break the stream or a client's parser: metadata values sit two
    /// levels down in a state (<c>{"metadata": {"key": value}}</c>).
    /// </summary>
    private static Value Payload(ChangeRecord change)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(change.StateJson) > MaxServedStateBytes)
        {
            return ValueMapping.Unreadable($"the state of change {change.Sequence} is larger than {MaxServedStateBytes} bytes");
        }

        try
        {
            return StateParser.Parse<Value>(change.StateJson);
        }
        catch (InvalidProtocolBufferException) when (Domain.Validation.NestsDeeperThan(change.StateJson, Domain.Validation.MaxMetadataDepth + 1))
        {
            return ValueMapping.Unreadable($"the state of change {change.Sequence} holds metadata nested deeper than {Domain.Validation.MaxMetadataDepth} levels");
        }
    }

    /// <summary>Parses a state in one pass, stopping at the depth a state within today's limits can reach (see <see cref="Payload"/>).</summary>
    private static readonly JsonParser StateParser =
        new(JsonParser.Settings.Default.WithRecursionLimit(2 * (Domain.Validation.MaxMetadataDepth + 2)));
}
