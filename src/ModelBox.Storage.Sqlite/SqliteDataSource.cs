using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace ModelBox.Storage.Sqlite;

/// <summary>
/// Connections to one SQLite file with the store's pragmas applied on every open (a pooled connection may last have
/// been used by the migrator), and the file switched to WAL mode once (the journal mode belongs to the file).
/// </summary>
internal sealed class SqliteDataSource(string connectionString, string pragmas, bool setWalMode) : DbDataSource
{
    private int _journalModeSet = setWalMode ? 0 : 1;

    public override string ConnectionString { get; } = connectionString;

    /// <summary>The same database without Microsoft.Data.Sqlite's pool: for connections the session source keeps itself.</summary>
    public string UnpooledConnectionString { get; } = new SqliteConnectionStringBuilder(connectionString) { Pooling = false }.ToString();

    protected override DbConnection CreateDbConnection() => new SqliteConnection(ConnectionString);

    protected override DbConnection OpenDbConnection() =>
        OpenDbConnectionAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();

    protected override async ValueTask<DbConnection> OpenDbConnectionAsync(CancellationToken cancellationToken = default) =>
        await OpenAsync(ConnectionString, cancellationToken).ConfigureAwait(false);

    /// <summary>Opens a connection to <paramref name="connectionString"/> (this file, pooled or not) with the pragmas applied.</summary>
    public async Task<SqliteConnection> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.CommandText = pragmas;
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            if (Volatile.Read(ref _journalModeSet) == 0)
            {
                command.CommandText = "PRAGMA journal_mode=WAL;";
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                Volatile.Write(ref _journalModeSet, 1);
            }

            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    protected override async ValueTask DisposeAsyncCore()
    {
        // Pooled connections (migrations, tests) keep the file (and its -wal and -shm companions) open; let them go.
        await using var connection = new SqliteConnection(ConnectionString);
        SqliteConnection.ClearPool(connection);
        await base.DisposeAsyncCore().ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            using var connection = new SqliteConnection(ConnectionString);
            SqliteConnection.ClearPool(connection);
        }

        base.Dispose(disposing);
    }
}
