using System.Runtime.CompilerServices;
using System.Threading.Channels;
using ModelBox.Domain.Telemetry;

namespace ModelBox.Domain.Changes;

/// <summary>Tuning of the <see cref="ChangeFeed"/>.</summary>
/// <param name="WatcherBufferSize">How many live changes may wait for one watcher before it is ended with
/// <see cref="ErrorKind.Aborted"/> (and resumes from its last sequence).</param>
/// <param name="ReadBatchSize">How many records one read of the log returns at most.</param>
/// <param name="ReadBatchBytes">How many characters of state one read of the log returns at most (one record always comes):
/// a watcher catching up on a large backlog holds one such page, never the backlog.</param>
/// <param name="WatcherBufferBytes">How many characters of state may wait for one watcher before it is ended like a watcher
/// whose buffer is full.</param>
public sealed record ChangeFeedOptions(
    int WatcherBufferSize = 1024, int ReadBatchSize = 512, long ReadBatchBytes = 64 * 1024, long WatcherBufferBytes = 8 * 1024 * 1024);

/// <summary>
/// Serves change-stream watchers. One reader per watched namespace reads the log after each wake-up and hands every new
/// record to all of that namespace's watchers; each watcher has a bounded buffer.
/// <para>
/// Hand-over without gap or duplicate: a watcher registers with the reader first and learns the reader's position R
/// (every record up to R has been handed out; every record after R will be put in its buffer). It then reads its backlog
/// (since, R] from the log itself, and only then drains its buffer, skipping anything it already delivered.
/// </para>
/// <para>
/// A slow watcher slows nobody: the reader never waits for a buffer (it only tries to add), writers never wait for the
/// reader (wake-ups are non-blocking and coalesce), and a watcher whose buffer is full is ended with
/// <see cref="ErrorKind.Aborted"/> naming the last sequence it delivered, after it delivered what its buffer held.
/// ABORTED rather than RESOURCE_EXHAUSTED: gRPC reserves RESOURCE_EXHAUSTED for quotas and clients back off on it,
/// while ABORTED means "retry at a higher level", which is what a watcher should do at once: watch again with
/// <c>since</c> set to the last sequence it received.
/// </para>
/// </summary>
public sealed class ChangeFeed(IChangeLog log, IChangeSignal signal, ChangeFeedOptions? options = null) : IAsyncDisposable
{
    private readonly IChangeLog _log = log;
    private readonly IChangeSignal _signal = signal;
    private readonly ChangeFeedOptions _options = Validate(options ?? new ChangeFeedOptions());
    private readonly Lock _gate = new();
    private readonly Dictionary<string, NamespaceReader> _readers = new(StringComparer.Ordinal);
    private bool _shutDown;

    /// <summary>The number of namespaces that have a reader (for tests: one reader serves all watchers of a namespace).</summary>
    public int ActiveReaders
    {
        get
        {
            lock (_gate)
            {
                return _readers.Count;
            }
        }
    }

    /// <summary>
    /// Streams the changes of a namespace after <paramref name="since"/>: the backlog, then live changes as they commit.
    /// Ends with a <see cref="ModelBoxException"/> of kind <see cref="ErrorKind.Aborted"/> when the consumer falls more than
    /// the buffer size behind, and of kind <see cref="ErrorKind.Unavailable"/> when the server shuts down; in both cases the
    /// consumer resumes by watching again from the last sequence it received.
    /// </summary>
    public IAsyncEnumerable<ChangeRecord> WatchAsync(NamespaceScope @namespace, long since, CancellationToken cancellationToken = default) =>
        WatchAsync(@namespace, since, _options.WatcherBufferSize, null, cancellationToken);

    /// <summary>As the public overload, with this watcher's own buffer size (tests mix slow and fast watchers).</summary>
    internal async IAsyncEnumerable<ChangeRecord> WatchAsync(
        NamespaceScope @namespace, long since, int bufferSize, long? bufferBytes = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(@namespace.Root);
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 1);
        var watcher = new Watcher(bufferSize, bufferBytes ?? _options.WatcherBufferBytes);
        var reader = Acquire(@namespace);
        ModelBoxMetrics.WatchersConnected.Add(1);
        try
        {
            var position = await reader.AddAsync(watcher, cancellationToken).ConfigureAwait(false);
            var last = Math.Max(0, since);

            // Backlog: (since, position], read by this watcher alone so a long catch-up costs other watchers nothing.
            var caughtUp = last >= position;
            while (!caughtUp)
            {
                var page = await _log.ReadChangePageAsync(@namespace, last, _options.ReadBatchSize, _options.ReadBatchBytes, cancellationToken)
                    .ConfigureAwait(false);
                var held = PageBytes(page.Records);
                ModelBoxMetrics.StreamMemory.Add(held, WatchMemory);
                try
                {
                    foreach (var record in page.Records)
                    {
                        if (record.Sequence > position)
                        {
                            caughtUp = true;
                            break;
                        }

                        yield return record;
                        last = record.Sequence;
                    }
                }
                finally
                {
                    ModelBoxMetrics.StreamMemory.Add(-held, WatchMemory);
                }

                caughtUp |= !page.More || last >= position;
            }

            // Live: everything after position arrives in the buffer, in order.
            while (true)
            {
                var record = await watcher.NextAsync(@namespace.Key, last, cancellationToken).ConfigureAwait(false);
                if (record.Sequence <= last)
                {
                    continue;
                }

                yield return record;
                last = record.Sequence;
            }
        }
        finally
        {
            ModelBoxMetrics.WatchersConnected.Add(-1);
            reader.Remove(watcher);
            watcher.Discard();
            Release(reader);
        }
    }

    private static readonly KeyValuePair<string, object?> WatchMemory = new("kind", "watch");

    /// <summary>The memory a list of records holds: their state, as UTF-16.</summary>
    private static long PageBytes(IReadOnlyList<ChangeRecord> records)
    {
        long bytes = 0;
        foreach (var record in records)
        {
            bytes += 2L * record.StateJson.Length;
        }

        return bytes;
    }

    /// <summary>Ends every watcher with <see cref="ErrorKind.Unavailable"/> and refuses new ones (server shutdown).</summary>
    public void Shutdown()
    {
        List<NamespaceReader> readers;
        lock (_gate)
        {
            _shutDown = true;
            readers = [.. _readers.Values];
        }

        foreach (var reader in readers)
        {
            reader.Fail(new ModelBoxException(ErrorKind.Unavailable, "the server is shutting down; watch again with since set to the last sequence received"));
        }
    }

    public async ValueTask DisposeAsync()
    {
        Shutdown();
        List<NamespaceReader> readers;
        lock (_gate)
        {
            readers = [.. _readers.Values];
            _readers.Clear();
        }

        foreach (var reader in readers)
        {
            await reader.StopAsync().ConfigureAwait(false);
        }
    }

    private NamespaceReader Acquire(NamespaceScope @namespace)
    {
        lock (_gate)
        {
            if (_shutDown)
            {
                throw new ModelBoxException(ErrorKind.Unavailable, "the server is shutting down");
            }

            if (!_readers.TryGetValue(@namespace.Key, out var reader))
            {
                reader = new NamespaceReader(this, @namespace);
                _readers.Add(@namespace.Key, reader);
                reader.Start();
            }

            reader.References++;
            return reader;
        }
    }

    private void Release(NamespaceReader reader)
    {
        lock (_gate)
        {
            if (--reader.References > 0)
            {
                return;
            }

            if (_readers.TryGetValue(reader.Namespace.Key, out var current) && ReferenceEquals(current, reader))
            {
                _readers.Remove(reader.Namespace.Key);
            }
        }

        _ = reader.StopAsync();
    }

    private void Forget(NamespaceReader reader)
    {
        lock (_gate)
        {
            if (_readers.TryGetValue(reader.Namespace.Key, out var current) && ReferenceEquals(current, reader))
            {
                _readers.Remove(reader.Namespace.Key);
            }
        }
    }

    private static ChangeFeedOptions Validate(ChangeFeedOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.WatcherBufferSize, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ReadBatchSize, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ReadBatchBytes, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.WatcherBufferBytes, 1, nameof(options));
        return options;
    }

    /// <summary>One consumer's bounded buffer of live changes: bounded in records and in characters of state.</summary>
    private sealed class Watcher(int capacity, long capacityBytes)
    {
        private long _bytes;

        private readonly Channel<ChangeRecord> _buffer = Channel.CreateBounded<ChangeRecord>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });

        public int Capacity => capacity;

        /// <summary>Adds without waiting; false (and the watcher is ended) when the buffer is full.</summary>
        public bool Offer(ChangeRecord record)
        {
            // The record is shared with the namespace's other watchers; what this buffer holds on to is what counts here.
            var size = record.StateJson.Length;
            var held = Interlocked.Add(ref _bytes, size);
            if ((held == size || held <= capacityBytes) && _buffer.Writer.TryWrite(record))
            {
                ModelBoxMetrics.StreamMemory.Add(2L * size, WatchMemory);
                return true;
            }

            Interlocked.Add(ref _bytes, -size);

            _buffer.Writer.TryComplete(new BufferOverflowException());
            return false;
        }

        public void Fail(Exception exception) => _buffer.Writer.TryComplete(exception);

        /// <summary>Drops what the buffer still holds (the watch ended), so the memory gauge goes back down.</summary>
        public void Discard()
        {
            _buffer.Writer.TryComplete();
            while (_buffer.Reader.TryRead(out var record))
            {
                Interlocked.Add(ref _bytes, -record.StateJson.Length);
                ModelBoxMetrics.StreamMemory.Add(-2L * record.StateJson.Length, WatchMemory);
            }
        }

        public async Task<ChangeRecord> NextAsync(string @namespace, long lastDelivered, CancellationToken cancellationToken)
        {
            try
            {
                while (await _buffer.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (_buffer.Reader.TryRead(out var record))
                    {
                        Interlocked.Add(ref _bytes, -record.StateJson.Length);
                        ModelBoxMetrics.StreamMemory.Add(-2L * record.StateJson.Length, WatchMemory);
                        return record;
                    }
                }
            }
            catch (BufferOverflowException)
            {
                throw new ModelBoxException(
                    ErrorKind.Aborted,
                    $"the watch of namespace '{@namespace}' fell behind: more than {Capacity} changes or {capacityBytes} characters of state waited for it; "
                    + $"watch again with since={lastDelivered} (the last sequence delivered)");
            }
            catch (ModelBoxException exception) when (exception.Kind == ErrorKind.Unavailable)
            {
                throw new ModelBoxException(
                    ErrorKind.Unavailable, exception.Text.Append($"; the last sequence delivered is {lastDelivered}"), exception);
            }

            throw new InvalidOperationException("a watcher's buffer was completed without an error");
        }
    }

    /// <summary>Marks a full buffer; never escapes the feed.</summary>
    private sealed class BufferOverflowException : Exception;

    /// <summary>The single reader of one namespace's (or subtree's) changes.</summary>
    private sealed class NamespaceReader(ChangeFeed feed, NamespaceScope @namespace)
    {
        private readonly Lock _lock = new();
        private readonly List<Watcher> _watchers = [];
        private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CancellationTokenSource _stop = new();
        // Capacity one, extra wake-ups dropped: any number of commits while the reader reads collapse into one more read.
        private readonly Channel<bool> _wakeUps = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
            SingleReader = true,
        });

        private IDisposable? _subscription;
        private Task _loop = Task.CompletedTask;
        private long _position;
        private Exception? _failure;

        public NamespaceScope Namespace => @namespace;

        /// <summary>Guarded by the feed's gate.</summary>
        public int References { get; set; }

        public void Start()
        {
            // Subscribe before reading the position: a commit after the subscription leaves a wake-up behind.
            _subscription = feed._signal.Subscribe(@namespace.Key, () => _wakeUps.Writer.TryWrite(true));
            _loop = Task.Run(RunAsync);
        }

        /// <summary>Registers a watcher; returns the position after which its buffer receives every record.</summary>
        public async Task<long> AddAsync(Watcher watcher, CancellationToken cancellationToken)
        {
            await _ready.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            lock (_lock)
            {
                if (_failure is not null)
                {
                    throw _failure is ModelBoxException domain
                        ? new ModelBoxException(domain.Kind, domain.Text, domain)
                        : new ModelBoxException(ErrorKind.Unavailable, "the change log cannot be read; retry", _failure);
                }

                _watchers.Add(watcher);
                return _position;
            }
        }

        public void Remove(Watcher watcher)
        {
            lock (_lock)
            {
                _watchers.Remove(watcher);
            }
        }

        public void Fail(Exception exception)
        {
            lock (_lock)
            {
                _failure ??= exception;
                foreach (var watcher in _watchers)
                {
                    watcher.Fail(exception);
                }

                _watchers.Clear();
            }

            _ready.TrySetResult();
        }

        /// <summary>
        /// Stops the reader once: the last watcher's release and the feed's disposal may both get here at shutdown, and
        /// the second caller waits for the first stop instead of cancelling a disposed source.
        /// </summary>
        public Task StopAsync()
        {
            lock (_lock)
            {
                return _stopping ??= StopOnceAsync();
            }
        }

        private Task? _stopping;

        private async Task StopOnceAsync()
        {
            _subscription?.Dispose();
            await _stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            _stop.Dispose();
        }

        private async Task RunAsync()
        {
            var cancellationToken = _stop.Token;
            try
            {
                var start = await feed._log.ReadLastSequenceAsync(cancellationToken).ConfigureAwait(false);
                lock (_lock)
                {
                    _position = start;
                }

                _ready.TrySetResult();
                while (await _wakeUps.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    _wakeUps.Reader.TryRead(out _);
                    await DrainAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
            catch (Exception exception)
            {
                // A reader that cannot read ends its watchers (they resume against a fresh reader) and steps aside.
                feed.Forget(this);
                Fail(exception is ModelBoxException
                    ? exception
                    : new ModelBoxException(ErrorKind.Unavailable, "the change log cannot be read; watch again", exception));
            }
        }

        private async Task DrainAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                long after;
                lock (_lock)
                {
                    after = _position;
                }

                var page = await feed._log.ReadChangePageAsync(
                    @namespace, after, feed._options.ReadBatchSize, feed._options.ReadBatchBytes, cancellationToken).ConfigureAwait(false);
                var batch = page.Records;
                if (batch.Count == 0)
                {
                    return;
                }

                lock (_lock)
                {
                    for (var i = _watchers.Count - 1; i >= 0; i--)
                    {
                        var watcher = _watchers[i];
                        foreach (var record in batch)
                        {
                            if (!watcher.Offer(record))
                            {
                                _watchers.RemoveAt(i);
                                break;
                            }
                        }
                    }

                    _position = batch[^1].Sequence;
                }

                if (!page.More)
                {
                    return;
                }
            }
        }
    }
}
