using System.Text.Json;
using ModelBox.Protocol;

namespace ModelBox.Client;

// Metadata of any object, and events.
public sealed partial class ModelBoxClient
{
    /// <summary>Writes metadata keys of any object (experiment, checkpoint, model, model version, event): the keys given are
    /// replaced, the others kept.</summary>
    /// <param name="parentId">The object id.</param>
    /// <param name="values">The keys to write and their JSON values (at most 1 MiB of JSON each).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>How many keys were written, and when.</returns>
    /// <exception cref="ModelBoxNotFoundException">No live object has this id.</exception>
    public async Task<MetadataWriteResult> UpdateMetadataAsync(
        string parentId, IReadOnlyDictionary<string, JsonElement> values, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var request = new UpdateMetadataRequest { ParentId = parentId ?? "", Metadata = ProtocolMapping.ToProto(values) ?? new Protocol.Metadata() };
        var response = await InvokeAsync(o => _store.UpdateMetadataAsync(request, o), cancellationToken).ConfigureAwait(false);
        return new MetadataWriteResult { Keys = response.NumKeysWritten, UpdatedAt = ProtocolMapping.ToSdk(response.UpdatedAt) };
    }

    /// <summary>Returns all metadata of an object.</summary>
    /// <param name="parentId">The object id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ModelBoxNotFoundException">No live object has this id.</exception>
    public async Task<IReadOnlyDictionary<string, JsonElement>> ListMetadataAsync(string parentId, CancellationToken cancellationToken = default)
    {
        var request = new ListMetadataRequest { ParentId = parentId ?? "" };
        var response = await InvokeAsync(o => _store.ListMetadataAsync(request, o), cancellationToken).ConfigureAwait(false);
        var metadata = new Protocol.Metadata();
        metadata.Metadata_.Add(response.Metadata);
        return ProtocolMapping.ToSdk(metadata);
    }

    /// <summary>Removes metadata keys of an object; keys it does not have are ignored.</summary>
    /// <param name="parentId">The object id.</param>
    /// <param name="keys">The keys to remove.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>How many of the keys existed and were removed, and when.</returns>
    /// <exception cref="ModelBoxNotFoundException">No live object has this id.</exception>
    public async Task<MetadataWriteResult> DeleteMetadataAsync(string parentId, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var request = new DeleteMetadataRequest { ParentId = parentId ?? "" };
        request.Keys.Add(keys);
        var response = await InvokeAsync(o => _store.DeleteMetadataAsync(request, o), cancellationToken).ConfigureAwait(false);
        return new MetadataWriteResult { Keys = response.NumKeysDeleted, UpdatedAt = ProtocolMapping.ToSdk(response.UpdatedAt) };
    }

    /// <summary>Logs an event against any object. Every call stores a new event.</summary>
    /// <param name="parentId">The object id.</param>
    /// <param name="name">What happened.</param>
    /// <param name="source">Who reports it.</param>
    /// <param name="wallclockTime">When it happened; null means now (the server's clock).</param>
    /// <param name="metadata">JSON per key.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>When the server stored it.</returns>
    public async Task<DateTimeOffset> LogEventAsync(
        string parentId,
        string name,
        string? source = null,
        DateTimeOffset? wallclockTime = null,
        IReadOnlyDictionary<string, JsonElement>? metadata = null,
        CancellationToken cancellationToken = default)
    {
        var loggedEvent = new Protocol.Event
        {
            Name = name ?? "",
            Source = new EventSource { Name = source ?? "" },
            Metadata = ProtocolMapping.ToProto(metadata),
        };
        if (wallclockTime is { } time)
        {
            loggedEvent.WallclockTime = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(time);
        }

        var request = new LogEventRequest { ParentId = parentId ?? "", Event = loggedEvent };
        var response = await InvokeAsync(o => _store.LogEventAsync(request, o), cancellationToken).ConfigureAwait(false);
        return ProtocolMapping.ToSdk(response.CreatedAt);
    }

    /// <summary>Lists the events of an object, oldest first, fetching pages as the caller enumerates.</summary>
    /// <param name="parentId">The object id.</param>
    /// <param name="since">Only events whose wallclock time is after this; null lists all.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<Event> ListEventsAsync(string parentId, DateTimeOffset? since = null, CancellationToken cancellationToken = default) =>
        PageAsync(
            (token, o) =>
            {
                var request = new ListEventsRequest { ParentId = parentId ?? "", PageSize = _options.PageSize, PageToken = token };
                if (since is { } s)
                {
                    request.Since = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(s);
                }

                return _store.ListEventsAsync(request, o);
            },
            r => r.Events.Select(e => e.ToSdk()),
            r => r.NextPageToken,
            cancellationToken);
}
