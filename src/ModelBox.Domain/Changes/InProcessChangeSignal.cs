using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace ModelBox.Domain.Changes;

/// <summary>
/// The wake-up signal of a single-process server: the store calls <see cref="Notify"/> after it committed changes.
/// </summary>
public sealed class InProcessChangeSignal : IChangeSignal
{
    private readonly ConcurrentDictionary<string, ImmutableArray<Action>> _subscribers = new(StringComparer.Ordinal);
    private int _subtreeSubscriptions;

    public IDisposable Subscribe(string @namespace, Action wake)
    {
        ArgumentNullException.ThrowIfNull(@namespace);
        ArgumentNullException.ThrowIfNull(wake);
        if (@namespace.EndsWith(NamespaceScope.SubtreeSuffix, StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _subtreeSubscriptions);
        }

        _subscribers.AddOrUpdate(@namespace, _ => [wake], (_, existing) => existing.Add(wake));
        return new Subscription(this, @namespace, wake);
    }

    /// <summary>
    /// Wakes the subscribers of a namespace and of the subtrees that contain it; called after commit, never inside a
    /// transaction. A subtree key (<c>vision/**</c>) wakes its own subscribers only (a replica's catch-all wake-up).
    /// </summary>
    public void Notify(string @namespace)
    {
        Wake(@namespace);
        if (Volatile.Read(ref _subtreeSubscriptions) > 0 && !@namespace.EndsWith(NamespaceScope.SubtreeSuffix, StringComparison.Ordinal))
        {
            foreach (var subtree in NamespaceScope.SubtreeKeysContaining(@namespace))
            {
                Wake(subtree);
            }
        }
    }

    private void Wake(string key)
    {
        if (_subscribers.TryGetValue(key, out var wakes))
        {
            foreach (var wake in wakes)
            {
                wake();
            }
        }
    }

    private void Unsubscribe(string @namespace, Action wake)
    {
        if (@namespace.EndsWith(NamespaceScope.SubtreeSuffix, StringComparison.Ordinal))
        {
            Interlocked.Decrement(ref _subtreeSubscriptions);
        }

        while (_subscribers.TryGetValue(@namespace, out var existing))
        {
            var remaining = existing.Remove(wake);
            var done = remaining.IsEmpty
                ? _subscribers.TryRemove(new KeyValuePair<string, ImmutableArray<Action>>(@namespace, existing))
                : _subscribers.TryUpdate(@namespace, remaining, existing);
            if (done)
            {
                return;
            }
        }
    }

    private sealed class Subscription(InProcessChangeSignal owner, string @namespace, Action wake) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Unsubscribe(@namespace, wake);
            }
        }
    }
}
