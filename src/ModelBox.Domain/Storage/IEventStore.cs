namespace ModelBox.Domain.Storage;

/// <summary>The storage port for events logged against objects. Every logged event appends a change record (kind <c>event</c>).</summary>
public interface IEventStore
{
    /// <summary>Stores the event (its id is new); false when its parent does not exist or is deleted.</summary>
    Task<bool> LogEventAsync(LoggedEvent loggedEvent, CancellationToken cancellationToken = default);

    /// <summary>Events of a live parent with a wallclock time after <paramref name="sinceUnixNanos"/> (all when null), oldest
    /// first (wallclock time, then id); null when the parent does not exist or is deleted.</summary>
    Task<Page<LoggedEvent>?> ListEventsAsync(string parentId, long? sinceUnixNanos, PageRequest page, CancellationToken cancellationToken = default);
}
