using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using ModelBox.Client;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Server.Configuration;
using ModelBox.Cli.Hosting;
using ModelBox.Storage.MySql;
using ModelBox.Storage.Postgres;
using ModelBox.Storage.Relational;
using ModelBox.Storage.Sqlite;
using MySqlConnector;
using Npgsql;
using Framework = ModelBox.Client.Framework;
using MetricPoint = ModelBox.Domain.MetricPoint;
using MetricSeriesPoints = ModelBox.Domain.MetricSeriesPoints;

namespace ModelBox.Benchmarks.Metrics;

/// <summary>
/// metrics-read: chart reads from summaries. On the embedded store through a real server: a long series down to 1,000
/// points over REST and gRPC beside a 1,000-point series (the ratio the issue judges), beside a raw scan of the long
/// series' rows, and many series in one GetMetricSeriesBatch call. metrics-read-stores: the store port on SQLite,
/// PostgreSQL and MariaDB (from the test variables): the summary read, the scan read it replaced (every point through
/// the downsampler), and a raw driver scan of the same rows; ingest rate with summaries; bytes per stored point.
/// </summary>
public static class MetricReadBenchmark
{
    private const long T0 = 1_714_564_800;

    public static async Task RunEmbeddedAsync(int points, int seriesCount, int seriesPoints, int calls)
    {
        var dataDir = Directory.CreateTempSubdirectory("modelbox-bench-read-").FullName;
        var config = new ServerConfig { ListenAddr = "127.0.0.1:0", HttpListenAddr = "127.0.0.1:0", PrometheusListenAddr = "127.0.0.1:0", DataDir = dataDir };
        await using var server = ServerStorage.CreateServer(config, logging => logging.SetMinimumLevel(LogLevel.Warning));
        await server.StartAsync();
        try
        {
            await using var client = new ModelBoxClient(server.GrpcAddress);
            using var http = new HttpClient { BaseAddress = new Uri(server.HttpAddress) };
            var longRun = (await client.CreateExperimentAsync("long", "bench@example.com", "bench", Framework.PyTorch)).Value.Id;
            var shortRun = (await client.CreateExperimentAsync("short", "bench@example.com", "bench", Framework.PyTorch)).Value.Id;
            var started = Stopwatch.GetTimestamp();
            await LogAsync(client, longRun, points);
            var ingest = Stopwatch.GetElapsedTime(started);
            await LogAsync(client, shortRun, 1_000);
            var runs = new List<string>();
            for (var r = 0; r < seriesCount; r++)
            {
                var run = (await client.CreateExperimentAsync($"many-{r}", "bench@example.com", "bench", Framework.PyTorch)).Value.Id;
                await LogAsync(client, run, seriesPoints);
                runs.Add(run);
            }

            var restLong = await TimeAsync(calls, () => RestAsync(http, longRun));
            var restShort = await TimeAsync(calls, () => RestAsync(http, shortRun));
            var grpcLong = await TimeAsync(calls, () => client.GetMetricSeriesAsync(longRun, "loss", maxPoints: 1000));
            var raw = await TimeAsync(Math.Max(5, calls / 5), () => RawSqliteScanAsync(config.SqliteDatabasePath, longRun));
            var batch = await TimeAsync(Math.Max(5, calls / 5), () => client.GetMetricSeriesBatchAsync(runs.Select(r => (r, "loss")), new MetricSeriesQuery { MaxPoints = 1000 }));
            var view = await client.GetMetricSeriesAsync(longRun, "loss", maxPoints: 1000);

            Console.WriteLine("# Chart reads from summaries: embedded store (SQLite) through a real server");
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{points:N0}-point series → {view.Points.Count} points (downsampled {view.Downsampled}); ingest with summaries {points / ingest.TotalSeconds:N0} points/s (SDK MetricLogger, end to end); {seriesCount} series × {seriesPoints:N0} points for the batch; .NET {Environment.Version}, {Environment.ProcessorCount} cores"));
            Console.WriteLine();
            Console.WriteLine("| operation | p50 ms | p99 ms |");
            Console.WriteLine("|---|---:|---:|");
            Row($"REST GET series, {points:N0} points → 1,000", restLong);
            Row("REST GET series, 1,000 points → 1,000", restShort);
            Row($"gRPC GetMetricSeries (SDK), {points:N0} points → 1,000", grpcLong);
            Row($"raw: Microsoft.Data.Sqlite scan of the {points:N0} rows (step, num)", raw);
            Row($"GetMetricSeriesBatch (SDK), {seriesCount} series × {seriesPoints:N0} points → 1,000 each", batch);
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"REST long/short p50: {P(restLong, 0.5) / P(restShort, 0.5):0.00}× (goal ≤ 3×); gRPC long p50 {P(grpcLong, 0.5):0.0} ms (goal < 50), p99 {P(grpcLong, 0.99):0.0} ms (goal < 150); raw scan / gRPC long p50: {P(raw, 0.5) / P(grpcLong, 0.5):0.0}×"));
            Console.WriteLine();
            Console.WriteLine("bytes per stored point (SQLite dbstat): " + await SqliteSizesAsync(config.SqliteDatabasePath, (long)points + 1_000 + ((long)seriesCount * seriesPoints)));
        }
        finally
        {
            await server.StopAsync();
            SqliteConnection.ClearAllPools();
            Directory.Delete(dataDir, recursive: true);
        }
    }

    public static async Task RunStoresAsync(int points, int calls)
    {
        Console.WriteLine("# Chart reads through the metric store port: summaries vs every point vs a raw scan");
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{points:N0}-point series → 1,000 points; {calls} reads each after 3 warm-up reads; .NET {Environment.Version}, {Environment.ProcessorCount} cores"));
        Console.WriteLine();
        Console.WriteLine("| backend | ingest points/s (store, summaries kept) | summary read p50 / p99 ms | 1,000-point series p50 ms | every-point read p50 ms | raw scan p50 ms | raw / summary | bytes/point: points + summaries |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---|");

        var path = Path.Combine(Path.GetTempPath(), $"modelbox-bench-{Guid.NewGuid():N}.db");
        try
        {
            await using var dialect = new SqliteDialect(new SqliteStorageOptions { DatabasePath = path });
            await MeasureAsync("sqlite", dialect, points, calls, async seriesId =>
            {
                await using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly");
                await connection.OpenAsync();
                await ScanAsync(connection, seriesId);
            }, () => SqliteSizesAsync(path, points + 1_000L));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            MetricLayoutBenchmark.DeleteDatabase(path);
        }

        if (Environment.GetEnvironmentVariable("MODELBOX_TEST_POSTGRES_CONNECTION_STRING") is { Length: > 0 } postgres)
        {
            await using var database = await BenchDatabase.CreatePostgresAsync(postgres);
            var connectionString = database.ConnectionString;
            {
                await using var dialect = new PostgresDialect(new PostgresStorageOptions { ConnectionString = connectionString });
                await MeasureAsync("postgres", dialect, points, calls, async seriesId =>
                {
                    await using var connection = new NpgsqlConnection(connectionString);
                    await connection.OpenAsync();
                    await ScanAsync(connection, seriesId);
                }, async () =>
                {
                    await using var connection = new NpgsqlConnection(connectionString);
                    await connection.OpenAsync();
                    await new NpgsqlCommand("VACUUM ANALYZE metric_points", connection).ExecuteNonQueryAsync();
                    await new NpgsqlCommand("VACUUM ANALYZE metric_summaries", connection).ExecuteNonQueryAsync();
                    var pointBytes = (long)(await new NpgsqlCommand("SELECT pg_total_relation_size('metric_points')", connection).ExecuteScalarAsync())!;
                    var summaryBytes = (long)(await new NpgsqlCommand("SELECT pg_total_relation_size('metric_summaries')", connection).ExecuteScalarAsync())!;
                    return PerPoint(pointBytes, summaryBytes, points + 1_000L);
                });
            }
        }

        if (Environment.GetEnvironmentVariable("MODELBOX_TEST_MYSQL_CONNECTION_STRING") is { Length: > 0 } mysql)
        {
            await using var database = await BenchDatabase.CreateMySqlAsync(mysql);
            var connectionString = database.ConnectionString;
            {
                await using var dialect = new MySqlDialect(new MySqlStorageOptions { ConnectionString = connectionString });
                await MeasureAsync("mariadb", dialect, points, calls, async seriesId =>
                {
                    await using var connection = new MySqlConnection(connectionString);
                    await connection.OpenAsync();
                    await ScanAsync(connection, seriesId);
                }, async () =>
                {
                    await using var connection = new MySqlConnection(connectionString);
                    await connection.OpenAsync();
                    await new MySqlCommand("ANALYZE TABLE metric_points, metric_summaries", connection).ExecuteNonQueryAsync();
                    long Size(object? value) => Convert.ToInt64(value, CultureInfo.InvariantCulture);
                    var sql = "SELECT data_length + index_length FROM information_schema.TABLES WHERE table_schema = DATABASE() AND table_name = @t";
                    var pointCommand = new MySqlCommand(sql, connection);
                    pointCommand.Parameters.AddWithValue("@t", "metric_points");
                    var summaryCommand = new MySqlCommand(sql, connection);
                    summaryCommand.Parameters.AddWithValue("@t", "metric_summaries");
                    return PerPoint(Size(await pointCommand.ExecuteScalarAsync()), Size(await summaryCommand.ExecuteScalarAsync()), points + 1_000L);
                });
            }
        }
    }

    private static async Task MeasureAsync(
        string backend, SqlDialect dialect, int points, int calls, Func<long, Task> rawScan, Func<Task<string>> sizes)
    {
        var database = new RelationalMetadataStore(dialect, new InProcessChangeSignal());
        await database.MigrateAsync();
        var store = new RelationalMetricStore(database);
        var started = Stopwatch.GetTimestamp();
        for (var offset = 0; offset < points; offset += 10_000)
        {
            await store.AppendAsync([new MetricSeriesPoints("exp-long", "loss", Points(offset, Math.Min(10_000, points - offset)))]);
        }

        var ingest = points / Stopwatch.GetElapsedTime(started).TotalSeconds;
        await store.AppendAsync([new MetricSeriesPoints("exp-short", "loss", Points(0, 1_000))]);
        long seriesId;
        await using (var connection = await dialect.DataSource.OpenConnectionAsync())
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT id FROM metric_series WHERE parent_id = 'exp-long'";
            seriesId = Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
        }

        var summary = await TimeAsync(calls, () => store.ScanSummarizedAsync("exp-long", "loss", 0, long.MaxValue, new MetricDownsampler(1000)));
        var shortSeries = await TimeAsync(calls, () => store.ScanSummarizedAsync("exp-short", "loss", 0, long.MaxValue, new MetricDownsampler(1000)));
        var everyPoint = await TimeAsync(Math.Max(5, calls / 5), () => store.ScanAsync("exp-long", "loss", 0, long.MaxValue, new MetricDownsampler(1000)));
        var raw = await TimeAsync(Math.Max(5, calls / 5), () => rawScan(seriesId));
        var bytes = await sizes();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {backend} | {ingest:N0} | {P(summary, 0.5):0.0} / {P(summary, 0.99):0.0} | {P(shortSeries, 0.5):0.0} | {P(everyPoint, 0.5):0.0} | {P(raw, 0.5):0.0} | {P(raw, 0.5) / P(summary, 0.5):0.0}× | {bytes} |"));
    }

    private static MetricPoint[] Points(int offset, int count) =>
        Enumerable.Range(offset, count)
            .Select(i => MetricPoint.OfDouble(i, T0 + (i / 10), (2.0 / Math.Sqrt(i + 1)) + (0.01 * Math.Sin(i)) + (i % 99_991 == 0 ? 5 : 0)))
            .ToArray();

    private static async Task LogAsync(ModelBoxClient client, string run, int points)
    {
        await using var logger = client.CreateMetricLogger(run);
        for (var i = 0; i < points; i++)
        {
            await logger.LogAsync("loss", (2.0 / Math.Sqrt(i + 1)) + (0.01 * Math.Sin(i)) + (i % 99_991 == 0 ? 5 : 0), i, DateTimeOffset.FromUnixTimeSeconds(T0 + (i / 10)));
        }
    }

    private static async Task RestAsync(HttpClient http, string run)
    {
        using var response = await http.GetAsync(new Uri($"/api/v1/objects/{run}/metrics/loss?maxPoints=1000", UriKind.Relative));
        response.EnsureSuccessStatusCode();
        await response.Content.ReadAsByteArrayAsync();
    }

    private static async Task RawSqliteScanAsync(string databasePath, string parentId)
    {
        await using var connection = new SqliteConnection($"Data Source={databasePath};Mode=ReadOnly");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id FROM metric_series WHERE parent_id = $p AND key = 'loss'";
        command.Parameters.AddWithValue("$p", parentId);
        await ScanAsync(connection, (long)(await command.ExecuteScalarAsync())!);
    }

    /// <summary>The raw baseline: every row of the series, in order, read through the driver with nothing done to it.</summary>
    private static async Task ScanAsync(System.Data.Common.DbConnection connection, long seriesId)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT step, num FROM metric_points WHERE series_id = {seriesId} ORDER BY step, {(connection is MySqlConnection ? "`time`" : "\"time\"")}, seq";
        await using var reader = await command.ExecuteReaderAsync();
        double sum = 0;
        while (await reader.ReadAsync())
        {
            sum += reader.GetInt64(0) + (reader.IsDBNull(1) ? 0 : reader.GetDouble(1));
        }

        GC.KeepAlive(sum);
    }

    private static async Task<string> SqliteSizesAsync(string path, long points)
    {
        await using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly");
        await connection.OpenAsync();
        try
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT name, SUM(pgsize) FROM dbstat WHERE name IN ('metric_points', 'metric_summaries') GROUP BY name";
            var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                sizes[reader.GetString(0)] = reader.GetInt64(1);
            }

            return PerPoint(sizes.GetValueOrDefault("metric_points"), sizes.GetValueOrDefault("metric_summaries"), points);
        }
        catch (SqliteException)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()";
            var fileBytes = (long)(await command.ExecuteScalarAsync())!;
            return string.Create(CultureInfo.InvariantCulture, $"whole file {fileBytes / (double)points:0.0} B (no dbstat)");
        }
    }

    private static string PerPoint(long pointBytes, long summaryBytes, long points) =>
        string.Create(CultureInfo.InvariantCulture, $"{pointBytes / (double)points:0.0} + {summaryBytes / (double)points:0.0} B");

    private static async Task<List<double>> TimeAsync(int calls, Func<Task> call)
    {
        var samples = new List<double>(calls);
        for (var i = 0; i < calls + 3; i++)
        {
            var before = Stopwatch.GetTimestamp();
            await call();
            if (i >= 3)
            {
                samples.Add(Stopwatch.GetElapsedTime(before).TotalMilliseconds);
            }
        }

        samples.Sort();
        return samples;
    }

    private static void Row(string name, List<double> samples) => MetricIngestBenchmark.Row(name, samples);

    private static double P(List<double> sorted, double quantile) => MetricIngestBenchmark.Percentile(sorted, quantile);
}
