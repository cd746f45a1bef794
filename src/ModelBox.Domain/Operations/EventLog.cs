using ModelBox.Domain.Storage;

namespace ModelBox.Domain.Operations;

/// <summary>Input of <see cref="EventLog.LogEventAsync"/>, as the client sent it.</summary>
/// <param name="ParentId">The object it belongs to.</param>
/// <param name="Name">What happened.</param>
/// <param name="Source">Who reported it.</param>
/// <param name="WallclockUnixNanos">When it happened (Unix nanoseconds); null means "now".</param>
/// <param name="Metadata">JSON per key.</param>
public sealed record NewEvent(
    string? ParentId,
    string? Name,
    string? Source,
    long? WallclockUnixNanos,
    IReadOnlyDictionary<string, string>? Metadata);

/// <summary>Events logged against any object. Each log call stores a new event: logging the same thing twice is two events.</summary>
public sealed class EventLog(IEventStore store, TimeProvider time)
{
    public async Task<LoggedEvent> LogEventAsync(NewEvent request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var parentId = MetadataEditor.ParentId(request.ParentId);
        var now = Clock.Now(time);
        var loggedEvent = new LoggedEvent(
            ObjectIds.NewEvent(now),
            parentId,
            Validation.Required(request.Name, "event.name"),
            Validation.ShortText(request.Source, "event.source"),
            request.WallclockUnixNanos ?? ((now.UtcTicks - DateTimeOffset.UnixEpoch.Ticks) * 100),
            Validation.Metadata(request.Metadata, "event.metadata"),
            now);
        return await store.LogEventAsync(loggedEvent, cancellationToken).ConfigureAwait(false)
            ? loggedEvent
            : throw MetadataEditor.NotFound(parentId);
    }

    /// <summary>Events of an object with a wallclock time after <paramref name="sinceUnixNanos"/>, oldest first.</summary>
    public async Task<Page<LoggedEvent>> ListEventsAsync(
        string? parentId, long? sinceUnixNanos, PageRequest page, CancellationToken cancellationToken = default)
    {
        var id = MetadataEditor.ParentId(parentId);
        return await store.ListEventsAsync(id, sinceUnixNanos, page, cancellationToken).ConfigureAwait(false)
            ?? throw MetadataEditor.NotFound(id);
    }
}
