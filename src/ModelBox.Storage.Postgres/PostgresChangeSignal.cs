using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelBox.Domain.Changes;
using ModelBox.Storage.Relational;
using Npgsql;

namespace ModelBox.Storage.Postgres;

/// <summary>
/// Wake-ups across replicas through LISTEN/NOTIFY: one background connection per process listens on
/// <see cref="PostgresDialect.ChangeChannel"/> and wakes the watchers of the namespace each notification names. When
/// the connection drops it reconnects, and wakes every watched namespace once it listens again, because notifications
/// sent while it was away are lost (a watcher then reads the log and finds what it missed).
/// </summary>
public sealed class PostgresChangeSignal : RelayChangeSignal, IAsyncDisposable
{
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(1);

    private readonly string _connectionString;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _loop;

    public PostgresChangeSignal(InProcessChangeSignal local, PostgresDialect dialect, ILoggerFactory? loggerFactory = null)
        : base(local)
    {
        ArgumentNullException.ThrowIfNull(dialect);
        _connectionString = new NpgsqlConnectionStringBuilder(dialect.ConnectionString)
        {
            // Its own connection, outside the pool; keepalives find a dead peer that never said goodbye.
            Pooling = false,
            KeepAlive = 15,
            Options = null,
            CommandTimeout = 30,
        }.ConnectionString;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<PostgresChangeSignal>();
        _loop = Task.Run(ListenAsync);
    }

    /// <summary>Completes once the listener has started listening the first time (tests and start-up may wait for it).</summary>
    public Task Listening => _listening.Task;

    private async Task ListenAsync()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                var connection = new NpgsqlConnection(_connectionString);
                await using (connection.ConfigureAwait(false))
                {
                    connection.Notification += (_, notification) => Local.Notify(notification.Payload);
                    await connection.OpenAsync(token).ConfigureAwait(false);
                    await using (var command = new NpgsqlCommand($"LISTEN {PostgresDialect.ChangeChannel}", connection))
                    {
                        await command.ExecuteNonQueryAsync(token).ConfigureAwait(false);
                    }

                    _listening.TrySetResult();
                    WakeAll();
                    while (true)
                    {
                        await connection.WaitAsync(token).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                RelationalStoreLog.ChangeListenerFailed(_logger, "postgres", exception);
                try
                {
                    await Task.Delay(ReconnectDelay, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The container may dispose this twice (it is registered as itself and as IChangeSignal).
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }

    private int _disposed;
}
