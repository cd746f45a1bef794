using System.Collections.Concurrent;
using ModelBox.Domain.Changes;

namespace ModelBox.Storage.Relational;

/// <summary>
/// A change signal for replicas sharing one database: subscribers hang on the process's <see cref="InProcessChangeSignal"/>
/// (which this process's store raises after its own commits, at once), and a backend-specific source adds the wake-ups
/// for commits of other replicas. Wake-ups carry no data, so waking every namespace after a possible loss is always safe.
/// </summary>
public abstract class RelayChangeSignal(InProcessChangeSignal local) : IChangeSignal
{
    private readonly ConcurrentDictionary<string, int> _subscribed = new(StringComparer.Ordinal);

    protected InProcessChangeSignal Local { get; } = local ?? throw new ArgumentNullException(nameof(local));

    /// <summary>Whether any watcher listens, so an idle server need not poll.</summary>
    protected bool HasSubscribers => !_subscribed.IsEmpty;

    public IDisposable Subscribe(string @namespace, Action wake)
    {
        ArgumentNullException.ThrowIfNull(@namespace);
        _subscribed.AddOrUpdate(@namespace, 1, (_, count) => count + 1);
        var inner = Local.Subscribe(@namespace, wake);
        return new Subscription(this, @namespace, inner);
    }

    /// <summary>Wakes the watchers of every namespace someone watches (after a lost connection, or a poll that saw news).</summary>
    protected void WakeAll()
    {
        foreach (var @namespace in _subscribed.Keys)
        {
            Local.Notify(@namespace);
        }
    }

    private void Release(string @namespace)
    {
        while (_subscribed.TryGetValue(@namespace, out var count))
        {
            var done = count == 1
                ? _subscribed.TryRemove(new KeyValuePair<string, int>(@namespace, 1))
                : _subscribed.TryUpdate(@namespace, count - 1, count);
            if (done)
            {
                return;
            }
        }
    }

    private sealed class Subscription(RelayChangeSignal owner, string @namespace, IDisposable inner) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                inner.Dispose();
                owner.Release(@namespace);
            }
        }
    }
}
