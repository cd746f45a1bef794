using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using ModelBox.Client;
using ModelBox.Server.Configuration;
using ModelBox.Server.Hosting;
using ModelBox.Storage.Relational;
using ModelBox.Cli.Hosting;

namespace ModelBox.Benchmarks.Metrics;

/// <summary>
/// metrics-ingest: points through the SDK's buffered MetricLogger → gRPC on loopback → the in-process server's
/// embedded store, against the same rows inserted into the same schema with raw Microsoft.Data.Sqlite in one
/// transaction with one prepared statement. metrics-series: GetMetricSeries of a long series down to 1,000 points,
/// against a raw scan of the same rows and a no-op RPC.
/// </summary>
public static class MetricIngestBenchmark
{
    public static async Task RunIngestAsync(int points, int keyCount, bool upkeepCost = false, int inFlight = 4)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keyCount, 1);
        var keys = Enumerable.Range(0, keyCount).Select(k => $"train/metric-{k:000}").ToArray();
        var time = DateTimeOffset.UtcNow;
        var options = new MetricLoggerOptions { MaxConcurrentSends = inFlight };
        var (sdkElapsed, stored) = await SdkIngestAsync(points, keys, time, options);
        TimeSpan? bareElapsed = null;
        if (upkeepCost)
        {
            RelationalMetricStore.SkipSummariesForBenchmark = true;
            try
            {
                bareElapsed = (await SdkIngestAsync(points, keys, time, options)).Elapsed;
            }
            finally
            {
                RelationalMetricStore.SkipSummariesForBenchmark = false;
            }
        }

        var rawElapsed = await RawInsertAsync(points, keys, time.ToUnixTimeSeconds());

        var sdkRate = points / sdkElapsed.TotalSeconds;
        var rawRate = points / rawElapsed.TotalSeconds;
        Console.WriteLine("# Metric ingest: SDK MetricLogger → gRPC (loopback) → embedded SQLite, vs raw Microsoft.Data.Sqlite");
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{points:N0} float points over {keyCount} keys of one experiment, {inFlight} batches in flight; .NET {Environment.Version}, {Environment.ProcessorCount} cores; server stored {stored:N0}"));
        Console.WriteLine();
        Console.WriteLine("| path | seconds | points/s | vs raw |");
        Console.WriteLine("|---|---:|---:|---:|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| SDK MetricLogger end to end (acknowledged = committed) | {sdkElapsed.TotalSeconds:0.00} | {sdkRate:N0} | {sdkRate / rawRate:P0} |"));
        if (bareElapsed is { } bare)
        {
            var bareRate = points / bare.TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| the same without summary upkeep (benchmark-only switch; summaries cost {1 - (sdkRate / bareRate):P0} of the rate) | {bare.TotalSeconds:0.00} | {bareRate:N0} | {bareRate / rawRate:P0} |"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| raw: one transaction, one prepared INSERT, same schema | {rawElapsed.TotalSeconds:0.00} | {rawRate:N0} | 100% |"));
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"goals: >= 250,000 points/s end to end: {sdkRate:N0} ({(sdkRate >= 250_000 ? "met" : "MISSED")}); >= 50% of raw: {sdkRate / rawRate:P0} ({(sdkRate >= rawRate / 2 ? "met" : "MISSED")})"));
    }

    /// <summary>Logs the points through the SDK into a fresh in-process server: the time until all are acknowledged, and
    /// how many the server reports stored.</summary>
    private static async Task<(TimeSpan Elapsed, long Stored)> SdkIngestAsync(int points, string[] keys, DateTimeOffset time, MetricLoggerOptions options)
    {
        await using var server = await BenchServer.StartAsync();
        await using var client = new ModelBoxClient(server.Address);
        var experiment = (await client.CreateExperimentAsync("ingest", "bench@example.com", "bench", Framework.PyTorch)).Value;
        var started = Stopwatch.GetTimestamp();
        await using (var logger = client.CreateMetricLogger(experiment.Id, options))
        {
            for (var i = 0; i < points; i++)
            {
                await logger.LogAsync(keys[i % keys.Length], (float)(1.0 / (i + 1)), i / keys.Length, time);
            }
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        return (elapsed, (await client.GetMetricSeriesAsync(experiment.Id, keys[0], maxPoints: 2)).TotalPoints * keys.Length);
    }

    public static async Task RunSeriesAsync(int points, int calls)
    {
        await using var server = await BenchServer.StartAsync();
        await using var client = new ModelBoxClient(server.Address);
        var experiment = (await client.CreateExperimentAsync("series", "bench@example.com", "bench", Framework.PyTorch)).Value;
        var time = DateTimeOffset.UtcNow;
        await using (var logger = client.CreateMetricLogger(experiment.Id))
        {
            for (var i = 0; i < points; i++)
            {
                // A noisy, slowly falling loss with a few spikes, like a real run.
                var value = (2.0 / Math.Sqrt(i + 1)) + (0.01 * Math.Sin(i)) + (i % 99_991 == 0 ? 5 : 0);
                await logger.LogAsync("train/loss", value, i, time);
            }
        }

        var series = new List<double>();
        var scans = new List<double>();
        var noops = new List<double>();
        MetricSeriesView? view = null;
        for (var i = 0; i < calls + 3; i++)
        {
            var before = Stopwatch.GetTimestamp();
            view = await client.GetMetricSeriesAsync(experiment.Id, "train/loss", maxPoints: 1000);
            var seriesMs = Stopwatch.GetElapsedTime(before).TotalMilliseconds;

            before = Stopwatch.GetTimestamp();
            await RawScanAsync(server.DatabasePath, experiment.Id);
            var scanMs = Stopwatch.GetElapsedTime(before).TotalMilliseconds;

            before = Stopwatch.GetTimestamp();
            await client.GetMetricSeriesAsync(experiment.Id, "no-such-key", maxPoints: 1000);
            var noopMs = Stopwatch.GetElapsedTime(before).TotalMilliseconds;
            if (i >= 3)
            {
                // The first calls warm up the JIT and the page cache.
                series.Add(seriesMs);
                scans.Add(scanMs);
                noops.Add(noopMs);
            }
        }

        Console.WriteLine("# GetMetricSeries: a long series downsampled on the server");
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{points:N0}-point series → {view!.Points.Count} points (total_points {view.TotalPoints:N0}, downsampled {view.Downsampled}); {calls} calls each, after 3 warm-up calls"));
        Console.WriteLine();
        Console.WriteLine("| operation | p50 ms | p99 ms |");
        Console.WriteLine("|---|---:|---:|");
        Row("GetMetricSeries max_points=1000 (SDK → gRPC → scan + min/max buckets)", series);
        Row("raw: Microsoft.Data.Sqlite scan of the same rows (step, num), no downsampling", scans);
        Row("GetMetricSeries of an unknown key (RPC + parent check, no scan)", noops);
    }

    internal static void Row(string name, List<double> samples)
    {
        samples.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {Percentile(samples, 0.5):0.0} | {Percentile(samples, 0.99):0.0} |"));
    }

    internal static double Percentile(List<double> sorted, double quantile) =>
        sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static async Task<TimeSpan> RawInsertAsync(int points, string[] keys, long time)
    {
        var path = Path.Combine(Path.GetTempPath(), $"modelbox-raw-{Guid.NewGuid():N}.db");
        try
        {
            await using var connection = await MetricLayoutBenchmark.OpenAsync(path);
            await MetricLayoutBenchmark.ExecuteAsync(connection,
                "CREATE TABLE metric_series (id INTEGER PRIMARY KEY AUTOINCREMENT, parent_id TEXT NOT NULL, key TEXT NOT NULL, point_count INTEGER NOT NULL);"
                + "CREATE UNIQUE INDEX ux_metric_series_parent_key ON metric_series (parent_id, key);"
                + MetricLayoutBenchmark.PointsTable.Replace("TABLE p ", "TABLE metric_points ", StringComparison.Ordinal));
            var started = Stopwatch.GetTimestamp();
            await using var transaction = connection.BeginTransaction();
            await using (var series = connection.CreateCommand())
            {
                series.Transaction = transaction;
                series.CommandText = "INSERT INTO metric_series (parent_id, key, point_count) VALUES ('exp-raw', $key, $count)";
                var key = series.Parameters.Add("$key", SqliteType.Text);
                series.Parameters.AddWithValue("$count", points / keys.Length);
                foreach (var k in keys)
                {
                    key.Value = k;
                    series.ExecuteNonQuery();
                }
            }

            await using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO metric_points (series_id, step, time, seq, kind, num, txt, bin) VALUES ($s, $st, $t, $q, 1, $n, NULL, NULL)";
            var s = insert.Parameters.Add("$s", SqliteType.Integer);
            var st = insert.Parameters.Add("$st", SqliteType.Integer);
            var t = insert.Parameters.Add("$t", SqliteType.Integer);
            var q = insert.Parameters.Add("$q", SqliteType.Integer);
            var n = insert.Parameters.Add("$n", SqliteType.Real);
            insert.Prepare();
            for (var i = 0; i < points; i++)
            {
                s.Value = (long)(i % keys.Length) + 1;
                st.Value = (long)(i / keys.Length);
                t.Value = time;
                q.Value = (long)(i / keys.Length) + 1;
                n.Value = (double)(float)(1.0 / (i + 1));
                insert.ExecuteNonQuery();
            }

            await transaction.CommitAsync();
            return Stopwatch.GetElapsedTime(started);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            MetricLayoutBenchmark.DeleteDatabase(path);
        }
    }

    private static async Task RawScanAsync(string databasePath, string parentId)
    {
        await using var connection = new SqliteConnection($"Data Source={databasePath};Mode=ReadOnly");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT p.step, p.num FROM metric_points p JOIN metric_series s ON s.id = p.series_id "
            + "WHERE s.parent_id = $p AND s.key = 'train/loss' ORDER BY p.step, p.time, p.seq";
        command.Parameters.AddWithValue("$p", parentId);
        await using var reader = await command.ExecuteReaderAsync();
        double sum = 0;
        while (reader.Read())
        {
            sum += reader.GetInt64(0) + (reader.IsDBNull(1) ? 0 : reader.GetDouble(1));
        }

        GC.KeepAlive(sum);
    }

    /// <summary>An in-process ModelBox server on a loopback port with a temporary data folder.</summary>
    private sealed class BenchServer : IAsyncDisposable
    {
        private readonly ModelBoxServer _server;
        private readonly string _dataDir;

        private BenchServer(ModelBoxServer server, string dataDir, string databasePath)
        {
            _server = server;
            _dataDir = dataDir;
            DatabasePath = databasePath;
        }

        public string Address => _server.GrpcAddress;

        public string DatabasePath { get; }

        public static async Task<BenchServer> StartAsync()
        {
            var dataDir = Directory.CreateTempSubdirectory("modelbox-bench-").FullName;
            var config = new ServerConfig { ListenAddr = "127.0.0.1:0", DataDir = dataDir };
            var server = ServerStorage.CreateServer(config, logging => logging.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());
            await server.StartAsync();
            return new BenchServer(server, dataDir, config.SqliteDatabasePath);
        }

        public async ValueTask DisposeAsync()
        {
            await _server.StopAsync();
            await _server.DisposeAsync();
            SqliteConnection.ClearAllPools();
            Directory.Delete(_dataDir, recursive: true);
        }
    }
}
