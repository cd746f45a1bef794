using System.Collections.Concurrent;
using System.Data.Common;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using ModelBox.Domain;
using ModelBox.Storage.Relational;

namespace ModelBox.Storage.Sqlite;

/// <summary>
/// SQLite's sessions. Reads run concurrently in deferred transactions (WAL readers never block the writer) on connections
/// the source keeps open, so pragmas run once per connection and SQLite keeps its page cache and prepared statements warm.
/// Writes queue for the one writer connection (SQLite has a single writer, and waiting in a queue beats spinning on
/// SQLITE_BUSY). The writer drains the queue in groups: one BEGIN IMMEDIATE transaction, each write in a savepoint of its
/// own (a write that fails rolls back alone), one commit for the group, and only then is each write acknowledged, so an
/// acknowledged write is a committed write. Under load many writes share one commit; a write that finds the writer idle
/// and nothing queued commits at once on its caller's turn.
/// </summary>
internal sealed class SqliteSessionSource(SqliteDataSource dataSource) : DbSessionSource
{
    /// <summary>The most writes one group commit takes, so one transaction never holds the database lock for long.</summary>
    private const int MaxGroupWrites = 64;

    private const int MaxIdleReaders = 16;

    private readonly ConcurrentBag<SqliteConnection> _idleReaders = [];
    private readonly Channel<PendingWrite> _writes = Channel.CreateUnbounded<PendingWrite>(
        new UnboundedChannelOptions { AllowSynchronousContinuations = false }); // not SingleReader: that channel cannot count
    private readonly object _startLock = new();

    // Held by whoever is using the writer connection: the writer task for a group, or a caller committing alone.
    private readonly SemaphoreSlim _writerLock = new(1, 1);
    private Task? _writer;
    private SqliteConnection? _writerConnection;
    private volatile bool _disposed;

    public override Task<T> RunAsync<T>(
        bool write, Func<DbConnection, DbTransaction, Task<T>> work, DbAttempt attempt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        ArgumentNullException.ThrowIfNull(attempt);
        if (!write)
        {
            return ReadAsync(work, cancellationToken);
        }

        if (_disposed)
        {
            throw ShuttingDown();
        }

        var pending = new PendingWrite<T>(work, attempt, cancellationToken);
        // Nobody queued and the writer idle: commit this write on the caller's own turn, without a hand-over to the writer
        // task (the hand-over is what a lone writer would pay for grouping). Otherwise queue it for the next group.
        if (_writes.Reader.Count == 0 && _writerLock.Wait(0, CancellationToken.None))
        {
            return RunAloneAsync(pending);
        }

        EnsureWriter();
        if (!_writes.Writer.TryWrite(pending))
        {
            throw ShuttingDown();
        }

        return pending.Completion;
    }

    private async Task<T> RunAloneAsync<T>(PendingWrite<T> pending)
    {
        try
        {
            if (_disposed)
            {
                throw ShuttingDown();
            }

            await CommitGroupAsync([pending]).ConfigureAwait(false);
        }
        finally
        {
            _writerLock.Release();
        }

        return await pending.Completion.ConfigureAwait(false);
    }

    private static ModelBoxException ShuttingDown() =>
        new(ErrorKind.Unavailable, "the metadata store is shutting down; retry on another server or later");

    private async Task<T> ReadAsync<T>(Func<DbConnection, DbTransaction, Task<T>> read, CancellationToken cancellationToken)
    {
        var connection = _idleReaders.TryTake(out var idle)
            ? idle
            : await dataSource.OpenAsync(dataSource.UnpooledConnectionString, cancellationToken).ConfigureAwait(false);
        var healthy = false;
        try
        {
            var transaction = connection.BeginTransaction(deferred: true);
            await using (transaction.ConfigureAwait(false))
            {
                var result = await read(connection, transaction).ConfigureAwait(false);
                healthy = true;
                return result;
            }
        }
        catch (ModelBoxException)
        {
            // The client's mistake, not the connection's.
            healthy = true;
            throw;
        }
        finally
        {
            // A connection that saw an error is not trusted again; idle ones beyond the cap are closed.
            if (healthy && _idleReaders.Count < MaxIdleReaders && !_disposed)
            {
                _idleReaders.Add(connection);
            }
            else
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private void EnsureWriter()
    {
        if (_writer is null)
        {
            lock (_startLock)
            {
                _writer ??= Task.Run(WriteLoopAsync);
            }
        }
    }

    private async Task WriteLoopAsync()
    {
        var reader = _writes.Reader;
        var group = new List<PendingWrite>(MaxGroupWrites);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            group.Clear();
            while (group.Count < MaxGroupWrites && reader.TryRead(out var pending))
            {
                if (pending.CancellationToken.IsCancellationRequested)
                {
                    pending.Fail(new OperationCanceledException(pending.CancellationToken));
                }
                else
                {
                    group.Add(pending);
                }
            }

            if (group.Count > 0)
            {
                await _writerLock.WaitAsync().ConfigureAwait(false);
                try
                {
                    await CommitGroupAsync(group).ConfigureAwait(false);
                }
                finally
                {
                    _writerLock.Release();
                }
            }
        }
    }

    private async Task CommitGroupAsync(List<PendingWrite> group)
    {
        SqliteConnection connection;
        SqliteTransaction transaction;
        try
        {
            connection = _writerConnection ??= await dataSource.OpenAsync(dataSource.UnpooledConnectionString, CancellationToken.None).ConfigureAwait(false);
            transaction = connection.BeginTransaction(deferred: false);
        }
        catch (Exception exception)
        {
            await DropWriterAsync().ConfigureAwait(false);
            group.ForEach(pending => pending.Fail(exception));
            return;
        }

        var succeeded = new List<PendingWrite>(group.Count);
        var trusted = true;
        try
        {
            if (group.Count == 1)
            {
                await group[0].RunAsync(connection, transaction).ConfigureAwait(false);
                succeeded.Add(group[0]);
            }
            else
            {
                for (var i = 0; i < group.Count; i++)
                {
                    var savepoint = "w" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    await transaction.SaveAsync(savepoint).ConfigureAwait(false);
                    try
                    {
                        await group[i].RunAsync(connection, transaction).ConfigureAwait(false);
                        await transaction.ReleaseAsync(savepoint).ConfigureAwait(false);
                        succeeded.Add(group[i]);
                    }
                    catch (Exception exception) when (exception is not SqliteException { SqliteErrorCode: 5 or 6 })
                    {
                        // This write did not happen; the others in the group go on.
                        trusted &= exception is ModelBoxException or OperationCanceledException;
                        await transaction.RollbackAsync(savepoint).ConfigureAwait(false);
                        await transaction.ReleaseAsync(savepoint).ConfigureAwait(false);
                        group[i].Fail(exception);
                    }
                }
            }

            succeeded.ForEach(pending => pending.Attempt.Committing = true);
            await transaction.CommitAsync().ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            trusted &= exception is ModelBoxException or OperationCanceledException;
            try
            {
                await transaction.RollbackAsync().ConfigureAwait(false);
            }
            catch (Exception) when (!trusted)
            {
                // The connection is dropped below anyway.
            }

            foreach (var pending in group)
            {
                pending.Fail(exception);
            }

            succeeded.Clear();
        }
        finally
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
        }

        if (!trusted)
        {
            // Start the next group on a fresh connection rather than one left in an unknown state.
            await DropWriterAsync().ConfigureAwait(false);
        }

        succeeded.ForEach(pending => pending.Complete());
    }

    private async Task DropWriterAsync()
    {
        if (_writerConnection is { } connection)
        {
            _writerConnection = null;
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Stops taking writes, commits what is queued, and closes every connection.</summary>
    public override async ValueTask DisposeAsync()
    {
        _disposed = true;
        _writes.Writer.TryComplete();
        Task? writer;
        lock (_startLock)
        {
            writer = _writer;
        }

        if (writer is not null)
        {
            await writer.ConfigureAwait(false);
        }

        // A caller committing alone finishes before the connection goes.
        await _writerLock.WaitAsync().ConfigureAwait(false);
        try
        {
            await DropWriterAsync().ConfigureAwait(false);
        }
        finally
        {
            _writerLock.Release();
        }

        while (_idleReaders.TryTake(out var reader))
        {
            await reader.DisposeAsync().ConfigureAwait(false);
        }

        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>A queued write: its work, and how its caller learns the outcome.</summary>
    private abstract class PendingWrite(DbAttempt attempt, CancellationToken cancellationToken)
    {
        public DbAttempt Attempt { get; } = attempt;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        public abstract Task RunAsync(SqliteConnection connection, SqliteTransaction transaction);

        /// <summary>Acknowledges the write (after its group committed).</summary>
        public abstract void Complete();

        public abstract void Fail(Exception exception);
    }

    private sealed class PendingWrite<T>(Func<DbConnection, DbTransaction, Task<T>> work, DbAttempt attempt, CancellationToken cancellationToken)
        : PendingWrite(attempt, cancellationToken)
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;

        public Task<T> Completion => _completion.Task;

        public override async Task RunAsync(SqliteConnection connection, SqliteTransaction transaction) =>
            _result = await work(connection, transaction).ConfigureAwait(false);

        public override void Complete() => _completion.TrySetResult(_result!);

        public override void Fail(Exception exception) => _completion.TrySetException(exception);
    }
}
