using System.Data.Common;
using FluentMigrator.Runner;
using FluentMigrator.Runner.Processors.SQLite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using ModelBox.Storage.Migrations;
using ModelBox.Storage.Relational;
using SQLitePCL;

namespace ModelBox.Storage.Sqlite;

/// <summary>
/// SQLite, the embedded default: one file in WAL mode. What differs from the server databases: writers are serialised
/// by the database itself (BEGIN IMMEDIATE takes the file lock for every process that opens it), so there are no row
/// locks and change sequences are the next rowid; sessions come from one held writer connection that commits queued
/// writes in groups and a pool of idle readers (<see cref="SqliteSessionSource"/>); points are inserted through SQLite's
/// C API; a lock held by another process past the busy timeout is Unavailable.
/// </summary>
public sealed class SqliteDialect : SqlDialect, IAsyncDisposable
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;
    private const int SqliteFull = 13;

    private const string InsertPointSql =
        "INSERT INTO metric_points (series_id, step, time, seq, kind, num, txt, bin, millis) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

    private readonly SqliteDataSource _dataSource;

    public SqliteDialect(SqliteStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.DatabasePath, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.BusyTimeoutMilliseconds, nameof(options));
        DatabasePath = Path.GetFullPath(options.DatabasePath);
        var directory = Path.GetDirectoryName(DatabasePath);
        if (!options.ReadOnly && !string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        BusyTimeoutMilliseconds = options.BusyTimeoutMilliseconds;
        // Microsoft.Data.Sqlite retries a busy statement itself until the command timeout; keep that loop within the
        // configured busy timeout so the timeout means what it says.
        CommandTimeoutSeconds = Math.Max(1, (options.BusyTimeoutMilliseconds + 999) / 1000);
        _dataSource = new SqliteDataSource(
            new SqliteConnectionStringBuilder
            {
                DataSource = DatabasePath,
                Mode = options.ReadOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate,
                Pooling = true,
                DefaultTimeout = CommandTimeoutSeconds,
            }.ToString(),
            $"PRAGMA synchronous={SynchronousPragma(options.Synchronous)}; PRAGMA foreign_keys=ON; PRAGMA busy_timeout={options.BusyTimeoutMilliseconds};",
            setWalMode: !options.ReadOnly);
    }

    /// <summary>The pragma value of a <see cref="SqliteStorageOptions.Synchronous"/> level.</summary>
    public static string SynchronousPragma(string level) => level switch
    {
        "normal" => "NORMAL",
        "full" => "FULL",
        _ => throw new ArgumentException($"the SQLite synchronous level '{level}' is not \"normal\" or \"full\"", nameof(level)),
    };

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath { get; }

    /// <summary>How long a statement waits for another process's lock.</summary>
    public int BusyTimeoutMilliseconds { get; }

    public override string Name => "sqlite";

    /// <summary>A deferred transaction: its snapshot starts at its first read, and it never takes the write lock.</summary>
    public override Task<DbTransaction> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: true));

    public override DbDataSource DataSource => _dataSource;

    public override int CommandTimeoutSeconds { get; }

    public override bool LocksRows => false;

    public override bool CachesPreparedCommands => true;

    public override string ListTablesSql => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'";

    /// <summary>
    /// Writes a consistent copy of the database to <paramref name="targetPath"/> (<c>VACUUM INTO</c>: one read transaction,
    /// so a server writing the file meanwhile keeps serving and the copy is as of one commit).
    /// </summary>
    public async Task VacuumIntoAsync(string targetPath, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "VACUUM INTO @target";
            command.CommandTimeout = 0;
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@target";
            parameter.Value = targetPath;
            command.Parameters.Add(parameter);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A busy database has already been waited for (the busy timeout); running the call again would wait again.</summary>
    public override int MaxAttempts => 1;

    protected override DbSessionSource CreateSessions() => new SqliteSessionSource(_dataSource);

    public override string UnavailableMessage(DbFailure failure) => failure is DbFailure.DiskFull
        ? $"the disk of the metadata database {DatabasePath} is full; writes fail until space is freed there (reads go on)"
        : $"the metadata database is locked by another process and stayed locked for {BusyTimeoutMilliseconds} ms; retry later";

    public override string InsertIfAbsent(string table, string columns, string values, string keyColumns) =>
        $"INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT ({keyColumns}) DO NOTHING";

    public override string Upsert(string table, string columns, string values, string keyColumns, params string[] updateColumns) =>
        $"INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT ({keyColumns}) DO UPDATE SET "
        + string.Join(", ", updateColumns.Select(column => $"{column} = excluded.{column}"));

    protected override string BuildUpsertSeries(int rows) =>
        $"INSERT INTO metric_series (parent_id, \"key\", point_count) VALUES {SeriesValues(rows)} "
        + "ON CONFLICT (parent_id, \"key\") DO UPDATE SET point_count = metric_series.point_count + excluded.point_count "
        + "RETURNING id, parent_id, \"key\", point_count";

    /// <summary>A row-value comparison, which SQLite turns into one index range.</summary>
    public override string KeysetAfter(bool greater, params (string Column, string Parameter)[] key) =>
        $"({string.Join(", ", key.Select(k => k.Column))}) {(greater ? ">" : "<")} ({string.Join(", ", key.Select(k => k.Parameter))})";

    // json_extract answers a JSON number beyond a double's range as an infinite REAL, which compares like the largest double.
    public override string JsonNumber(string jsonColumn) =>
        $"CASE WHEN json_type({jsonColumn}) IN ('integer', 'real') THEN json_extract({jsonColumn}, '$') END";

    public override string JsonString(string jsonColumn) =>
        $"CASE WHEN json_type({jsonColumn}) = 'text' THEN json_extract({jsonColumn}, '$') END";

    public override string JsonBoolean(string jsonColumn) =>
        $"CASE WHEN json_type({jsonColumn}) IN ('true', 'false') THEN json_type({jsonColumn}) END";

    /// <summary>SQLite reads a literal beyond a double's range as an infinite REAL.</summary>
    public override (string Positive, string Negative) InfinityLiterals => ("9e999", "-9e999");

    /// <summary>The writer holds the database lock (BEGIN IMMEDIATE), so the rowid the insert assigns (the largest plus one) is
    /// the next sequence, in commit order: nothing to reserve.</summary>
    public override Task<long?> ReserveSequencesAsync(
        DbConnection connection, DbTransaction transaction, int count, CancellationToken cancellationToken) =>
        Task.FromResult<long?>(null);

    /// <summary>
    /// One prepared INSERT bound by position through SQLite's C API: Microsoft.Data.Sqlite looks every parameter up by name
    /// on every execution, which costs more than the insert itself at ingest rates (metrics-ingest measures it).
    /// </summary>
    // Positional binds through the C API: Microsoft.Data.Sqlite looks each named parameter up one by one, and a prepared
    // statement run once a row costs microseconds in process.
    public override Task InsertNumericRowsAsync(
        DbConnection connection, DbTransaction transaction, string table, IReadOnlyList<string> columns, IReadOnlyList<object[]> rows,
        CancellationToken cancellationToken, int keyColumns = 0)
    {
        var database = ((SqliteConnection)connection).Handle!;
        var sql = NumericRowsSql(table, columns, string.Join(", ", Enumerable.Range(1, columns.Count).Select(i => "?" + i)), keyColumns);
        var rc = raw.sqlite3_prepare_v2(database, sql, out var statement);
        SqliteException.ThrowExceptionForRC(rc, database);
        using (statement)
        {
            foreach (var row in rows)
            {
                for (var c = 0; c < row.Length; c++)
                {
                    _ = row[c] switch
                    {
                        long integer => raw.sqlite3_bind_int64(statement, c + 1, integer),
                        double real => raw.sqlite3_bind_double(statement, c + 1, real),
                        _ => throw new ArgumentException($"column {columns[c]} holds neither a long nor a double", nameof(rows)),
                    };
                }

                rc = raw.sqlite3_step(statement);
                raw.sqlite3_reset(statement);
                if (rc != raw.SQLITE_DONE)
                {
                    SqliteException.ThrowExceptionForRC(rc, database);
                }
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        return Task.CompletedTask;
    }

    /// <summary>
    /// The series upsert bound by position through SQLite's C API (its parameters are numbered in the order they appear:
    /// <c>@p{i}</c>, <c>@k{i}</c>, <c>@c{i}</c> are 3i+1, 3i+2, 3i+3), for the reason given at <see cref="InsertPointsAsync"/>.
    /// </summary>
    public override Task<List<(long Id, string Parent, string Key, long PointCount)>> UpsertSeriesAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyList<(string Parent, string Key, long Count)> series, CancellationToken cancellationToken)
    {
        var database = ((SqliteConnection)connection).Handle!;
        var rc = raw.sqlite3_prepare_v2(database, UpsertSeriesSql(series.Count), out var statement);
        SqliteException.ThrowExceptionForRC(rc, database);
        var rows = new List<(long Id, string Parent, string Key, long PointCount)>(series.Count);
        using (statement)
        {
            if (raw.sqlite3_bind_parameter_count(statement) != 3 * series.Count
                || raw.sqlite3_bind_parameter_name(statement, 3 * series.Count).utf8_to_string() != $"@c{series.Count - 1}")
            {
                throw new InvalidOperationException("the series upsert's parameters are not numbered as bound");
            }

            for (var i = 0; i < series.Count; i++)
            {
                raw.sqlite3_bind_text(statement, (3 * i) + 1, series[i].Parent);
                raw.sqlite3_bind_text(statement, (3 * i) + 2, series[i].Key);
                raw.sqlite3_bind_int64(statement, (3 * i) + 3, series[i].Count);
            }

            while ((rc = raw.sqlite3_step(statement)) == raw.SQLITE_ROW)
            {
                rows.Add((
                    raw.sqlite3_column_int64(statement, 0),
                    raw.sqlite3_column_text(statement, 1).utf8_to_string(),
                    raw.sqlite3_column_text(statement, 2).utf8_to_string(),
                    raw.sqlite3_column_int64(statement, 3)));
            }

            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, database);
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(rows);
    }

    public override Task InsertPointsAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyList<PointRow> points, CancellationToken cancellationToken)
    {
        var database = ((SqliteConnection)connection).Handle!;
        var rc = raw.sqlite3_prepare_v2(database, InsertPointSql, out var statement);
        SqliteException.ThrowExceptionForRC(rc, database);
        using (statement)
        {
            foreach (var point in points)
            {
                raw.sqlite3_bind_int64(statement, 1, point.SeriesId);
                raw.sqlite3_bind_int64(statement, 2, point.Step);
                raw.sqlite3_bind_int64(statement, 3, point.Time);
                raw.sqlite3_bind_int64(statement, 4, point.Seq);
                raw.sqlite3_bind_int(statement, 5, point.Kind);
                _ = point.Num is { } num ? raw.sqlite3_bind_double(statement, 6, num) : raw.sqlite3_bind_null(statement, 6);
                _ = point.Txt is { } txt ? raw.sqlite3_bind_text(statement, 7, txt) : raw.sqlite3_bind_null(statement, 7);
                _ = point.Bin is { } bin ? raw.sqlite3_bind_blob(statement, 8, bin) : raw.sqlite3_bind_null(statement, 8);
                raw.sqlite3_bind_int(statement, 9, point.Millis);
                rc = raw.sqlite3_step(statement);
                raw.sqlite3_reset(statement);
                if (rc != raw.SQLITE_DONE)
                {
                    SqliteException.ThrowExceptionForRC(rc, database);
                }
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        return Task.CompletedTask;
    }

    /// <summary>SQLITE_FULL: the device is full, or the process may not grow the file (a quota, RLIMIT_FSIZE).</summary>
    public override DbFailure Classify(Exception exception) => exception switch
    {
        SqliteException { SqliteErrorCode: SqliteBusy or SqliteLocked } => DbFailure.Unavailable,
        SqliteException { SqliteErrorCode: SqliteFull } => DbFailure.DiskFull,
        _ => DbFailure.Other,
    };

    /// <summary>Nothing to forget: a file does not restart.</summary>
    public override void ClearPool()
    {
    }

    public override void ConfigureMigrationRunner(IMigrationRunnerBuilder runner)
    {
        runner.AddSQLite().WithGlobalConnectionString(_dataSource.ConnectionString);
        runner.Services.AddScoped<SQLiteDbFactory, MicrosoftDataSqliteDbFactory>();
    }

    /// <summary>SQLite's file lock orders migrating processes; the migrator runs each migration in a transaction.</summary>
    public override Task AcquireMigrationLockAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    public override Task ReleaseMigrationLockAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    public override async Task<bool> VersionTableExistsAsync(DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $name";
        command.Parameters.Add(new SqliteParameter("$name", SchemaMigrations.VersionTable));
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! > 0;
    }

    public override string Describe() => DatabasePath;

    public async ValueTask DisposeAsync()
    {
        await Sessions.DisposeAsync().ConfigureAwait(false);
        await _dataSource.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// FluentMigrator's SQLite factory probes System.Data.SQLite and Mono.Data.Sqlite by reflection before it finds
    /// Microsoft.Data.Sqlite; pin the provider the store opens its own connections with.
    /// </summary>
    private sealed class MicrosoftDataSqliteDbFactory(IServiceProvider serviceProvider) : SQLiteDbFactory(serviceProvider)
    {
        protected override DbProviderFactory CreateFactory() => SqliteFactory.Instance;
    }
}
