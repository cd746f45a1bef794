using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelBox.Domain;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.Relational;

/// <summary>
/// Group commit for any <see cref="IMetricStore"/>: every append queues its batch and awaits it; one writer task drains
/// whatever is queued (up to <see cref="MaxGroupPoints"/> points) into one append of the inner store, i.e. one
/// transaction, and completes each request once that append has returned, so an acknowledged point is a committed point.
/// A database then pays one commit (and one series upsert per series) for many requests. Reads go straight through.
/// </summary>
public sealed class GroupCommitMetricStore : IMetricStore, IAsyncDisposable
{
    /// <summary>The most points one group takes, so one commit never holds the writer for long.</summary>
    public const int MaxGroupPoints = 100_000;

    private readonly IMetricStore _inner;
    private readonly ILogger _logger;
    private readonly Channel<PendingAppend> _pending = Channel.CreateUnbounded<PendingAppend>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });
    private readonly Task _writer;

    public GroupCommitMetricStore(IMetricStore inner, ILoggerFactory? loggerFactory = null)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<GroupCommitMetricStore>();
        _writer = Task.Run(WriteLoopAsync);
    }

    public async Task<long> AppendAsync(IReadOnlyList<MetricSeriesPoints> batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var count = RelationalMetricStore.PointCount(batch);

        if (count == 0)
        {
            return 0;
        }

        var pending = new PendingAppend(batch, count);
        if (!_pending.Writer.TryWrite(pending))
        {
            throw new ModelBoxException(ErrorKind.Unavailable, "the metric store is shutting down; retry on another server or later");
        }

        // Cancelling stops the wait, not the write: a queued batch is committed (or fails) with its group.
        await pending.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return count;
    }

    // The check for stored points reads inside the append's transaction; a group would have to read for every batch in it.
    public Task<long> AppendDistinctAsync(IReadOnlyList<MetricSeriesPoints> batch, CancellationToken cancellationToken = default) =>
        _inner.AppendDistinctAsync(batch, cancellationToken);

    // A repeated id is answered from its row, read inside the append's transaction: this goes straight to the store.
    public Task<long> AppendOnceAsync(
        string batchId, IReadOnlyList<MetricSeriesPoints> batch, bool skipStoredPoints = false, CancellationToken cancellationToken = default) =>
        _inner.AppendOnceAsync(batchId, batch, skipStoredPoints, cancellationToken);

    public Task<long> ForgetBatchIdsAsync(DateTimeOffset storedBefore, CancellationToken cancellationToken = default) =>
        _inner.ForgetBatchIdsAsync(storedBefore, cancellationToken);

    public Task<IReadOnlyList<MetricSeries>> ReadLatestAsync(string parentId, CancellationToken cancellationToken = default) =>
        _inner.ReadLatestAsync(parentId, cancellationToken);

    public Task<IReadOnlyList<MetricSeries>> ReadAllAsync(string parentId, CancellationToken cancellationToken = default) =>
        _inner.ReadAllAsync(parentId, cancellationToken);

    public Task ScanAsync(
        string parentId, string key, long fromStep, long toStep, IMetricPointScanner scanner, CancellationToken cancellationToken = default) =>
        _inner.ScanAsync(parentId, key, fromStep, toStep, scanner, cancellationToken);

    public Task<Page<MetricPoint>> ReadPageAsync(string parentId, string key, PageRequest page, CancellationToken cancellationToken = default) =>
        _inner.ReadPageAsync(parentId, key, page, cancellationToken);

    public Task ScanSummarizedAsync(
        string parentId, string key, long fromStep, long toStep, IMetricSummaryScanner scanner, CancellationToken cancellationToken = default) =>
        _inner.ScanSummarizedAsync(parentId, key, fromStep, toStep, scanner, cancellationToken);

    public Task<IReadOnlyList<MetricBucket>> ReadBucketsAsync(
        string parentId, string key, int stepShift, long fromStep, long toStep, CancellationToken cancellationToken = default) =>
        _inner.ReadBucketsAsync(parentId, key, stepShift, fromStep, toStep, cancellationToken);

    public Task<IReadOnlyList<MetricSeriesSummary>> ReadSeriesSummariesAsync(
        IReadOnlyCollection<string> parentIds, IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default) =>
        _inner.ReadSeriesSummariesAsync(parentIds, keys, cancellationToken);

    public Task<(long FromStep, long ToStep)?> FindStepsBetweenTimesAsync(
        string parentId, string key, long fromSeconds, long toSeconds, CancellationToken cancellationToken = default) =>
        _inner.FindStepsBetweenTimesAsync(parentId, key, fromSeconds, toSeconds, cancellationToken);

    public IReadOnlyList<int> SummaryStepShifts => _inner.SummaryStepShifts;

    /// <summary>Stops taking appends, commits what is queued, and waits for the writer to finish.</summary>
    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
    }

    private async Task WriteLoopAsync()
    {
        var reader = _pending.Reader;
        var group = new List<PendingAppend>();
        var combined = new List<MetricSeriesPoints>();
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            group.Clear();
            combined.Clear();
            long points = 0;
            while (points < MaxGroupPoints && reader.TryRead(out var pending))
            {
                group.Add(pending);
                combined.AddRange(pending.Batch);
                points += pending.Count;
            }

            try
            {
                await _inner.AppendAsync(group.Count == 1 ? group[0].Batch : combined, CancellationToken.None).ConfigureAwait(false);
                foreach (var pending in group)
                {
                    pending.Done.TrySetResult();
                }
            }
            catch (Exception exception)
            {
                if (exception is not ModelBoxException)
                {
                    RelationalStoreLog.MetricGroupFailed(_logger, group.Count, points, exception);
                }

                foreach (var pending in group)
                {
                    pending.Done.TrySetException(exception);
                }
            }
        }
    }

    private sealed class PendingAppend(IReadOnlyList<MetricSeriesPoints> batch, long count)
    {
        public IReadOnlyList<MetricSeriesPoints> Batch { get; } = batch;

        public long Count { get; } = count;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
