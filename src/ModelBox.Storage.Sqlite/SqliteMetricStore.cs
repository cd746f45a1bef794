using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SQLitePCL;
using ModelBox.Domain;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.Sqlite;

/// <summary>
/// Metric series in the embedded SQLite file, next to the metadata (same connections, same writer lock).
/// Appends go through a group-commit writer: every request queues its batch and awaits it; one writer task drains
/// whatever is queued into one transaction (up to <see cref="MaxGroupPoints"/> points) and completes each request
/// once that transaction has committed, so an acknowledged point is a committed point. SQLite's single writer then
/// pays one commit for many requests, and the inserts run on one connection with one prepared statement.
/// </summary>
public sealed class SqliteMetricStore : IMetricStore, IAsyncDisposable
{
    /// <summary>The most points one group transaction takes, so one commit never holds the writer lock for long.</summary>
    public const int MaxGroupPoints = 100_000;

    private const string UpsertSeriesSql =
        "INSERT INTO metric_series (parent_id, key, point_count) VALUES ($parent, $key, $count) "
        + "ON CONFLICT (parent_id, key) DO UPDATE SET point_count = point_count + excluded.point_count RETURNING id, point_count";

    private const string InsertPointSql =
        "INSERT INTO metric_points (series_id, step, time, seq, kind, num, txt, bin) VALUES ($series, $step, $time, $seq, $kind, $num, $txt, $bin)";

    private const string PointColumns = "step, time, kind, num, txt, bin, seq";

    private readonly SqliteMetadataStore _database;
    private readonly ILogger _logger;
    private readonly Channel<PendingAppend> _pending = Channel.CreateUnbounded<PendingAppend>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });
    private readonly Task _writer;

    public SqliteMetricStore(SqliteMetadataStore database, ILoggerFactory? loggerFactory = null)
    {
        _database = database ?? throw new ArgumentNullException(nameof(database));
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<SqliteMetricStore>();
        _writer = Task.Run(WriteLoopAsync);
    }

    public async Task<long> AppendAsync(IReadOnlyList<MetricSeriesPoints> batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        long count = 0;
        foreach (var series in batch)
        {
            count += series.Points.Count;
        }

        if (count == 0)
        {
            return 0;
        }

        var pending = new PendingAppend(batch, count);
        if (!_pending.Writer.TryWrite(pending))
        {
            throw new ModelBoxException(ErrorKind.Unavailable, "the metric store is shutting down; retry on another server or later");
        }

        // Cancelling stops the wait, not the write: a queued batch is committed (or fails) with its group.
        await pending.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return count;
    }

    public Task<IReadOnlyList<MetricSeries>> ReadAllAsync(string parentId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parentId);
        return _database.ReadSnapshotAsync<IReadOnlyList<MetricSeries>>(
            async (connection, transaction) =>
            {
                await using var command = Command(connection, transaction,
                    $"SELECT s.key, {Qualified("p")} FROM metric_series s JOIN metric_points p ON p.series_id = s.id "
                    + "WHERE s.parent_id = $parent ORDER BY s.key, p.step, p.time, p.seq");
                command.Parameters.AddWithValue("$parent", parentId);
                var result = new List<MetricSeries>();
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                string? key = null;
                List<MetricPoint>? points = null;
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var rowKey = reader.GetString(0);
                    if (!string.Equals(rowKey, key, StringComparison.Ordinal))
                    {
                        key = rowKey;
                        points = [];
                        result.Add(new MetricSeries(key, points));
                    }

                    points!.Add(ReadPoint(reader, 1));
                }

                return result;
            },
            cancellationToken);
    }

    public Task ScanAsync(
        string parentId, string key, long fromStep, long toStep, IMetricPointScanner scanner, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scanner);
        return _database.ReadSnapshotAsync(
            async (connection, transaction) =>
            {
                if (await FindSeriesAsync(connection, transaction, parentId, key, cancellationToken).ConfigureAwait(false) is not { } seriesId)
                {
                    return false;
                }

                var first = await EdgeStepAsync(connection, transaction, seriesId, fromStep, toStep, "ASC", cancellationToken).ConfigureAwait(false);
                var last = await EdgeStepAsync(connection, transaction, seriesId, fromStep, toStep, "DESC", cancellationToken).ConfigureAwait(false);
                if (first is null || last is null)
                {
                    return false;
                }

                scanner.Begin(first.Value, last.Value);
                await using var command = Command(connection, transaction,
                    $"SELECT {PointColumns} FROM metric_points WHERE series_id = $series AND step BETWEEN $from AND $to ORDER BY step, time, seq");
                command.Parameters.AddWithValue("$series", seriesId);
                command.Parameters.AddWithValue("$from", fromStep);
                command.Parameters.AddWithValue("$to", toStep);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                // Synchronous reads: Microsoft.Data.Sqlite's async read is synchronous underneath, and a million awaits cost more than the rows.
                while (reader.Read())
                {
                    scanner.Add(ReadPoint(reader, 0));
                }

                cancellationToken.ThrowIfCancellationRequested();
                return true;
            },
            cancellationToken);
    }

    public Task<Page<MetricPoint>> ReadPageAsync(string parentId, string key, PageRequest page, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(page);
        if (page.Limit is not > 0)
        {
            throw new ArgumentException("a metric page needs a positive limit", nameof(page));
        }

        var after = Cursor(page.Token);
        var limit = page.Limit.Value;
        return _database.ReadSnapshotAsync(
            async (connection, transaction) =>
            {
                if (await FindSeriesAsync(connection, transaction, parentId, key, cancellationToken).ConfigureAwait(false) is not { } seriesId)
                {
                    return new Page<MetricPoint>([], null);
                }

                await using var command = Command(connection, transaction,
                    $"SELECT {PointColumns} FROM metric_points WHERE series_id = $series"
                    + (after is null ? string.Empty : " AND (step, time, seq) > ($step, $time, $seq)")
                    + " ORDER BY step, time, seq LIMIT $take");
                command.Parameters.AddWithValue("$series", seriesId);
                command.Parameters.AddWithValue("$take", limit + 1);
                if (after is var (step, time, seq))
                {
                    command.Parameters.AddWithValue("$step", step);
                    command.Parameters.AddWithValue("$time", time);
                    command.Parameters.AddWithValue("$seq", seq);
                }

                var points = new List<MetricPoint>(Math.Min(limit + 1, 16_384));
                (long Step, long Time, long Seq) lastKey = default;
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (reader.Read())
                {
                    if (points.Count == limit)
                    {
                        // The extra row only says that another page follows.
                        return new Page<MetricPoint>(points, PageTokens.Encode(
                            SqliteValues.Key(lastKey.Step), SqliteValues.Key(lastKey.Time), SqliteValues.Key(lastKey.Seq)));
                    }

                    points.Add(ReadPoint(reader, 0));
                    lastKey = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(6));
                }

                return new Page<MetricPoint>(points, null);
            },
            cancellationToken);
    }

    /// <summary>Stops taking appends, commits what is queued, and waits for the writer to finish.</summary>
    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
    }

    private async Task WriteLoopAsync()
    {
        var reader = _pending.Reader;
        var group = new List<PendingAppend>();
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            group.Clear();
            long points = 0;
            while (points < MaxGroupPoints && reader.TryRead(out var pending))
            {
                group.Add(pending);
                points += pending.Count;
            }

            try
            {
                await CommitGroupAsync(group).ConfigureAwait(false);
                foreach (var pending in group)
                {
                    pending.Done.TrySetResult();
                }
            }
            catch (Exception exception)
            {
                var failure = _database.MapWriteFailure(exception);
                if (failure is not ModelBoxException)
                {
                    SqliteStoreLog.MetricGroupFailed(_logger, group.Count, points, exception);
                }

                foreach (var pending in group)
                {
                    pending.Done.TrySetException(failure);
                }
            }
        }
    }

    private async Task CommitGroupAsync(List<PendingAppend> group)
    {
        await _database.WriteLock.WaitAsync().ConfigureAwait(false);
        try
        {
            var connection = await _database.OpenConnectionAsync(CancellationToken.None).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                var transaction = connection.BeginTransaction(deferred: false);
                await using (transaction.ConfigureAwait(false))
                {
                    using var upsert = Command(connection, transaction, UpsertSeriesSql);
                    var parent = upsert.Parameters.Add("$parent", SqliteType.Text);
                    var key = upsert.Parameters.Add("$key", SqliteType.Text);
                    var count = upsert.Parameters.Add("$count", SqliteType.Integer);
                    upsert.Prepare();

                    // The point loop binds through SQLite's C API: Microsoft.Data.Sqlite looks every parameter up by name on
                    // every execution, which costs more than the insert itself at these rates (metrics-ingest measures it).
                    using var insert = new RawStatement(connection.Handle!, InsertPointSql);
                    foreach (var pending in group)
                    {
                        foreach (var points in pending.Batch)
                        {
                            if (points.Points.Count == 0)
                            {
                                continue;
                            }

                            parent.Value = points.ParentId;
                            key.Value = points.Key;
                            count.Value = (long)points.Points.Count;
                            long seriesId;
                            long nextSeq;
                            using (var row = upsert.ExecuteReader())
                            {
                                row.Read();
                                seriesId = row.GetInt64(0);
                                nextSeq = row.GetInt64(1) - points.Points.Count + 1;
                            }

                            foreach (var point in points.Points)
                            {
                                insert.Insert(seriesId, nextSeq++, point);
                            }
                        }
                    }

                    await transaction.CommitAsync().ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _database.WriteLock.Release();
        }
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    private static string Qualified(string alias) =>
        string.Join(", ", PointColumns.Split(", ").Select(column => $"{alias}.{column}"));

    private static async Task<long?> FindSeriesAsync(
        SqliteConnection connection, SqliteTransaction transaction, string parentId, string key, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, "SELECT id FROM metric_series WHERE parent_id = $parent AND key = $key");
        command.Parameters.AddWithValue("$parent", parentId);
        command.Parameters.AddWithValue("$key", key);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long id ? id : null;
    }

    private static async Task<long?> EdgeStepAsync(
        SqliteConnection connection, SqliteTransaction transaction, long seriesId, long fromStep, long toStep, string direction, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction,
            $"SELECT step FROM metric_points WHERE series_id = $series AND step BETWEEN $from AND $to ORDER BY step {direction} LIMIT 1");
        command.Parameters.AddWithValue("$series", seriesId);
        command.Parameters.AddWithValue("$from", fromStep);
        command.Parameters.AddWithValue("$to", toStep);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long step ? step : null;
    }

    /// <summary>A point from columns step, time, kind, num, txt, bin starting at <paramref name="offset"/>.</summary>
    private static MetricPoint ReadPoint(SqliteDataReader reader, int offset)
    {
        var kind = (MetricValueKind)reader.GetInt32(offset + 2);
        var step = reader.GetInt64(offset);
        var time = reader.GetInt64(offset + 1);
        return kind switch
        {
            MetricValueKind.StringTensor => new MetricPoint(step, time, kind, 0, Text: reader.GetString(offset + 4)),
            MetricValueKind.BytesTensor => new MetricPoint(step, time, kind, 0, Bytes: reader.GetFieldValue<byte[]>(offset + 5)),
            // NULL is how SQLite keeps NaN.
            _ => new MetricPoint(step, time, kind, reader.IsDBNull(offset + 3) ? double.NaN : reader.GetDouble(offset + 3)),
        };
    }

    private static (long Step, long Time, long Seq)? Cursor(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return null;
        }

        var keys = PageTokens.Decode(token);
        return keys.Length == 3
            && SqliteValues.TryParseKey(keys[0], out var step)
            && SqliteValues.TryParseKey(keys[1], out var time)
            && SqliteValues.TryParseKey(keys[2], out var seq)
            ? (step, time, seq)
            : throw SqliteMetadataStore.MalformedToken();
    }

    /// <summary>The point INSERT as a prepared statement of SQLite's C API, bound by position.</summary>
    private sealed class RawStatement : IDisposable
    {
        private readonly sqlite3 _database;
        private readonly sqlite3_stmt _statement;

        public RawStatement(sqlite3 database, string sql)
        {
            _database = database;
            var rc = raw.sqlite3_prepare_v2(database, sql, out _statement);
            SqliteException.ThrowExceptionForRC(rc, database);
        }

        public void Insert(long seriesId, long seq, in MetricPoint point)
        {
            var statement = _statement;
            raw.sqlite3_bind_int64(statement, 1, seriesId);
            raw.sqlite3_bind_int64(statement, 2, point.Step);
            raw.sqlite3_bind_int64(statement, 3, point.WallclockSeconds);
            raw.sqlite3_bind_int64(statement, 4, seq);
            raw.sqlite3_bind_int(statement, 5, (int)point.Kind);
            // NaN binds as NULL (SQLite has no NaN REAL); the kind says it was a number.
            _ = point.IsNumeric && !double.IsNaN(point.Number)
                ? raw.sqlite3_bind_double(statement, 6, point.Number)
                : raw.sqlite3_bind_null(statement, 6);
            _ = point.Text is { } text ? raw.sqlite3_bind_text(statement, 7, text) : raw.sqlite3_bind_null(statement, 7);
            _ = point.Bytes is { } bytes ? raw.sqlite3_bind_blob(statement, 8, bytes) : raw.sqlite3_bind_null(statement, 8);
            var rc = raw.sqlite3_step(statement);
            raw.sqlite3_reset(statement);
            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, _database);
            }
        }

        public void Dispose() => _statement.Dispose();
    }

    private sealed class PendingAppend(IReadOnlyList<MetricSeriesPoints> batch, long count)
    {
        public IReadOnlyList<MetricSeriesPoints> Batch { get; } = batch;

        public long Count { get; } = count;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
