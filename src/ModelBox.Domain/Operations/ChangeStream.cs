using ModelBox.Domain.Changes;

namespace ModelBox.Domain.Operations;

/// <summary>WatchNamespace: validates the request and hands it to the <see cref="ChangeFeed"/>.</summary>
public sealed class ChangeStream(ChangeFeed feed, IChangeLog log)
{
    /// <summary>The highest sequence committed so far: watching from it streams only what happens from now on.</summary>
    public Task<long> LastSequenceAsync(CancellationToken cancellationToken = default) => log.ReadLastSequenceAsync(cancellationToken);

    /// <summary>
    /// The changes of a namespace (empty means <c>default</c>; with <paramref name="recursive"/> also those of the namespaces
    /// below it) after <paramref name="since"/> (0: from the start).
    /// </summary>
    public IAsyncEnumerable<ChangeRecord> WatchAsync(string? @namespace, bool recursive, ulong since, CancellationToken cancellationToken = default)
    {
        var ns = NamespaceScope.From(@namespace, recursive);
        if (since > long.MaxValue)
        {
            throw ModelBoxException.InvalidArgument($"since {since} is larger than {long.MaxValue}");
        }

        return feed.WatchAsync(ns, (long)since, cancellationToken);
    }
}
