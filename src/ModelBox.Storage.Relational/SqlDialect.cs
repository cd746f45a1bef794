using System.Collections.Concurrent;
using System.Data.Common;
using FluentMigrator.Runner;
using ModelBox.Domain;

namespace ModelBox.Storage.Relational;

/// <summary>What a failed database call means for the caller.</summary>
public enum DbFailure
{
    /// <summary>Not a database availability problem (a bug, a constraint the store did not expect): let it surface.</summary>
    Other,

    /// <summary>The transaction was rolled back by the database to break a deadlock or a serialization conflict: run it again.</summary>
    Retry,

    /// <summary>The database cannot be reached or is shutting down or restarting: the call fails with Unavailable; a fresh
    /// connection may work.</summary>
    Unavailable,

    /// <summary>The statement ran past the configured statement timeout.</summary>
    Timeout,

    /// <summary>The database's storage is full (no space left on the device, a quota, a file-size limit): the call fails
    /// with ResourceExhausted naming the cause; reads go on, and writes work again once space returns.</summary>
    DiskFull,
}

/// <summary>
/// Everything the relational store needs to know about one database product. SQL in the store is written once, in the
/// common subset of SQLite, PostgreSQL and MySQL, with the identifiers that are reserved words in MySQL (<c>"key"</c>,
/// <c>"change"</c>) in ANSI double quotes; <see cref="Sql"/> translates what differs, and the members below supply the
/// snippets, locking, sequence reservation, error classification and sessions that differ.
/// </summary>
public abstract class SqlDialect
{
    private readonly ConcurrentDictionary<string, string> _translated = new(StringComparer.Ordinal);
    private DbSessionSource? _sessions;

    /// <summary>The backend's name in logs and metric tags ("sqlite", "postgres", "mysql").</summary>
    public abstract string Name { get; }

    /// <summary>Where connections come from (migrations, tests, the change listener; store calls go through <see cref="Sessions"/>).</summary>
    public abstract DbDataSource DataSource { get; }

    /// <summary>How a store call obtains its connection and transaction; the default opens a pooled connection per call.</summary>
    public DbSessionSource Sessions => _sessions ??= CreateSessions();

    /// <summary>The session source of this database (see <see cref="Sessions"/>).</summary>
    protected virtual DbSessionSource CreateSessions() => new PooledSessionSource(this);

    /// <summary>
    /// Whether concurrent writers of this database need row locks (<c>SELECT ... FOR UPDATE</c>, the blob and change-counter
    /// locks) to take turns. False where the database serialises writers by itself (SQLite's BEGIN IMMEDIATE).
    /// </summary>
    public virtual bool LocksRows => true;

    /// <summary>" FOR UPDATE" where <see cref="LocksRows"/>, else nothing: append it to a SELECT that must lock its rows.</summary>
    public string ForUpdate => LocksRows ? " FOR UPDATE" : string.Empty;

    /// <summary>How often one store call runs its transaction before it gives up (deadlocks, a restarting database).</summary>
    public virtual int MaxAttempts => 5;

    /// <summary>What a client is told when the database failed the call (see <see cref="DbFailure"/>).</summary>
    public virtual string UnavailableMessage(DbFailure failure) => failure switch
    {
        DbFailure.Timeout => $"the {Name} metadata database did not answer within the statement timeout; retry later",
        DbFailure.Retry => $"the {Name} metadata database kept aborting the transaction because of concurrent writes; retry",
        DbFailure.DiskFull => $"the {Name} metadata database's disk is full; writes fail until space is freed on it (reads go on)",
        _ => $"the {Name} metadata database is unavailable; retry later",
    };

    /// <summary>Seconds a statement may run (0: no limit).</summary>
    public abstract int CommandTimeoutSeconds { get; }

    /// <summary>The SQL text this database runs for <paramref name="sql"/> (cached per text).</summary>
    public string Sql(string sql) => _translated.GetOrAdd(sql, Translate);

    /// <summary>Rewrites portable SQL into this dialect; the default keeps it as is.</summary>
    protected virtual string Translate(string sql) => sql;

    /// <summary>
    /// The SQL text this database runs for a statement built per request (a search), not cached: the shapes of user
    /// filters are unbounded, and a cache keyed by their text would grow without limit.
    /// </summary>
    public string SqlOnce(string sql) => Translate(sql);

    /// <summary>A text expression that compares and sorts byte by byte, as SQLite's BINARY collation does; the default
    /// keeps it as is (the column already does).</summary>
    public virtual string BinaryText(string expression) => expression;

    /// <summary>
    /// The number a JSON document in <paramref name="jsonColumn"/> holds, as a double, or NULL when it is not a number.
    /// Numbers beyond the range of a double become the largest double of their sign rather than an error.
    /// </summary>
    public abstract string JsonNumber(string jsonColumn);

    /// <summary>The text a JSON string in <paramref name="jsonColumn"/> holds (unquoted, compared byte by byte), or NULL
    /// when it is not a string.</summary>
    public abstract string JsonString(string jsonColumn);

    /// <summary><c>'true'</c> or <c>'false'</c> when <paramref name="jsonColumn"/> holds a JSON boolean, else NULL.</summary>
    public abstract string JsonBoolean(string jsonColumn);

    /// <summary>SQL literals for the positive and negative infinity of a double (MySQL has none: the largest doubles).</summary>
    public abstract (string Positive, string Negative) InfinityLiterals { get; }

    /// <summary>An INSERT of one row that does nothing when a row with the same unique key exists; affects 1 row when it
    /// inserted and 0 when it found the row.</summary>
    public abstract string InsertIfAbsent(string table, string columns, string values, string keyColumns);

    /// <summary>An INSERT of one row that overwrites <paramref name="updateColumns"/> when the key exists.</summary>
    public abstract string Upsert(string table, string columns, string values, string keyColumns, params string[] updateColumns);

    /// <summary>
    /// One command that upserts <paramref name="rows"/> metric series rows, given as parameters <c>@p{i}</c> (parent id),
    /// <c>@k{i}</c> (key) and <c>@c{i}</c> (new points), in that order: a new row starts with <c>point_count = @c{i}</c>,
    /// an existing one adds <c>@c{i}</c>. The command returns <c>id, parent_id, key, point_count</c> of every row it
    /// touched, in any order, possibly after result sets without rows. The rows are locked until the transaction ends.
    /// </summary>
    public string UpsertSeriesSql(int rows) => _upsertSeriesSql.GetOrAdd(rows, count => Translate(BuildUpsertSeries(count)));

    private readonly ConcurrentDictionary<int, string> _upsertSeriesSql = new();

    /// <summary>
    /// Runs <see cref="UpsertSeriesSql"/> for <paramref name="series"/> (parent id, key, new points) inside the caller's
    /// transaction and returns <c>id, parent_id, key, point_count</c> of every row it touched, in any order.
    /// </summary>
    public virtual async Task<List<(long Id, string Parent, string Key, long PointCount)>> UpsertSeriesAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyList<(string Parent, string Key, long Count)> series, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandTimeout = CommandTimeoutSeconds;
        command.CommandText = UpsertSeriesSql(series.Count);
        for (var i = 0; i < series.Count; i++)
        {
            AddParameter(command, $"p{i}", series[i].Parent);
            AddParameter(command, $"k{i}", series[i].Key);
            AddParameter(command, $"c{i}", series[i].Count);
        }

        var rows = new List<(long Id, string Parent, string Key, long PointCount)>(series.Count);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        do
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows.Add((reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3)));
            }
        }
        while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false));
        return rows;
    }

    /// <summary>The dialect's <see cref="UpsertSeriesSql"/> for <paramref name="rows"/> rows (portable quoting).</summary>
    protected abstract string BuildUpsertSeries(int rows);

    /// <summary>"(@p0, @k0, @c0), (@p1, @k1, @c1), ...": the VALUES rows of <see cref="UpsertSeriesSql"/>.</summary>
    protected static string SeriesValues(int rows) =>
        string.Join(", ", Enumerable.Range(0, rows).Select(i => $"(@p{i}, @k{i}, @c{i})"));

    /// <summary>
    /// A keyset condition "the row sorts after (or before) the given key": <paramref name="greater"/> true for ascending
    /// pages. The default spells it out column by column, which every database can seek an index with.
    /// </summary>
    public virtual string KeysetAfter(bool greater, params (string Column, string Parameter)[] key)
    {
        var op = greater ? ">" : "<";
        var clause = $"{key[^1].Column} {op} {key[^1].Parameter}";
        for (var i = key.Length - 2; i >= 0; i--)
        {
            clause = $"{key[i].Column} {op} {key[i].Parameter} OR ({key[i].Column} = {key[i].Parameter} AND ({clause}))";
        }

        return "(" + clause + ")";
    }

    /// <summary>"Column is one of the list parameter" (Dapper expands a list for IN; Npgsql takes an array whole).</summary>
    public virtual string InList(string column, string parameter) => $"{column} IN {parameter}";

    /// <summary>
    /// Takes <paramref name="count"/> change-log sequence numbers from the counter row inside the caller's transaction and
    /// returns the first. The row lock it takes is held until the transaction ends, so change-producing transactions
    /// commit in sequence order. Null where the insert itself assigns them in commit order (SQLite's rowid under its
    /// single writer).
    /// </summary>
    public abstract Task<long?> ReserveSequencesAsync(DbConnection connection, DbTransaction transaction, int count, CancellationToken cancellationToken);

    /// <summary>Tells other replicas (inside the transaction, delivered at commit) that these namespaces changed; the
    /// default does nothing (their watchers poll).</summary>
    public virtual Task NotifyChangesAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyCollection<string> namespaces, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    /// <summary>Inserts metric point rows through the database's fastest path, inside the caller's transaction.</summary>
    public abstract Task InsertPointsAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyList<PointRow> points, CancellationToken cancellationToken);

    /// <summary>Inserts point rows with multi-row INSERT statements of up to <paramref name="rowsPerStatement"/> rows.</summary>
    protected async Task InsertPointsByValuesAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyList<PointRow> points, int rowsPerStatement, CancellationToken cancellationToken)
    {
        for (var start = 0; start < points.Count; start += rowsPerStatement)
        {
            var count = Math.Min(rowsPerStatement, points.Count - start);
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandTimeout = CommandTimeoutSeconds;
            command.CommandText = Sql(PointInsertSql(count));
            for (var i = 0; i < count; i++)
            {
                var point = points[start + i];
                AddParameter(command, $"@a{i}", point.SeriesId);
                AddParameter(command, $"@b{i}", point.Step);
                AddParameter(command, $"@c{i}", point.Time);
                AddParameter(command, $"@d{i}", point.Seq);
                AddParameter(command, $"@e{i}", point.Kind);
                AddParameter(command, $"@f{i}", point.Num);
                AddParameter(command, $"@g{i}", point.Txt);
                AddParameter(command, $"@h{i}", point.Bin);
                AddParameter(command, $"@i{i}", point.Millis);
            }

            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Inserts rows whose values are all <see cref="long"/> or <see cref="double"/> (metric summaries) into
    /// <paramref name="table"/>, inside the caller's transaction; the default sends up to 500 rows a statement. With
    /// <paramref name="keyColumns"/> &gt; 0 a row replaces the stored row whose first that many columns it matches.
    /// </summary>
    public virtual async Task InsertNumericRowsAsync(
        DbConnection connection, DbTransaction transaction, string table, IReadOnlyList<string> columns, IReadOnlyList<object[]> rows,
        CancellationToken cancellationToken, int keyColumns = 0)
    {
        const int RowsPerStatement = 500;
        for (var start = 0; start < rows.Count; start += RowsPerStatement)
        {
            var count = Math.Min(RowsPerStatement, rows.Count - start);
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandTimeout = CommandTimeoutSeconds;
            var values = new System.Text.StringBuilder();
            for (var i = 0; i < count; i++)
            {
                values.Append(i == 0 ? string.Empty : "), (");
                for (var c = 0; c < columns.Count; c++)
                {
                    var name = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"@v{i}_{c}");
                    values.Append(c == 0 ? string.Empty : ", ").Append(name);
                    AddParameter(command, name, rows[start + i][c]);
                }
            }

            command.CommandText = Sql(NumericRowsSql(table, columns, values.ToString(), keyColumns));
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The INSERT of <see cref="InsertNumericRowsAsync"/> for <paramref name="values"/> (the text between the outer
    /// parentheses of VALUES): with <paramref name="keyColumns"/> &gt; 0, a row whose first that many columns match a
    /// stored row replaces its other columns.
    /// </summary>
    protected string NumericRowsSql(string table, IReadOnlyList<string> columns, string values, int keyColumns) =>
        keyColumns == 0
            ? $"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({values})"
            : Upsert(table, string.Join(", ", columns), values, string.Join(", ", columns.Take(keyColumns)), [.. columns.Skip(keyColumns)]);

    /// <summary>Adds a parameter; a null value is SQL NULL. Dialects may override to give the driver exact types.</summary>
    protected virtual void AddParameter(DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }

    private readonly ConcurrentDictionary<int, string> _pointInsertSql = new();

    private string PointInsertSql(int rows) => _pointInsertSql.GetOrAdd(rows, count =>
    {
        var sql = new System.Text.StringBuilder("INSERT INTO metric_points (series_id, step, \"time\", seq, kind, num, txt, bin, millis) VALUES ");
        for (var i = 0; i < count; i++)
        {
            sql.Append(i == 0 ? string.Empty : ", ").Append($"(@a{i}, @b{i}, @c{i}, @d{i}, @e{i}, @f{i}, @g{i}, @h{i}, @i{i})");
        }

        return sql.ToString();
    });

    /// <summary>What a failure means; see <see cref="DbFailure"/>.</summary>
    public abstract DbFailure Classify(Exception exception);

    /// <summary>Forgets pooled connections (after the database restarted, they are all dead).</summary>
    public abstract void ClearPool();

    /// <summary>Whether the read-by-key statements of the hottest reads are kept prepared on each connection (SQLite: the
    /// driver re-parses a statement on every new command; Npgsql prepares by itself).</summary>
    public virtual bool CachesPreparedCommands => false;

    /// <summary>Sets up the FluentMigrator runner for this database.</summary>
    public abstract void ConfigureMigrationRunner(IMigrationRunnerBuilder runner);

    /// <summary>Takes a database-wide lock for the migration (held on <paramref name="connection"/> until released).</summary>
    public abstract Task AcquireMigrationLockAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Releases the lock of <see cref="AcquireMigrationLockAsync"/>.</summary>
    public abstract Task ReleaseMigrationLockAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Whether FluentMigrator's version table exists in the current database/schema.</summary>
    public abstract Task<bool> VersionTableExistsAsync(DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken);

    /// <summary>A query answering the names of the base tables of the current database or schema.</summary>
    public virtual string ListTablesSql =>
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'";

    /// <summary>What an INSERT says between its column list and VALUES to give an identity column explicit values
    /// (PostgreSQL's GENERATED ALWAYS columns refuse them otherwise); nothing by default.</summary>
    public virtual string OverridingIdentity => string.Empty;

    /// <summary>
    /// Moves the counter of an identity column past the largest value in it, after rows were inserted with explicit values
    /// (a restore); the default does nothing (SQLite and MySQL move it by themselves).
    /// </summary>
    public virtual Task ResetIdentityAsync(DbConnection connection, DbTransaction transaction, string table, string column, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    /// <summary>A read-only snapshot transaction that takes no write lock (REPEATABLE READ by default).</summary>
    public virtual async Task<DbTransaction> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The database named in logs (no password).</summary>
    public abstract string Describe();
}

/// <summary>One row of <c>metric_points</c> as a dialect's bulk path writes it. Non-finite numbers are NULL in <c>num</c>
/// and spelled in <c>txt</c> on every backend: MySQL has no NaN or infinity, SQLite no NaN, and one encoding keeps the
/// backends alike (migration 8 moved SQLite's older spelling). <c>millis</c> holds the milliseconds past <c>time</c>
/// (migration 13).</summary>
public readonly record struct PointRow(long SeriesId, long Step, long Time, long Seq, short Kind, double? Num, string? Txt, byte[]? Bin, short Millis = 0)
{
    public static PointRow From(long seriesId, long seq, in MetricPoint point)
    {
        double? num = null;
        var txt = point.Text;
        if (point.IsNumeric)
        {
            if (double.IsFinite(point.Number))
            {
                num = point.Number;
            }
            else
            {
                txt = double.IsNaN(point.Number) ? "NaN" : point.Number > 0 ? "Infinity" : "-Infinity";
            }
        }

        return new PointRow(seriesId, point.Step, point.WallclockSeconds, seq, (short)point.Kind, num, txt, point.Bytes, point.Millis);
    }
}
