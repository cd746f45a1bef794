namespace ModelBox.Domain.Changes;

/// <summary>
/// The read side of the change log. Backends append records inside the transactions that make the changes
/// (see the metadata store); this port only reads them.
/// </summary>
public interface IChangeLog
{
    /// <summary>Up to <paramref name="limit"/> records of a namespace with <c>sequence &gt; afterSequence</c>, in sequence order.</summary>
    Task<IReadOnlyList<ChangeRecord>> ReadChangesAsync(string @namespace, long afterSequence, int limit, CancellationToken cancellationToken = default);

    /// <summary>The highest sequence number committed so far in any namespace (0 for an empty log).</summary>
    Task<long> ReadLastSequenceAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// Wake-ups after commits that appended change records. A wake-up carries no data: it only says "read the log again".
/// So a lost or coalesced wake-up costs latency, never a change; a spurious one costs one empty read.
/// In process this is <see cref="InProcessChangeSignal"/>; across replicas it would be PostgreSQL LISTEN/NOTIFY or polling.
/// </summary>
public interface IChangeSignal
{
    /// <summary>Calls <paramref name="wake"/> after each commit that appended changes to <paramref name="namespace"/>
    /// (possibly more often). The callback must be quick and must not throw; dispose the result to stop.</summary>
    IDisposable Subscribe(string @namespace, Action wake);
}
