using System.Diagnostics;
using Grpc.Core;
using ModelBox.Domain.Telemetry;
using ModelBox.Server.Configuration;

namespace ModelBox.Server.Services;

/// <summary>
/// What a client may hold of the server through its streams, whatever it does: a bounded number of concurrent uploads and
/// downloads per connection and per server (each holds an open file), a bounded amount of buffer memory for downloads, and
/// an idle timeout on every stream that stops making progress (a client that sends nothing, or does not read).
/// <para>
/// The caps shrink to the process's open-file limit (<see cref="DescriptorBudget"/>): uploads and downloads together never
/// take more than half of what is left after a reserve for the database, the listeners and new connections, so a client
/// that stalls thousands of streams cannot take the descriptors that health checks and other clients need.
/// </para>
/// </summary>
public sealed class StreamGuard : IAsyncDisposable
{
    /// <summary>The smallest download window: two 64 KiB chunks (one being read, one in the transport).</summary>
    public const long MinimumDownloadWindow = 2 * 64 * 1024;

    /// <summary>What the blob reader of one download may hold besides its chunks (the filesystem store's aligned direct-I/O
    /// buffer; the S3 store's response buffers are smaller), charged to every download.</summary>
    public const long ReaderAllowance = 1024 * 1024;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, ConnectionUse> _connections = new(StringComparer.Ordinal);
    private readonly HashSet<StreamProgress> _watched = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _watchdog;
    private readonly TimeSpan _idleTimeout;
    private int _uploads;
    private int _downloads;
    private long _memory;

    public StreamGuard(ServerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var descriptors = DescriptorBudget.ForThisProcess();
        var transferShare = Math.Max(8, descriptors.ForStreams / 4);
        MaxUploads = (int)Math.Min(config.MaxConcurrentUploads, transferShare);
        MaxDownloads = (int)Math.Min(config.MaxConcurrentDownloads, transferShare);
        MaxUploadsPerConnection = Math.Min(config.MaxConcurrentUploadsPerConnection, MaxUploads);
        MaxDownloadsPerConnection = Math.Min(config.MaxConcurrentDownloadsPerConnection, MaxDownloads);
        MaxMemory = config.StreamMemoryBytes;
        MaxMemoryPerConnection = Math.Min(config.StreamMemoryBytesPerConnection, config.StreamMemoryBytes);
        MaxConnections = descriptors.ForConnections;
        _idleTimeout = TimeSpan.FromSeconds(config.StreamIdleTimeoutSeconds);
        _watchdog = config.StreamIdleTimeoutSeconds > 0 ? Task.Run(WatchAsync) : Task.CompletedTask;
    }

    public int MaxUploads { get; }

    public int MaxDownloads { get; }

    public int MaxUploadsPerConnection { get; }

    public int MaxDownloadsPerConnection { get; }

    public long MaxMemory { get; }

    public long MaxMemoryPerConnection { get; }

    /// <summary>Most client connections Kestrel accepts at once (null: no limit), from the open-file limit.</summary>
    public long? MaxConnections { get; }

    /// <summary>Uploads in progress now.</summary>
    public int UploadsInProgress
    {
        get
        {
            lock (_gate)
            {
                return _uploads;
            }
        }
    }

    /// <summary>Stream buffer memory reserved now, in bytes.</summary>
    public long MemoryInUse
    {
        get
        {
            lock (_gate)
            {
                return _memory;
            }
        }
    }

    /// <summary>Takes an upload slot for the call, or refuses it with RESOURCE_EXHAUSTED naming the limit.</summary>
    public IDisposable EnterUpload(ServerCallContext context) => Enter(context, upload: true);

    /// <summary>
    /// Takes a download slot and a buffer window for the call: <paramref name="wanted"/> bytes when they are free, less
    /// (down to <see cref="MinimumDownloadWindow"/>) when the budget runs low. When even that is not free, downloads whose
    /// client has not read for a while give way: the one stalled longest is ended (its window comes back when its call
    /// unwinds), so clients that open downloads and never read cannot starve those that do. Only when no download is
    /// stalled is the call refused with RESOURCE_EXHAUSTED naming the limit.
    /// </summary>
    public async Task<DownloadLease> EnterDownloadAsync(ServerCallContext context, long wanted)
    {
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 5;
        while (true)
        {
            Task released;
            lock (_gate)
            {
                released = (_released ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            if (TryEnterDownload(context, wanted, out var lease, out var refusal))
            {
                return lease;
            }

            if (Stopwatch.GetTimestamp() > deadline || !EndLongestStalledDownload())
            {
                throw refusal;
            }

            await released.WaitAsync(TimeSpan.FromSeconds(1), context.CancellationToken).ContinueWith(
                static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            context.CancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>How long a download's write must have waited for its client before a new download may pre-empt it.</summary>
    public static readonly TimeSpan PreemptibleAfter = TimeSpan.FromSeconds(1);

    private TaskCompletionSource? _released;

    private bool EndLongestStalledDownload()
    {
        var now = Stopwatch.GetTimestamp();
        StreamProgress? victim = null;
        var longest = PreemptibleAfter;
        lock (_gate)
        {
            foreach (var progress in _downloadStreams)
            {
                var stalled = progress.StalledSince(now);
                if (progress.IsWritePending && stalled > longest)
                {
                    longest = stalled;
                    victim = progress;
                }
            }
        }

        victim?.End();
        return victim is not null;
    }

    private bool TryEnterDownload(ServerCallContext context, long wanted, out DownloadLease lease, out RpcException refusal)
    {
        var connection = ConnectionId(context);
        lease = null!;
        refusal = null!;
        IDisposable slot;
        try
        {
            slot = Enter(context, upload: false);
        }
        catch (RpcException exception)
        {
            refusal = exception;
            return false;
        }

        lock (_gate)
        {
            var use = _connections[connection];
            var free = Math.Min(MaxMemory - _memory, MaxMemoryPerConnection - use.Memory);
            // What was asked while it leaves a quarter of the budget free; past that a fair share of what is left, so that
            // one greedy client leaves room for the next ones.
            var granted = wanted + ReaderAllowance <= free / 4 * 3
                ? wanted
                : Math.Clamp((free - ReaderAllowance) / 4, Math.Min(MinimumDownloadWindow, wanted), wanted);
            if (granted + ReaderAllowance > free)
            {
                refusal = new RpcException(new Status(
                    StatusCode.ResourceExhausted,
                    $"the server's download buffers are in use ({MaxMemory} bytes, limits.stream_memory_bytes; {MaxMemoryPerConnection} per connection, "
                    + "limits.stream_memory_bytes_per_connection) by downloads that are being read; retry later"));
            }
            else
            {
                _memory += granted + ReaderAllowance;
                use.Memory += granted + ReaderAllowance;
                ModelBoxMetrics.StreamMemory.Add(granted + ReaderAllowance, Download);
                if (context.UserState.TryGetValue(typeof(StreamProgress), out var progress) && progress is StreamProgress tracked)
                {
                    _downloadStreams.Add(tracked);
                    lease = new DownloadLease(this, connection, granted, slot, tracked);
                }
                else
                {
                    lease = new DownloadLease(this, connection, granted, slot, null);
                }

                return true;
            }
        }

        slot.Dispose();
        return false;
    }

    private readonly HashSet<StreamProgress> _downloadStreams = [];

    /// <summary>Tracks one stream's reads and writes for the idle timeout; dispose it when the call ends.</summary>
    public StreamProgress Track(ServerCallContext context)
    {
        var progress = new StreamProgress(context.GetHttpContext());
        context.UserState[typeof(StreamProgress)] = progress;
        if (_idleTimeout > TimeSpan.Zero)
        {
            lock (_gate)
            {
                _watched.Add(progress);
            }

            progress.Untrack = () =>
            {
                lock (_gate)
                {
                    _watched.Remove(progress);
                }
            };
        }

        return progress;
    }

    /// <summary>The idle timeout, for messages.</summary>
    public TimeSpan IdleTimeout => _idleTimeout;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _watchdog.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private static readonly KeyValuePair<string, object?> Download = new("kind", "download");

    private static string ConnectionId(ServerCallContext context) => context.GetHttpContext().Connection.Id;

    private Slot Enter(ServerCallContext context, bool upload)
    {
        var connection = ConnectionId(context);
        lock (_gate)
        {
            if (!_connections.TryGetValue(connection, out var use))
            {
                use = new ConnectionUse();
                _connections.Add(connection, use);
            }

            var (kind, serverCount, serverMax, connectionCount, connectionMax) = upload
                ? ("uploads", _uploads, MaxUploads, use.Uploads, MaxUploadsPerConnection)
                : ("downloads", _downloads, MaxDownloads, use.Downloads, MaxDownloadsPerConnection);
            if (connectionCount >= connectionMax || serverCount >= serverMax)
            {
                if (use.IsIdle)
                {
                    _connections.Remove(connection);
                }

                var which = connectionCount >= connectionMax
                    ? $"{connectionMax} per connection (limits.max_concurrent_{kind}_per_connection)"
                    : $"{serverMax} on this server (limits.max_concurrent_{kind}, bounded by the open-file limit)";
                throw new RpcException(new Status(StatusCode.ResourceExhausted, $"too many concurrent {kind}: at most {which}; retry when one has finished"));
            }

            if (upload)
            {
                _uploads++;
                use.Uploads++;
            }
            else
            {
                _downloads++;
                use.Downloads++;
            }

            return new Slot(this, connection, upload);
        }
    }

    private void Leave(string connection, bool upload)
    {
        lock (_gate)
        {
            var use = _connections[connection];
            if (upload)
            {
                _uploads--;
                use.Uploads--;
            }
            else
            {
                _downloads--;
                use.Downloads--;
            }

            if (use.IsIdle)
            {
                _connections.Remove(connection);
            }
        }
    }

    private void ReleaseMemory(string connection, long bytes, StreamProgress? progress)
    {
        TaskCompletionSource? released;
        lock (_gate)
        {
            _memory -= bytes;
            _connections[connection].Memory -= bytes;
            if (progress is not null)
            {
                _downloadStreams.Remove(progress);
            }

            released = _released;
            _released = null;
        }

        ModelBoxMetrics.StreamMemory.Add(-bytes, Download);
        released?.TrySetResult();
    }

    /// <summary>Once a second: ends the streams whose pending read or write has waited longer than the idle timeout.</summary>
    private async Task WatchAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Clamp(_idleTimeout.TotalSeconds / 4, 0.05, 1)));
        while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
        {
            var now = Stopwatch.GetTimestamp();
            List<StreamProgress> stalled = [];
            lock (_gate)
            {
                foreach (var progress in _watched)
                {
                    if (progress.StalledSince(now) > _idleTimeout)
                    {
                        stalled.Add(progress);
                    }
                }
            }

            foreach (var progress in stalled)
            {
                progress.End();
            }
        }
    }

    private sealed class ConnectionUse
    {
        public int Uploads;
        public int Downloads;
        public long Memory;

        public bool IsIdle => Uploads == 0 && Downloads == 0 && Memory == 0;
    }

    private sealed class Slot(StreamGuard guard, string connection, bool upload) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                guard.Leave(connection, upload);
            }
        }
    }

    /// <summary>A download's slot and buffer window; dispose it when the download ends.</summary>
    public sealed class DownloadLease : IDisposable
    {
        private readonly StreamGuard _guard;
        private readonly string _connection;
        private readonly IDisposable _slot;
        private readonly StreamProgress? _progress;
        private int _disposed;

        internal DownloadLease(StreamGuard guard, string connection, long window, IDisposable slot, StreamProgress? progress)
        {
            _guard = guard;
            _connection = connection;
            Window = window;
            _slot = slot;
            _progress = progress;
        }

        /// <summary>The bytes this download may hold: its read buffer plus the chunk in the transport.</summary>
        public long Window { get; }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                // The slot first: a download waiting for memory retries as soon as the memory is back.
                _slot.Dispose();
                _guard.ReleaseMemory(_connection, Window + ReaderAllowance, _progress);
            }
        }
    }
}

/// <summary>
/// The progress of one stream: when its pending read (of the client's next message) or write (of the server's next
/// message) started. A stream with nothing pending is idle by choice (a watcher waiting for changes) and never times out.
/// </summary>
public sealed class StreamProgress(HttpContext httpContext) : IDisposable
{
    private readonly CancellationTokenSource _reads = new();
    private long _pendingSince;
    private int _pendingWrite;
    private int _ended;

    internal Action? Untrack { get; set; }

    /// <summary>True when the guard ended the stream because it made no progress.</summary>
    public bool TimedOut => Volatile.Read(ref _ended) == 1;

    /// <summary>Cancelled when a read made no progress for the idle timeout (the call can still answer with a status).</summary>
    public CancellationToken ReadsEnded => _reads.Token;

    /// <summary>Marks the start of a read or write that waits for the client.</summary>
    public void Begin(bool write)
    {
        Volatile.Write(ref _pendingWrite, write ? 1 : 0);
        Volatile.Write(ref _pendingSince, Stopwatch.GetTimestamp());
    }

    /// <summary>Marks its end.</summary>
    public void Complete() => Volatile.Write(ref _pendingSince, 0);

    /// <summary>True while a write waits for the client.</summary>
    internal bool IsWritePending => Volatile.Read(ref _pendingSince) != 0 && Volatile.Read(ref _pendingWrite) == 1;

    internal TimeSpan StalledSince(long now)
    {
        var since = Volatile.Read(ref _pendingSince);
        return since == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(since, now);
    }

    /// <summary>
    /// Ends the stream. A stalled read is cancelled, so the call fails with a status the client can still read; a stalled
    /// write resets the stream (a client that reads nothing would never read a status either), which frees the bytes that
    /// wait in the transport.
    /// </summary>
    internal void End()
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }

        if (Volatile.Read(ref _pendingWrite) == 1)
        {
            httpContext.Abort();
        }
        else
        {
            _reads.Cancel();
        }
    }

    public void Dispose()
    {
        Untrack?.Invoke();
        _reads.Dispose();
    }
}

/// <summary>The share of the process's open-file limit that streams and connections may use.</summary>
public readonly record struct DescriptorBudget(long ForStreams, long? ForConnections)
{
    /// <summary>Descriptors kept for the database, the blob store, logs, listeners and health checks.</summary>
    public const long Reserve = 256;

    private static readonly Lazy<DescriptorBudget> Current = new(Read);

    /// <summary>From <c>/proc/self/limits</c> on Linux, read once per process; unlimited elsewhere or when unreadable.</summary>
    public static DescriptorBudget ForThisProcess() => Current.Value;

    private static DescriptorBudget Read()
    {
        var limit = ReadOpenFileLimit();
        if (limit is not { } files)
        {
            return new DescriptorBudget(long.MaxValue, null);
        }

        var usable = Math.Max(64, files - Reserve);
        return new DescriptorBudget(usable / 2, usable / 2);
    }

    private static long? ReadOpenFileLimit()
    {
        try
        {
            if (!OperatingSystem.IsLinux())
            {
                return null;
            }

            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (!line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    continue;
                }

                var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return fields.Length > 0 && long.TryParse(fields[0], out var soft) ? soft : null;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }
}
