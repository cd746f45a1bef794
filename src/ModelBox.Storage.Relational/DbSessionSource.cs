using System.Data;
using System.Data.Common;

namespace ModelBox.Storage.Relational;

/// <summary>
/// How one attempt of a store call gets its connection and transaction: the one thing about sessions that differs per
/// database. The store decides what runs in the transaction, how failures are classified and retried, and when watchers
/// are woken; a source decides where the connection comes from, how the transaction begins, and when it commits.
/// </summary>
public abstract class DbSessionSource : IAsyncDisposable
{
    /// <summary>
    /// Runs <paramref name="work"/> in one transaction: a snapshot for reads (rolled back afterwards), for writes one
    /// that commits when the work returns and rolls back when it throws. <paramref name="attempt"/> tells the caller
    /// whether a failure happened while committing (the transaction may then have committed).
    /// </summary>
    public abstract Task<T> RunAsync<T>(
        bool write, Func<DbConnection, DbTransaction, Task<T>> work, DbAttempt attempt, CancellationToken cancellationToken);

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}

/// <summary>The state of one attempt that its caller reads after a failure.</summary>
public sealed class DbAttempt
{
    /// <summary>Set just before the commit is sent: a failure from here on may have committed.</summary>
    public bool Committing { get; set; }
}

/// <summary>
/// The server databases' sessions: a pooled connection per call, READ COMMITTED for writes (with row locks where a write
/// reads before it writes) and REPEATABLE READ for reads, so a read sees one snapshot.
/// </summary>
public sealed class PooledSessionSource(SqlDialect dialect) : DbSessionSource
{
    public override async Task<T> RunAsync<T>(
        bool write, Func<DbConnection, DbTransaction, Task<T>> work, DbAttempt attempt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        ArgumentNullException.ThrowIfNull(attempt);
        var connection = await dialect.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync(
                write ? IsolationLevel.ReadCommitted : IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                var result = await work(connection, transaction).ConfigureAwait(false);
                attempt.Committing = true;
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
        }
    }
}
