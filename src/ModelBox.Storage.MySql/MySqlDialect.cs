using System.Data.Common;
using System.Globalization;
using FluentMigrator.Runner;
using FluentMigrator.Runner.Processors.MySql;
using Microsoft.Extensions.DependencyInjection;
using ModelBox.Storage.Relational;
using MySqlConnector;

namespace ModelBox.Storage.MySql;

/// <summary>
/// MySQL and MariaDB: backquoted identifiers, ON DUPLICATE KEY UPDATE (with affected rows, not found rows, so a no-op
/// reads as 0), LAST_INSERT_ID(expr) for the change counter, multi-row INSERTs for metric points, GET_LOCK for migrations.
/// </summary>
public sealed class MySqlDialect : SqlDialect, IAsyncDisposable
{
    /// <summary>Rows per multi-row INSERT of metric points (8 values a row; measured in bench metrics-bulk).</summary>
    internal const int PointsPerInsert = 1000;

    private const string MigrationLock = "modelbox-migrations";

    private readonly MySqlDataSource _dataSource;
    private readonly string _description;

    public MySqlDialect(MySqlStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.ConnectionString, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxPoolSize, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.StatementTimeoutSeconds, nameof(options));
        var builder = new MySqlConnectionStringBuilder(options.ConnectionString)
        {
            MaximumPoolSize = (uint)options.MaxPoolSize,
            DefaultCommandTimeout = (uint)options.StatementTimeoutSeconds,
            // "0 rows affected" must mean "the row was there" for insert-if-absent.
            UseAffectedRows = true,
        };
        ConnectionString = builder.ConnectionString;
        CommandTimeoutSeconds = options.StatementTimeoutSeconds;
        _dataSource = new MySqlDataSource(ConnectionString);
        _description = $"{builder.Server}:{builder.Port}/{builder.Database}";
    }

    public override string Name => "mysql";

    public override DbDataSource DataSource => _dataSource;

    public override int CommandTimeoutSeconds { get; }

    internal string ConnectionString { get; }

    /// <summary>The stores quote reserved identifiers the ANSI way; MySQL wants backquotes (no store SQL has a string
    /// literal with a double quote in it).</summary>
    protected override string Translate(string sql) => sql.Replace('"', '`');

    public override string ListTablesSql =>
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'";

    // CAST AS DOUBLE saturates at the largest double; JSON_TYPE names integers and decimals apart.
    public override string JsonNumber(string jsonColumn) =>
        $"CASE WHEN JSON_TYPE({jsonColumn}) IN ('INTEGER', 'UNSIGNED INTEGER', 'DOUBLE', 'DECIMAL') THEN CAST(JSON_EXTRACT({jsonColumn}, '$') AS DOUBLE) END";

    // JSON_UNQUOTE answers in utf8mb4_bin whatever the column's collation, and that collation is PAD SPACE ("a" = "a ");
    // as a binary string every byte counts, and UTF-8 byte order is the code point order of the other backends.
    public override string JsonString(string jsonColumn) =>
        $"CAST(CASE WHEN JSON_TYPE({jsonColumn}) = 'STRING' THEN JSON_UNQUOTE(JSON_EXTRACT({jsonColumn}, '$')) END AS BINARY)";

    public override string JsonBoolean(string jsonColumn) =>
        $"CASE WHEN JSON_TYPE({jsonColumn}) = 'BOOLEAN' THEN JSON_UNQUOTE(JSON_EXTRACT({jsonColumn}, '$')) END";

    public override (string Positive, string Negative) InfinityLiterals => ("1.7976931348623157e308", "-1.7976931348623157e308");

    public override string InsertIfAbsent(string table, string columns, string values, string keyColumns)
    {
        // A no-op update on a duplicate (INSERT IGNORE would also swallow foreign-key and data errors).
        var key = keyColumns.Split(',')[0].Trim();
        return $"INSERT INTO {table} ({columns}) VALUES ({values}) ON DUPLICATE KEY UPDATE {key} = {key}";
    }

    public override string Upsert(string table, string columns, string values, string keyColumns, params string[] updateColumns) =>
        $"INSERT INTO {table} ({columns}) VALUES ({values}) ON DUPLICATE KEY UPDATE "
        + string.Join(", ", updateColumns.Select(column => $"{column} = VALUES({column})"));

    /// <summary>MySQL has no RETURNING: the upsert and a read of the rows it just locked go in one command (one round trip).
    /// The read sees the rows as this transaction left them: its own changes are visible to its snapshot.</summary>
    protected override string BuildUpsertSeries(int rows) =>
        $"INSERT INTO metric_series (parent_id, \"key\", point_count) VALUES {SeriesValues(rows)} "
        + "ON DUPLICATE KEY UPDATE point_count = point_count + VALUES(point_count); "
        + "SELECT id, parent_id, \"key\", point_count FROM metric_series WHERE "
        + string.Join(" OR ", Enumerable.Range(0, rows).Select(i => $"(parent_id = @p{i} AND \"key\" = @k{i})"));

    public override async Task<long?> ReserveSequencesAsync(
        DbConnection connection, DbTransaction transaction, int count, CancellationToken cancellationToken)
    {
        // LAST_INSERT_ID(expr) remembers the new value for this connection: no second read of the row.
        await using var command = new MySqlCommand(
            "UPDATE change_counter SET value = LAST_INSERT_ID(value + @Count) WHERE id = 1; SELECT LAST_INSERT_ID();",
            (MySqlConnection)connection,
            (MySqlTransaction)transaction);
        command.Parameters.AddWithValue("@Count", count);
        command.CommandTimeout = CommandTimeoutSeconds;
        var last = Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
        return last - count + 1;
    }

    /// <summary>
    /// Multi-row INSERTs with the numbers written into the statement text (integers, and doubles in exponent form with 17
    /// significant digits, which MySQL parses back to the same double): MySqlConnector substitutes parameters on the client,
    /// and 8,000 parameter objects per statement cost more than the insert. Text and bytes stay parameters.
    /// </summary>
    public override async Task InsertPointsAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyList<PointRow> points, CancellationToken cancellationToken)
    {
        var sql = new System.Text.StringBuilder();
        for (var start = 0; start < points.Count; start += PointsPerInsert)
        {
            var count = Math.Min(PointsPerInsert, points.Count - start);
            await using var command = new MySqlCommand { Connection = (MySqlConnection)connection, Transaction = (MySqlTransaction)transaction, CommandTimeout = CommandTimeoutSeconds };
            sql.Clear().Append("INSERT INTO metric_points (series_id, step, `time`, seq, kind, num, txt, bin, millis) VALUES ");
            for (var i = 0; i < count; i++)
            {
                var point = points[start + i];
                sql.Append(i == 0 ? "(" : ",(")
                    .Append(CultureInfo.InvariantCulture, $"{point.SeriesId},{point.Step},{point.Time},{point.Seq},{point.Kind},");
                if (point.Num is { } num)
                {
                    sql.Append(num.ToString("E16", CultureInfo.InvariantCulture));
                }
                else
                {
                    sql.Append("NULL");
                }

                if (point.Txt is { } text)
                {
                    sql.Append(CultureInfo.InvariantCulture, $",@t{i}");
                    command.Parameters.AddWithValue("@t" + i.ToString(CultureInfo.InvariantCulture), text);
                }
                else
                {
                    sql.Append(",NULL");
                }

                if (point.Bin is { } bytes)
                {
                    sql.Append(CultureInfo.InvariantCulture, $",@b{i}");
                    command.Parameters.AddWithValue("@b" + i.ToString(CultureInfo.InvariantCulture), bytes);
                }
                else
                {
                    sql.Append(",NULL");
                }

                sql.Append(CultureInfo.InvariantCulture, $",{point.Millis})");
            }

            command.CommandText = sql.ToString();
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public override DbFailure Classify(Exception exception) => exception switch
    {
        MySqlException { ErrorCode: MySqlErrorCode.LockDeadlock or MySqlErrorCode.LockWaitTimeout } => DbFailure.Retry,
        MySqlException { ErrorCode: MySqlErrorCode.CommandTimeoutExpired or MySqlErrorCode.QueryInterrupted } => DbFailure.Timeout,
        MySqlException { ErrorCode: MySqlErrorCode.RecordFileFull or MySqlErrorCode.DiskFull } => DbFailure.DiskFull,
        MySqlException { ErrorCode: MySqlErrorCode.UnableToConnectToHost or MySqlErrorCode.ServerShutdown or MySqlErrorCode.ConnectionCountError
            or MySqlErrorCode.TooManyUserConnections } => DbFailure.Unavailable,
        MySqlException { IsTransient: true } => DbFailure.Unavailable,
        MySqlException { InnerException: IOException or System.Net.Sockets.SocketException or EndOfStreamException } => DbFailure.Unavailable,
        MySqlEndOfStreamException or EndOfStreamException => DbFailure.Unavailable,
        // MySqlConnector lets a socket error on a pooled connection through unwrapped (seen on BEGIN after mariadbd was
        // killed: "Connection reset by peer"). Only a socket error: an IOException may be the caller's own work inside the
        // transaction (a blob store's disk), which is not the database being away.
        System.Net.Sockets.SocketException => DbFailure.Unavailable,
        _ => DbFailure.Other,
    };

    public override void ClearPool() => MySqlConnection.ClearAllPools();

    public override void ConfigureMigrationRunner(IMigrationRunnerBuilder runner)
    {
        runner.AddMySql5().WithGlobalConnectionString(ConnectionString);
        runner.Services.AddScoped<MySqlDbFactory, MySqlConnectorDbFactory>();
    }

    public override async Task AcquireMigrationLockAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new MySqlCommand($"SELECT GET_LOCK('{MigrationLock}', 600)", (MySqlConnection)connection) { CommandTimeout = 0 };
        if (Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture) != 1)
        {
            throw new InvalidOperationException("another ModelBox held the migration lock for 10 minutes");
        }
    }

    public override async Task ReleaseMigrationLockAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new MySqlCommand($"SELECT RELEASE_LOCK('{MigrationLock}')", (MySqlConnection)connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async Task<bool> VersionTableExistsAsync(DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var command = new MySqlCommand(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = @Name",
            (MySqlConnection)connection,
            (MySqlTransaction?)transaction);
        command.Parameters.AddWithValue("@Name", Migrations.SchemaMigrations.VersionTable);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture) > 0;
    }

    public override string Describe() => _description;

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    /// <summary>FluentMigrator looks for MySql.Data by reflection; pin the driver this backend uses.</summary>
    private sealed class MySqlConnectorDbFactory(IServiceProvider serviceProvider) : MySqlDbFactory(serviceProvider)
    {
        protected override DbProviderFactory CreateFactory() => MySqlConnectorFactory.Instance;
    }
}
