using Microsoft.Data.Sqlite;
using ModelBox.Domain;

namespace ModelBox.Storage.Sqlite;

// What SqliteMetricStore shares with this store: the file, its connections, the single writer lock and the busy mapping.
public sealed partial class SqliteMetadataStore
{
    /// <summary>The in-process writer lock: every writer of the file in this process takes it, metrics included.</summary>
    internal SemaphoreSlim WriteLock => _writeLock;

    internal Task<T> ReadSnapshotAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> read, CancellationToken cancellationToken) =>
        ReadAsync(read, cancellationToken);

    /// <summary>A busy or locked error as the Unavailable failure the domain knows; anything else as is.</summary>
    internal Exception MapWriteFailure(Exception exception) =>
        exception is SqliteException sqlite && IsBusy(sqlite) ? Unavailable(sqlite) : exception;

    internal static ModelBoxException MalformedToken() => PageTokens.Malformed();
}
