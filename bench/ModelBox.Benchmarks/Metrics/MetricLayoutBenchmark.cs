using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace ModelBox.Benchmarks.Metrics;

/// <summary>
/// Raw Microsoft.Data.Sqlite insert rates of candidate metric layouts (no ModelBox code), the measurements behind
/// the layout of migration 4: WAL, synchronous=NORMAL, 10k points per transaction, points spread over 100 series.
/// </summary>
public static class MetricLayoutBenchmark
{
    private const int Series = 100;

    public static async Task RunAsync(int points)
    {
        Console.WriteLine("# Metric storage layouts: raw Microsoft.Data.Sqlite inserts");
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{points:N0} points over {Series} series, WAL, synchronous=NORMAL, 10,000 points per transaction"));
        Console.WriteLine();
        Console.WriteLine("| layout | points/s | file MiB | bytes/point |");
        Console.WriteLine("|---|---:|---:|---:|");
        await MeasureAsync("text keys (parent, key, step), rowid table + index", points,
            "CREATE TABLE p (parent TEXT NOT NULL, key TEXT NOT NULL, step INTEGER NOT NULL, time INTEGER NOT NULL, value REAL);"
            + "CREATE INDEX ix_p ON p (parent, key, step);",
            "INSERT INTO p VALUES ($a0, $b0, $c0, $d0, $e0)", 1, TextKeyRow);
        await MeasureAsync("series id, WITHOUT ROWID (series, step, time, seq), 1 row/statement", points, PointsTable,
            PointsInsert(1), 1, PointRow);
        await MeasureAsync("series id, WITHOUT ROWID (series, step, time, seq), 64 rows/statement", points, PointsTable,
            PointsInsert(64), 64, PointRow);
        await MeasureChunksAsync(points);
    }

    internal const string PointsTable =
        "CREATE TABLE p (series_id INTEGER NOT NULL, step INTEGER NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL,"
        + " kind INTEGER NOT NULL, num REAL, txt TEXT, bin BLOB, PRIMARY KEY (series_id, step, time, seq)) WITHOUT ROWID;";

    internal static string PointsInsert(int rows) =>
        "INSERT INTO p VALUES " + string.Join(", ", Enumerable.Range(0, rows).Select(i => $"($a{i}, $b{i}, $c{i}, $d{i}, $e{i}, $f{i}, NULL, NULL)"));

    private static void TextKeyRow(SqliteParameter[] p, int offset, long i)
    {
        p[offset].Value = "exp-0123456789abcdef0123456789abcdef";
        p[offset + 1].Value = "train/loss-" + (i % Series).ToString(CultureInfo.InvariantCulture);
        p[offset + 2].Value = i / Series;
        p[offset + 3].Value = 1_700_000_000 + (i / 1000);
        p[offset + 4].Value = 1.0 / (i + 1);
    }

    private static void PointRow(SqliteParameter[] p, int offset, long i)
    {
        p[offset].Value = (i % Series) + 1;
        p[offset + 1].Value = i / Series;
        p[offset + 2].Value = 1_700_000_000 + (i / 1000);
        p[offset + 3].Value = i / Series;
        p[offset + 4].Value = 2;
        p[offset + 5].Value = 1.0 / (i + 1);
    }

    private static async Task MeasureAsync(
        string layout, int points, string schema, string insert, int rowsPerStatement, Action<SqliteParameter[], int, long> fill)
    {
        var path = Path.Combine(Path.GetTempPath(), $"modelbox-layout-{Guid.NewGuid():N}.db");
        try
        {
            await using var connection = await OpenAsync(path);
            await ExecuteAsync(connection, schema);
            var perRow = insert.Count(c => c == '$') / rowsPerStatement;
            var started = Stopwatch.GetTimestamp();
            for (long done = 0; done < points;)
            {
                await using var transaction = connection.BeginTransaction();
                await using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = insert;
                var parameters = new SqliteParameter[perRow * rowsPerStatement];
                for (var r = 0; r < rowsPerStatement; r++)
                {
                    for (var c = 0; c < perRow; c++)
                    {
                        parameters[(r * perRow) + c] = command.Parameters.Add(new SqliteParameter($"${(char)('a' + c)}{r}", null));
                    }
                }

                command.Prepare();
                var end = Math.Min(points, done + 10_000);
                for (; done + rowsPerStatement <= end; done += rowsPerStatement)
                {
                    for (var r = 0; r < rowsPerStatement; r++)
                    {
                        fill(parameters, r * perRow, done + r);
                    }

                    command.ExecuteNonQuery();
                }

                await transaction.CommitAsync();
            }

            Report(layout, points, started, path);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            DeleteDatabase(path);
        }
    }

    /// <summary>Points packed per series into chunks of 1,000 (step, time, value as 24 raw bytes each), one row per chunk.</summary>
    private static async Task MeasureChunksAsync(int points)
    {
        const int ChunkPoints = 1000;
        var path = Path.Combine(Path.GetTempPath(), $"modelbox-layout-{Guid.NewGuid():N}.db");
        try
        {
            await using var connection = await OpenAsync(path);
            await ExecuteAsync(connection,
                "CREATE TABLE c (series_id INTEGER NOT NULL, first_step INTEGER NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL,"
                + " PRIMARY KEY (series_id, first_step, seq)) WITHOUT ROWID;");
            var buffers = Enumerable.Range(0, Series).Select(_ => new byte[ChunkPoints * 24]).ToArray();
            var counts = new int[Series];
            var started = Stopwatch.GetTimestamp();
            long chunkSeq = 0;
            for (long done = 0; done < points;)
            {
                await using var transaction = connection.BeginTransaction();
                await using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = "INSERT INTO c VALUES ($s, $f, $q, $d)";
                var s = command.Parameters.Add("$s", SqliteType.Integer);
                var f = command.Parameters.Add("$f", SqliteType.Integer);
                var q = command.Parameters.Add("$q", SqliteType.Integer);
                var d = command.Parameters.Add("$d", SqliteType.Blob);
                command.Prepare();
                var end = Math.Min(points, done + 10_000);
                for (; done < end; done++)
                {
                    var series = (int)(done % Series);
                    var span = buffers[series].AsSpan(counts[series] * 24, 24);
                    BinaryPrimitives.WriteInt64LittleEndian(span, done / Series);
                    BinaryPrimitives.WriteInt64LittleEndian(span[8..], 1_700_000_000 + (done / 1000));
                    BinaryPrimitives.WriteDoubleLittleEndian(span[16..], 1.0 / (done + 1));
                    if (++counts[series] == ChunkPoints || done == points - 1)
                    {
                        s.Value = series + 1;
                        f.Value = BinaryPrimitives.ReadInt64LittleEndian(buffers[series]);
                        q.Value = chunkSeq++;
                        d.Value = buffers[series].AsSpan(0, counts[series] * 24).ToArray();
                        command.ExecuteNonQuery();
                        counts[series] = 0;
                    }
                }

                await transaction.CommitAsync();
            }

            Report("chunks of 1,000 points per series (uncompressed 24 B/point)", points, started, path);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            DeleteDatabase(path);
        }
    }

    internal static async Task<SqliteConnection> OpenAsync(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        await connection.OpenAsync();
        await ExecuteAsync(connection, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
        return connection;
    }

    internal static async Task ExecuteAsync(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    internal static void DeleteDatabase(string path)
    {
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }
    }

    private static void Report(string layout, int points, long started, string path)
    {
        var elapsed = Stopwatch.GetElapsedTime(started);
        SqliteConnection.ClearAllPools();
        var bytes = new FileInfo(path).Length + (File.Exists(path + "-wal") ? new FileInfo(path + "-wal").Length : 0);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {layout} | {points / elapsed.TotalSeconds:N0} | {bytes / 1048576.0:0.0} | {(double)bytes / points:0.0} |"));
    }
}
