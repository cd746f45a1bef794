using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelBox.Domain.Changes;

namespace ModelBox.Storage.Relational;

/// <summary>
/// Cross-replica wake-ups for databases without notifications (MySQL/MariaDB): while anyone watches, reads the newest
/// sequence number every <c>interval</c> and wakes every watched namespace when it moved. A watcher then reads its own
/// namespace; one cheap query per interval serves all watchers of the process.
/// </summary>
public sealed class PollingChangeSignal : RelayChangeSignal, IAsyncDisposable
{
    private readonly IChangeLog _log;
    private readonly TimeSpan _interval;
    private readonly ILogger _logger;
    private readonly string _backend;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _disposed;

    public PollingChangeSignal(InProcessChangeSignal local, IChangeLog log, TimeSpan interval, string backend, ILoggerFactory? loggerFactory = null)
        : base(local)
    {
        _log = log ?? throw new ArgumentNullException(nameof(log));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        _interval = interval;
        _backend = backend;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<PollingChangeSignal>();
        _loop = Task.Run(PollAsync);
    }

    private async Task PollAsync()
    {
        long? last = null;
        using var timer = new PeriodicTimer(_interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                if (!HasSubscribers)
                {
                    continue;
                }

                try
                {
                    var newest = await _log.ReadLastSequenceAsync(_stop.Token).ConfigureAwait(false);
                    if (newest != last)
                    {
                        last = newest;
                        WakeAll();
                    }
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    // The next tick tries again; watchers read the log themselves and report their own failures.
                    RelationalStoreLog.ChangePollFailed(_logger, _backend, exception);
                    last = null;
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Stops polling. Idempotent: the container disposes this once per registration that hands it out (the concrete
    /// type and IChangeSignal).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
