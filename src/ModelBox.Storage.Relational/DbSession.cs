using System.Data.Common;
using System.Runtime.CompilerServices;
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

    /// <summary>
    /// Reads rows one at a time while <paramref name="keep"/> says so (it sees each row after it was read and the row is
    /// kept either way): a result whose size is only known while reading it never has to be held whole.
    /// </summary>
    public async Task<List<T>> QueryWhileAsync<T>(string sql, object? parameters, Func<T, bool> keep, CancellationToken cancellationToken)
    {
        var rows = new List<T>();
        var reader = await Connection.ExecuteReaderAsync(Command(sql, parameters, cancellationToken)).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            var parse = reader.GetRowParser<T>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var row = parse(reader);
                rows.Add(row);
                if (!keep(row))
                {
                    break;
                }
            }
        }

        return rows;
    }

    /// <summary>Runs a statement built for this request only (see <see cref="SqlDialect.SqlOnce"/>).</summary>
    public async Task<List<T>> QueryOnceAsync<T>(string sql, object? parameters, CancellationToken cancellationToken) =>
        (await Connection.QueryAsync<T>(new CommandDefinition(
            Dialect.SqlOnce(sql), parameters, Transaction, Dialect.CommandTimeoutSeconds, cancellationToken: cancellationToken)).ConfigureAwait(false)).AsList();

    /// <summary>
    /// A hot read by one key (an object by id, its metadata): where the dialect keeps commands prepared per connection,
    /// the command is reused, so the database skips parsing and planning; elsewhere an ordinary query.
    /// </summary>
    public async Task<List<T>> QueryByKeyAsync<T>(string sql, string parameterName, object parameterValue, CancellationToken cancellationToken)
    {
        if (!Dialect.CachesPreparedCommands)
        {
            var parameters = new DynamicParameters();
            parameters.Add(parameterName, parameterValue);
            return await QueryAsync<T>(sql, parameters, cancellationToken).ConfigureAwait(false);
        }

        var commands = PreparedCommands.GetOrCreateValue(Connection);
        if (!commands.TryGetValue(sql, out var command))
        {
            command = Connection.CreateCommand();
            command.CommandText = Dialect.Sql(sql);
            command.CommandTimeout = Dialect.CommandTimeoutSeconds;
            var parameter = command.CreateParameter();
            parameter.ParameterName = parameterName;
            command.Parameters.Add(parameter);
            commands.Add(sql, command);
        }

        command.Transaction = Transaction;
        command.Parameters[0].Value = parameterValue;
        var rows = new List<T>();
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            var parse = reader.GetRowParser<T>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows.Add(parse(reader));
            }
        }

        return rows;
    }

    /// <summary>
    /// A write run often with the same text (a change-record insert): kept prepared per connection where the dialect caches
    /// commands, an ordinary command elsewhere. The parameters come in the same order every time for one text.
    /// </summary>
    public async Task<int> ExecuteCachedAsync(string sql, IReadOnlyList<(string Name, object? Value)> parameters, CancellationToken cancellationToken)
    {
        if (!Dialect.CachesPreparedCommands)
        {
            await using var once = CreateCommand(sql);
            foreach (var (name, value) in parameters)
            {
                var parameter = once.CreateParameter();
                parameter.ParameterName = name;
                parameter.Value = value ?? DBNull.Value;
                once.Parameters.Add(parameter);
            }

            return await once.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var commands = PreparedCommands.GetOrCreateValue(Connection);
        if (!commands.TryGetValue(sql, out var command))
        {
            command = Connection.CreateCommand();
            command.CommandText = Dialect.Sql(sql);
            command.CommandTimeout = Dialect.CommandTimeoutSeconds;
            foreach (var (name, _) in parameters)
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = name;
                command.Parameters.Add(parameter);
            }

            commands.Add(sql, command);
        }

        command.Transaction = Transaction;
        for (var i = 0; i < parameters.Count; i++)
        {
            command.Parameters[i].Value = parameters[i].Value ?? DBNull.Value;
        }

        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    // Commands of QueryByKeyAsync, kept per connection for as long as the connection lives (a held connection's
    // commands stay prepared; the statement set is the small fixed set of by-key reads).
    private static readonly ConditionalWeakTable<DbConnection, Dictionary<string, DbCommand>> PreparedCommands = new();

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
