namespace ModelBox.Domain.Changes;

/// <summary>
/// The read side of the change log. Backends append records inside the transactions that make the changes
/// (see the metadata store); this port only reads them.
/// </summary>
public interface IChangeLog
{
    /// <summary>Up to <paramref name="limit"/> records of a namespace (or subtree) with <c>sequence &gt; afterSequence</c>, in sequence order.</summary>
    Task<IReadOnlyList<ChangeRecord>> ReadChangesAsync(NamespaceScope @namespace, long afterSequence, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Up to <paramref name="limit"/> records of a namespace with <c>sequence &gt; afterSequence</c>, in sequence order, and no
    /// more of them than fit in <paramref name="maxStateBytes"/> characters of state (the first record always comes, so a
    /// reader always makes progress). The database applies the bound: a reader holds one such page at most, whatever the
    /// backlog holds.
    /// </summary>
    Task<ChangePage> ReadChangePageAsync(
        NamespaceScope @namespace, long afterSequence, int limit, long maxStateBytes, CancellationToken cancellationToken = default);

    /// <summary>The highest sequence number committed so far in any namespace (0 for an empty log).</summary>
    Task<long> ReadLastSequenceAsync(CancellationToken cancellationToken = default);
}

/// <summary>A page of the change log.</summary>
/// <param name="Records">The records, in sequence order.</param>
/// <param name="More">True when records after the last one may already exist (the page was cut by its size or its
/// count); false when the page reached the end of what was committed.</param>
public sealed record ChangePage(IReadOnlyList<ChangeRecord> Records, bool More);

/// <summary>
/// Wake-ups after commits that appended change records. A wake-up carries no data: it only says "read the log again".
/// So a lost or coalesced wake-up costs latency, never a change; a spurious one costs one empty read.
/// In process this is <see cref="InProcessChangeSignal"/>; across replicas it would be PostgreSQL LISTEN/NOTIFY or polling.
/// </summary>
public interface IChangeSignal
{
    /// <summary>Calls <paramref name="wake"/> after each commit that appended changes to <paramref name="namespace"/>, or, for a
    /// subtree key (<see cref="NamespaceScope.Key"/>, <c>vision/**</c>), to any namespace in it (possibly more often). The callback must be quick and must not throw; dispose the result to stop.</summary>
    IDisposable Subscribe(string @namespace, Action wake);
}
