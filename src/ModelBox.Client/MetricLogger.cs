using System.Threading.Channels;
using ModelBox.Protocol;
using Proto = ModelBox.Protocol;

namespace ModelBox.Client;

/// <summary>
/// Logs the metrics of one object in the background. <see cref="LogAsync"/> puts the point in a bounded buffer and
/// returns (it waits only while the buffer is full); a background task sends batches by size and by time with
/// LogMetricsBatch, a few in flight at once. Nothing is dropped silently: once a send fails, the next
/// <see cref="LogAsync"/>, <see cref="FlushAsync"/> or <see cref="DisposeAsync"/> throws that failure, and the logger
/// stays failed. <see cref="FlushAsync"/> and <see cref="DisposeAsync"/> return once every earlier point is stored.
/// </summary>
public sealed class MetricLogger : IAsyncDisposable
{
    private const int MaxKeyLength = 250;

    private readonly ModelBoxClient _client;
    private readonly string _parentId;
    private readonly MetricLoggerOptions _options;
    private readonly Channel<Entry> _buffer;
    private readonly SemaphoreSlim _sendSlots;
    private readonly List<Task> _sends = [];
    private readonly Task _worker;
    private Exception? _failure;
    private long _pointsStored;
    private int _disposed;

    internal MetricLogger(ModelBoxClient client, string parentId, MetricLoggerOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(parentId);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBufferedPoints, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxConcurrentSends, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.FlushInterval, TimeSpan.Zero, nameof(options));
        _client = client;
        _parentId = parentId;
        _options = options;
        _buffer = Channel.CreateBounded<Entry>(new BoundedChannelOptions(options.MaxBufferedPoints)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        _sendSlots = new SemaphoreSlim(options.MaxConcurrentSends, options.MaxConcurrentSends);
        _worker = Task.Run(RunAsync);
    }

    /// <summary>The object whose metrics this logger writes.</summary>
    public string ParentId => _parentId;

    /// <summary>How many points the server has confirmed as stored so far.</summary>
    public long PointsStored => Interlocked.Read(ref _pointsStored);

    /// <summary>Buffers one point; waits only while the buffer is full.</summary>
    /// <param name="key">The metric key (1 to 250 characters).</param>
    /// <param name="value">The value; a float or double converts implicitly.</param>
    /// <param name="step">The training step.</param>
    /// <param name="time">The wall-clock time; null is now.</param>
    /// <param name="cancellationToken">Cancels the wait for buffer space.</param>
    /// <exception cref="ModelBoxException">An earlier batch failed to send; its points are not stored.</exception>
    public ValueTask LogAsync(string key, MetricValue value, long step, DateTimeOffset? time = null, CancellationToken cancellationToken = default)
    {
        ThrowIfFailed();
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (string.IsNullOrEmpty(key) || key.Length > MaxKeyLength)
        {
            throw new ArgumentException($"a metric key must be 1 to {MaxKeyLength} characters long", nameof(key));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(step);
        var entry = new Entry(key, ModelBoxClient.ToProto(new MetricPoint(step, time ?? DateTimeOffset.UtcNow, value)), null);
        return _buffer.Writer.TryWrite(entry) ? ValueTask.CompletedTask : _buffer.Writer.WriteAsync(entry, cancellationToken);
    }

    /// <summary>Sends everything buffered and returns once every point logged before this call is stored.</summary>
    /// <param name="cancellationToken">Cancels the wait (the points are still sent).</param>
    /// <exception cref="ModelBoxException">A batch failed to send.</exception>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfFailed();
        var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _buffer.Writer.WriteAsync(new Entry(null, null, flushed), cancellationToken).ConfigureAwait(false);
        await flushed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        ThrowIfFailed();
    }

    /// <summary>Sends everything buffered, waits until it is stored, and stops the background task.</summary>
    /// <exception cref="ModelBoxException">A batch failed to send.</exception>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _buffer.Writer.TryComplete();
        await _worker.ConfigureAwait(false);
        _sendSlots.Dispose();
        ThrowIfFailed();
    }

    private void ThrowIfFailed()
    {
        if (Volatile.Read(ref _failure) is { } failure)
        {
            // The typed failure of the send (not found, invalid argument, unavailable), so callers can catch it as usual.
            if (failure is ModelBoxException)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }

            throw new ModelBoxException(Grpc.Core.StatusCode.Unknown, $"sending buffered metrics of '{_parentId}' failed: {failure.Message}", failure);
        }
    }

    private async Task RunAsync()
    {
        var reader = _buffer.Reader;
        var batch = new Batch(_parentId);
        using var timer = new PeriodicTimer(_options.FlushInterval);
        Task<bool>? tick = null;
        Task<bool>? waitForData = null;
        while (true)
        {
            // Take everything that is already buffered without waiting.
            while (batch.Count < _options.BatchSize && reader.TryRead(out var entry))
            {
                if (entry.Flushed is { } flushed)
                {
                    await SendAsync(batch.Take()).ConfigureAwait(false);
                    await DrainSendsAsync().ConfigureAwait(false);
                    flushed.TrySetResult();
                    continue;
                }

                batch.Add(entry.Key!, entry.Value!);
            }

            if (batch.Count >= _options.BatchSize)
            {
                await SendAsync(batch.Take()).ConfigureAwait(false);
                continue;
            }

            // Wait for more points, or for the interval to send a partial batch.
            waitForData ??= reader.WaitToReadAsync().AsTask();
            if (batch.Count > 0)
            {
                tick ??= timer.WaitForNextTickAsync().AsTask();
                var first = await Task.WhenAny(waitForData, tick).ConfigureAwait(false);
                if (first == tick)
                {
                    tick = null;
                    await SendAsync(batch.Take()).ConfigureAwait(false);
                    continue;
                }
            }

            var more = await waitForData.ConfigureAwait(false);
            waitForData = null;
            if (!more)
            {
                break;
            }
        }

        await SendAsync(batch.Take()).ConfigureAwait(false);
        await DrainSendsAsync().ConfigureAwait(false);
    }

    private async Task SendAsync(LogMetricsBatchRequest? request)
    {
        if (request is null)
        {
            return;
        }

        if (Volatile.Read(ref _failure) is not null)
        {
            // Already failed: the caller learns it from the next call; sending more would store points out of order.
            return;
        }

        await _sendSlots.WaitAsync().ConfigureAwait(false);
        _sends.RemoveAll(s => s.IsCompleted);
        _sends.Add(Task.Run(async () =>
        {
            try
            {
                var stored = await _client.SendMetricsBatchAsync(request, CancellationToken.None).ConfigureAwait(false);
                Interlocked.Add(ref _pointsStored, stored);
            }
            catch (Exception exception)
            {
                Interlocked.CompareExchange(ref _failure, exception, null);
            }
            finally
            {
                _sendSlots.Release();
            }
        }));
    }

    private async Task DrainSendsAsync()
    {
        await Task.WhenAll(_sends).ConfigureAwait(false);
        _sends.Clear();
    }

    private readonly record struct Entry(string? Key, MetricsValue? Value, TaskCompletionSource? Flushed);

    /// <summary>The points of one batch, grouped by key so each key is named once on the wire.</summary>
    private sealed class Batch(string parentId)
    {
        private Dictionary<string, Proto.MetricSeriesPoints> _series = new(StringComparer.Ordinal);

        public int Count { get; private set; }

        public void Add(string key, MetricsValue value)
        {
            if (!_series.TryGetValue(key, out var series))
            {
                series = new Proto.MetricSeriesPoints { ParentId = parentId, Key = key };
                _series.Add(key, series);
            }

            series.Values.Add(value);
            Count++;
        }

        public LogMetricsBatchRequest? Take()
        {
            if (Count == 0)
            {
                return null;
            }

            var request = new LogMetricsBatchRequest();
            request.Series.Add(_series.Values);
            _series = new Dictionary<string, Proto.MetricSeriesPoints>(StringComparer.Ordinal);
            Count = 0;
            return request;
        }
    }
}
