using System.Data.Common;
using FluentMigrator.Runner;
using ModelBox.Storage.Relational;
using Npgsql;
using NpgsqlTypes;

namespace ModelBox.Storage.Postgres;

/// <summary>PostgreSQL: ON CONFLICT, RETURNING, row-value keysets, binary COPY, NOTIFY, advisory locks.</summary>
public sealed class PostgresDialect : SqlDialect, IAsyncDisposable
{
    /// <summary>The channel replicas NOTIFY on; the payload is the namespace that changed.</summary>
    public const string ChangeChannel = "modelbox_changes";

    /// <summary>Below this many points a multi-row INSERT beats starting a COPY.</summary>
    private const int CopyThreshold = 64;

    private const long MigrationLockKey = 0x6D6F_6465_6C62_6F78; // "modelbox"

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _description;

    public PostgresDialect(PostgresStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.ConnectionString, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxPoolSize, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.StatementTimeoutSeconds, nameof(options));
        var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString)
        {
            MaxPoolSize = options.MaxPoolSize,
            // The client gives up a little after the server would have cancelled the statement itself.
            CommandTimeout = options.StatementTimeoutSeconds == 0 ? 0 : options.StatementTimeoutSeconds + 5,
            // The store runs a small fixed set of statements: Npgsql prepares the ones used repeatedly on each physical
            // connection, so PostgreSQL parses and plans them once (SQLite's dialect keeps its own per-connection cache).
            MaxAutoPrepare = 64,
            AutoPrepareMinUsages = 2,
        };
        if (options.StatementTimeoutSeconds > 0)
        {
            builder.Options = ((builder.Options ?? string.Empty) + $" -c statement_timeout={options.StatementTimeoutSeconds * 1000}").Trim();
        }

        ConnectionString = builder.ConnectionString;
        CommandTimeoutSeconds = builder.CommandTimeout;
        _dataSource = NpgsqlDataSource.Create(builder);
        _description = $"{builder.Host}:{builder.Port}/{builder.Database}";
    }

    public override string Name => "postgres";

    public override DbDataSource DataSource => _dataSource;

    public override int CommandTimeoutSeconds { get; }

    /// <summary>The full connection string (with password), for the migrator and the change listener.</summary>
    internal string ConnectionString { get; }

    public override string InsertIfAbsent(string table, string columns, string values, string keyColumns) =>
        $"INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT ({keyColumns}) DO NOTHING";

    public override string Upsert(string table, string columns, string values, string keyColumns, params string[] updateColumns) =>
        $"INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT ({keyColumns}) DO UPDATE SET "
        + string.Join(", ", updateColumns.Select(column => $"{column} = EXCLUDED.{column}"));

    protected override string BuildUpsertSeries(int rows) =>
        $"INSERT INTO metric_series (parent_id, \"key\", point_count) VALUES {SeriesValues(rows)} "
        + "ON CONFLICT (parent_id, \"key\") DO UPDATE SET point_count = metric_series.point_count + EXCLUDED.point_count "
        + "RETURNING id, parent_id, \"key\", point_count";

    /// <summary>A row-value comparison, which PostgreSQL turns into one index range.</summary>
    public override string KeysetAfter(bool greater, params (string Column, string Parameter)[] key) =>
        $"({string.Join(", ", key.Select(k => k.Column))}) {(greater ? ">" : "<")} ({string.Join(", ", key.Select(k => k.Parameter))})";

    public override string InList(string column, string parameter) => $"{column} = ANY({parameter})";

    /// <summary>Collation "C": byte order whatever the database's locale.</summary>
    public override string BinaryText(string expression) => $"{expression} COLLATE \"C\"";

    // Stored values are JSON documents, so the first character after JSON whitespace tells the type without parsing the
    // document as jsonb (half the cost per row, measured with bench search): '-' or a digit is a number, and every JSON
    // number is valid numeric input. The cast from numeric to double fails where a double would be infinite or round to
    // zero, so those magnitudes become the largest double and 0 first (1e400, 1e-400 must not fail the whole search).
    private static string JsonFirst(string jsonColumn) => $"left(ltrim({jsonColumn}, E' \\t\\n\\r'), 1)";

    public override string JsonNumber(string jsonColumn) =>
        $"CASE WHEN {JsonFirst(jsonColumn)} IN ('-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9') THEN CAST("
        + $"CASE WHEN abs(CAST({jsonColumn} AS numeric)) <= 2.4703282292062328e-324 THEN 0 "
        + $"ELSE LEAST(GREATEST(CAST({jsonColumn} AS numeric), -1.7976931348623157e308), 1.7976931348623157e308) END AS double precision) END";

    // Only strings are parsed (to undo JSON escapes).
    public override string JsonString(string jsonColumn) =>
        $"(CASE WHEN {JsonFirst(jsonColumn)} = '\"' THEN CAST({jsonColumn} AS jsonb) #>> '{{}}' END) COLLATE \"C\"";

    public override string JsonBoolean(string jsonColumn) =>
        $"CASE WHEN btrim({jsonColumn}, E' \\t\\n\\r') IN ('true', 'false') THEN btrim({jsonColumn}, E' \\t\\n\\r') END";

    public override (string Positive, string Negative) InfinityLiterals =>
        ("CAST('Infinity' AS double precision)", "CAST('-Infinity' AS double precision)");

    public override async Task<long?> ReserveSequencesAsync(
        DbConnection connection, DbTransaction transaction, int count, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "UPDATE change_counter SET value = value + $1 WHERE id = 1 RETURNING value", (NpgsqlConnection)connection, (NpgsqlTransaction)transaction);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = count });
        var last = (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        return last - count + 1;
    }

    /// <summary>NOTIFY inside the transaction: PostgreSQL delivers it at commit, and drops it on rollback.</summary>
    public override async Task NotifyChangesAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyCollection<string> namespaces, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"SELECT pg_notify('{ChangeChannel}', n) FROM unnest($1) AS n", (NpgsqlConnection)connection, (NpgsqlTransaction)transaction);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. namespaces] });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async Task InsertPointsAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyList<PointRow> points, CancellationToken cancellationToken)
    {
        if (points.Count < CopyThreshold)
        {
            await InsertPointsByValuesAsync(connection, transaction, points, CopyThreshold, cancellationToken).ConfigureAwait(false);
            return;
        }

        await CopyPointsAsync((NpgsqlConnection)connection, points, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// One statement whatever the number of rows: a column array per parameter, spread by <c>unnest</c> (the statement
    /// text stays the same, so Npgsql prepares it once per connection, and no per-row parameters are parsed or bound).
    /// </summary>
    public override async Task InsertNumericRowsAsync(
        DbConnection connection, DbTransaction transaction, string table, IReadOnlyList<string> columns, IReadOnlyList<object[]> rows,
        CancellationToken cancellationToken, int keyColumns = 0)
    {
        if (rows.Count == 0)
        {
            return;
        }

        if (keyColumns == 0 && rows.Count >= CopyThreshold)
        {
            await CopyNumericRowsAsync((NpgsqlConnection)connection, table, columns, rows, cancellationToken).ConfigureAwait(false);
            return;
        }

        await using var command = ((NpgsqlConnection)connection).CreateCommand();
        command.Transaction = (NpgsqlTransaction)transaction;
        command.CommandTimeout = CommandTimeoutSeconds;
        var arrays = new List<string>(columns.Count);
        for (var c = 0; c < columns.Count; c++)
        {
            if (rows[0][c] is long)
            {
                command.Parameters.Add(new NpgsqlParameter<long[]>($"a{c}", rows.Select(row => (long)row[c]).ToArray()));
                arrays.Add($"@a{c}::bigint[]");
            }
            else
            {
                command.Parameters.Add(new NpgsqlParameter<double[]>($"a{c}", rows.Select(row => (double)row[c]).ToArray()));
                arrays.Add($"@a{c}::double precision[]");
            }
        }

        var list = string.Join(", ", columns);
        var sql = $"INSERT INTO {table} ({list}) SELECT * FROM unnest({string.Join(", ", arrays)})";
        if (keyColumns > 0)
        {
            sql += $" ON CONFLICT ({string.Join(", ", columns.Take(keyColumns))}) DO UPDATE SET "
                + string.Join(", ", columns.Skip(keyColumns).Select(column => $"{column} = EXCLUDED.{column}"));
        }

        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>New rows of longs and doubles by binary COPY (no conflict check: the caller knows the keys are new).</summary>
    private static async Task CopyNumericRowsAsync(
        NpgsqlConnection connection, string table, IReadOnlyList<string> columns, IReadOnlyList<object[]> rows, CancellationToken cancellationToken)
    {
        var importer = await connection.BeginBinaryImportAsync(
            $"COPY {table} ({string.Join(", ", columns)}) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false);
        await using (importer.ConfigureAwait(false))
        {
            foreach (var row in rows)
            {
                await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                for (var c = 0; c < row.Length; c++)
                {
                    await (row[c] switch
                    {
                        long integer => importer.WriteAsync(integer, NpgsqlDbType.Bigint, cancellationToken),
                        double real => importer.WriteAsync(real, NpgsqlDbType.Double, cancellationToken),
                        _ => throw new ArgumentException($"column {columns[c]} holds neither a long nor a double", nameof(rows)),
                    }).ConfigureAwait(false);
                }
            }

            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public override string OverridingIdentity => " OVERRIDING SYSTEM VALUE";

    public override async Task ResetIdentityAsync(
        DbConnection connection, DbTransaction transaction, string table, string column, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), COALESCE(MAX(\"{column}\"), 0) + 1, false) FROM \"{table}\"",
            (NpgsqlConnection)connection, (NpgsqlTransaction)transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The raw binary COPY of point rows (also the benchmark's baseline).</summary>
    internal static async Task CopyPointsAsync(NpgsqlConnection connection, IReadOnlyList<PointRow> points, CancellationToken cancellationToken)
    {
        var importer = await connection.BeginBinaryImportAsync(
            "COPY metric_points (series_id, step, \"time\", seq, kind, num, txt, bin, millis) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false);
        await using (importer.ConfigureAwait(false))
        {
            foreach (var point in points)
            {
                await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(point.SeriesId, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(point.Step, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(point.Time, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(point.Seq, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(point.Kind, NpgsqlDbType.Smallint, cancellationToken).ConfigureAwait(false);
                if (point.Num is { } num)
                {
                    await importer.WriteAsync(num, NpgsqlDbType.Double, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await importer.WriteNullAsync(cancellationToken).ConfigureAwait(false);
                }

                if (point.Txt is { } txt)
                {
                    await importer.WriteAsync(txt, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await importer.WriteNullAsync(cancellationToken).ConfigureAwait(false);
                }

                if (point.Bin is { } bin)
                {
                    await importer.WriteAsync(bin, NpgsqlDbType.Bytea, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await importer.WriteNullAsync(cancellationToken).ConfigureAwait(false);
                }

                await importer.WriteAsync(point.Millis, NpgsqlDbType.Smallint, cancellationToken).ConfigureAwait(false);
            }

            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    protected override void AddParameter(DbCommand command, string name, object? value)
    {
        // Typed NULLs: an untyped NULL in a VALUES list leaves PostgreSQL to guess, and it guesses text.
        var parameter = value switch
        {
            null when name.StartsWith("@f", StringComparison.Ordinal) => new NpgsqlParameter(name, NpgsqlDbType.Double) { Value = DBNull.Value },
            null when name.StartsWith("@h", StringComparison.Ordinal) => new NpgsqlParameter(name, NpgsqlDbType.Bytea) { Value = DBNull.Value },
            null => new NpgsqlParameter(name, NpgsqlDbType.Text) { Value = DBNull.Value },
            _ => new NpgsqlParameter(name, value),
        };
        command.Parameters.Add(parameter);
    }

    public override DbFailure Classify(Exception exception) => exception switch
    {
        PostgresException { SqlState: PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected } => DbFailure.Retry,
        PostgresException { SqlState: PostgresErrorCodes.QueryCanceled } => DbFailure.Timeout,
        PostgresException { SqlState: PostgresErrorCodes.DiskFull } => DbFailure.DiskFull,
        PostgresException postgres when postgres.SqlState.StartsWith("08", StringComparison.Ordinal)
            || postgres.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow
                or PostgresErrorCodes.TooManyConnections or PostgresErrorCodes.ReadOnlySqlTransaction => DbFailure.Unavailable,
        PostgresException => DbFailure.Other,
        NpgsqlException { InnerException: TimeoutException } => DbFailure.Timeout,
        NpgsqlException npgsql when npgsql.IsTransient => DbFailure.Unavailable,
        NpgsqlException { InnerException: System.Net.Sockets.SocketException or IOException } => DbFailure.Unavailable,
        _ => DbFailure.Other,
    };

    public override void ClearPool() => _dataSource.Clear();

    public override void ConfigureMigrationRunner(IMigrationRunnerBuilder runner) =>
        runner.AddPostgres().WithGlobalConnectionString(ConnectionString);

    public override async Task AcquireMigrationLockAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"SELECT pg_advisory_lock({MigrationLockKey})", (NpgsqlConnection)connection);
        command.CommandTimeout = 0;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async Task ReleaseMigrationLockAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"SELECT pg_advisory_unlock({MigrationLockKey})", (NpgsqlConnection)connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async Task<bool> VersionTableExistsAsync(DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"SELECT to_regclass('\"{Migrations.SchemaMigrations.VersionTable}\"') IS NOT NULL", (NpgsqlConnection)connection);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    public override string Describe() => _description;

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
