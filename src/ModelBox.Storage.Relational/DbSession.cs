using System.Data.Common;
using Dapper;
using ModelBox.Domain.Changes;

namespace ModelBox.Storage.Relational;

/// <summary>
/// One attempt of one store call: a connection, its transaction, and (for writes) the change records the call appends.
/// The records are written just before commit, so the change-counter lock is held only for the end of the transaction.
/// </summary>
internal sealed class DbSession(DbConnection connection, DbTransaction transaction, SqlDialect dialect)
{
    public DbConnection Connection { get; } = connection;

    public DbTransaction Transaction { get; } = transaction;

    public SqlDialect Dialect { get; } = dialect;

    public List<ChangeRecordDraft> Changes { get; } = [];

    public Task<int> ExecuteAsync(string sql, object? parameters, CancellationToken cancellationToken) =>
        Connection.ExecuteAsync(Command(sql, parameters, cancellationToken));

    public async Task<List<T>> QueryAsync<T>(string sql, object? parameters, CancellationToken cancellationToken) =>
        (await Connection.QueryAsync<T>(Command(sql, parameters, cancellationToken)).ConfigureAwait(false)).AsList();

    /// <summary>Runs a statement built for this request only (see <see cref="SqlDialect.SqlOnce"/>).</summary>
    public async Task<List<T>> QueryOnceAsync<T>(string sql, object? parameters, CancellationToken cancellationToken) =>
        (await Connection.QueryAsync<T>(new CommandDefinition(
            Dialect.SqlOnce(sql), parameters, Transaction, Dialect.CommandTimeoutSeconds, cancellationToken: cancellationToken)).ConfigureAwait(false)).AsList();

    public Task<T?> QuerySingleOrDefaultAsync<T>(string sql, object? parameters, CancellationToken cancellationToken) =>
        Connection.QuerySingleOrDefaultAsync<T>(Command(sql, parameters, cancellationToken));

    public Task<T?> ScalarAsync<T>(string sql, object? parameters, CancellationToken cancellationToken) =>
        Connection.ExecuteScalarAsync<T>(Command(sql, parameters, cancellationToken));

    public DbCommand CreateCommand(string sql)
    {
        var command = Connection.CreateCommand();
        command.Transaction = Transaction;
        command.CommandText = Dialect.Sql(sql);
        command.CommandTimeout = Dialect.CommandTimeoutSeconds;
        return command;
    }

    public void AppendChange(ChangeRecordDraft change) => Changes.Add(change);

    private CommandDefinition Command(string sql, object? parameters, CancellationToken cancellationToken) =>
        new(Dialect.Sql(sql), parameters, Transaction, Dialect.CommandTimeoutSeconds, cancellationToken: cancellationToken);
}
