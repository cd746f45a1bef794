using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using ModelBox.Cli.Hosting;
using ModelBox.Client;
using ModelBox.Server.Configuration;
using ModelBox.Storage.Filesystem;
using ModelBox.Storage.Relational.Transfer;
using ModelBox.Storage.Sqlite;

namespace ModelBox.Benchmarks;

/// <summary>
/// `modelbox server backup` of a large embedded database while an in-process server serves a write load: the load's p99
/// with nothing else running, during the backup, and during a raw file copy of the same database (the baseline for the
/// backup's MB/s), in the same run. The database is made by the server's own migrations, then filled with raw bulk SQLite
/// inserts (experiments with metadata, metric points in key order) in big transactions with the journal off, which writes
/// gigabytes in minutes. See bench/README.md.
/// </summary>
public static class BackupBenchmark
{
    private const int PointsPerSeries = 100_000;
    private const int PointsPerStatement = 2_000_000;

    private sealed record Options(double SizeGb, int Seconds, int Concurrency, int Rounds)
    {
        public static Options Parse(string[] args)
        {
            var options = new Options(1, 20, 8, 2);
            for (var i = 0; i < args.Length; i++)
            {
                var name = args[i];
                double Value() => i + 1 < args.Length && double.TryParse(args[++i], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0
                    ? value
                    : throw new ArgumentException($"{name} needs a positive number\n{Usage}");
                options = name switch
                {
                    "--size-gb" => options with { SizeGb = Value() },
                    "--seconds" => options with { Seconds = (int)Value() },
                    "--concurrency" => options with { Concurrency = (int)Value() },
                    "--rounds" => options with { Rounds = (int)Value() },
                    _ => throw new ArgumentException($"unknown option {name}\n{Usage}"),
                };
            }

            return options;
        }

        private const string Usage = "usage: backup [--size-gb 1] [--seconds 20] [--concurrency 8] [--rounds 2]";
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var options = Options.Parse(args);
        var scratch = Directory.CreateTempSubdirectory("modelbox-backup-bench-").FullName;
        var dataDir = Path.Combine(scratch, "data");
        try
        {
            var config = new ServerConfig { ListenAddr = "127.0.0.1:0", HttpListenAddr = "127.0.0.1:0", PrometheusListenAddr = "127.0.0.1:0", DataDir = dataDir };

            // The schema as the server makes it: start it once.
            var server = ServerStorage.CreateServer(config, logging => logging.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());
            await server.StartAsync();
            await server.StopAsync();
            await server.DisposeAsync();

            var clock = Stopwatch.StartNew();
            var (experiments, points) = await FillAsync(config.SqliteDatabasePath, (long)(options.SizeGb * 1e9));
            var databaseBytes = new FileInfo(config.SqliteDatabasePath).Length;
            Console.WriteLine("# backup of an embedded database under a write load");
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"database {databaseBytes / 1e9:F2} GB ({experiments:N0} experiments with 3 metadata keys, {points:N0} metric points), filled in {clock.Elapsed.TotalSeconds:F0} s; "
                + $"load: {options.Concurrency} clients, each logging 100-point metric batches to its own run and creating a run every 10th call; "
                + $".NET {Environment.Version}, {Environment.ProcessorCount} cores"));

            server = ServerStorage.CreateServer(config, logging => logging.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());
            await server.StartAsync();
            try
            {
                await using var client = new ModelBoxClient(server.GrpcAddress);
                var load = await WriteLoad.CreateAsync(client, options.Concurrency);
                await load.RunAsync(TimeSpan.FromSeconds(5), null); // warm-up
                Console.WriteLine();
                Console.WriteLine("| round | phase | seconds | load calls/s | load p50 ms | load p99 ms | MB/s of the database |");
                Console.WriteLine("|---:|---|---:|---:|---:|---:|---:|");
                for (var round = 1; round <= options.Rounds; round++)
                {
                    var idle = await load.RunAsync(TimeSpan.FromSeconds(options.Seconds), null);
                    Row(round, "load alone", idle, null);

                    var backupFolder = Path.Combine(scratch, "backup");
                    var during = await load.RunAsync(null, () => BackupAsync(config, backupFolder));
                    Row(round, "load + `server backup`", during, databaseBytes);
                    var backedUp = new FileInfo(Path.Combine(backupFolder, BackupFolder.SnapshotFile)).Length;
                    Directory.Delete(backupFolder, recursive: true);

                    var rawCopy = Path.Combine(scratch, "raw-copy.db");
                    var raw = await load.RunAsync(null, () => RawCopyAsync(config.SqliteDatabasePath, rawCopy));
                    Row(round, "load + raw file copy (baseline)", raw, databaseBytes);
                    File.Delete(rawCopy);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {round} | backup / raw copy | | | | {during.P99Ms / idle.P99Ms:F1}x p99 of load alone | {raw.Elapsed.TotalSeconds / during.Elapsed.TotalSeconds:P0} of raw ({backedUp / 1e9:F2} GB snapshot) |"));
                }
            }
            finally
            {
                await server.StopAsync();
                await server.DisposeAsync();
            }

            return 0;
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }

        static void Row(int round, string phase, CellResult result, long? bytes)
        {
            var rate = bytes is { } b ? string.Create(CultureInfo.InvariantCulture, $"{b / 1e6 / result.Elapsed.TotalSeconds:N0}") : "";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {round} | {phase} | {result.Elapsed.TotalSeconds:F1} | {result.Calls / result.Elapsed.TotalSeconds:N0} | {result.P50Ms:F1} | {result.P99Ms:F1} | {rate} |"));
        }
    }

    /// <summary>What `modelbox server backup --output DIR` does on the embedded store (BackupCommands).</summary>
    private static async Task BackupAsync(ServerConfig config, string folder)
    {
        await using var dialect = new SqliteDialect(new SqliteStorageOptions { DatabasePath = config.SqliteDatabasePath, ReadOnly = true });
        var blobs = new FilesystemBlobStore(config.BlobDirectory);
        var writer = new BackupWriter(dialect, blobs, "bench");
        await writer.WriteAsync(
            folder, dialect.VacuumIntoAsync, path => new SqliteDialect(new SqliteStorageOptions { DatabasePath = path, ReadOnly = true }),
            includeBlobs: true, null, default);
    }

    /// <summary>The baseline: the database file's bytes copied as they are (not a consistent state), made durable.</summary>
    private static async Task RawCopyAsync(string from, string to)
    {
        await using (var source = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 20, FileOptions.SequentialScan | FileOptions.Asynchronous))
        await using (var target = new FileStream(to, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous))
        {
            await source.CopyToAsync(target, 1 << 20);
            target.Flush(flushToDisk: true);
        }
    }

    /// <summary>
    /// Fills the migrated, closed database to <paramref name="bytes"/>: 50,000 experiments per GB, each with three metadata
    /// keys (a ~700-byte config document among them), then metric series of 100,000 points, 2,000,000 points per statement,
    /// one transaction each, in key order (appends to the primary key), until the file is large enough.
    /// </summary>
    private static async Task<(long Experiments, long Points)> FillAsync(string path, long bytes)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false };
        await using var connection = new SqliteConnection(builder.ConnectionString);
        await connection.OpenAsync();
        async Task ExecuteAsync(string sql, params (string Name, object Value)[] parameters)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.CommandTimeout = 0;
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name, value);
            }

            await command.ExecuteNonQueryAsync();
        }

        async Task<long> SizeAsync()
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()";
            return (long)(await command.ExecuteScalarAsync())!;
        }

        // Nothing else has the file open: no journal while filling (a crash here only loses the benchmark's scratch).
        await ExecuteAsync("PRAGMA journal_mode = DELETE; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;");
        var experiments = Math.Max(1_000, (long)(bytes / 1e9 * 50_000));
        await ExecuteAsync($"""
            BEGIN;
            INSERT INTO namespaces (name, created_at) VALUES ('bench', 1);
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {experiments})
            INSERT INTO experiments (id, namespace, name, owner, framework, task, external_id, description, status, created_at, updated_at)
            SELECT printf('exp-%032x', i), 'bench', 'run-' || i, 'owner@example.com', 1, 'asr', '', 'a benchmark run with a short description', 0,
                   1700000000000000 + i, 1700000000000000 + i FROM n;
            INSERT INTO object_metadata (object_id, "key", value_json, updated_at) SELECT id, 'lr', '0.001', 1 FROM experiments;
            INSERT INTO object_metadata (object_id, "key", value_json, updated_at)
                SELECT id, 'config', char(123) || '"model": "' || lower(hex(randomblob(300))) || '", "layers": 12, "optimizer": "adamw"' || char(125), 1 FROM experiments;
            INSERT INTO object_metadata (object_id, "key", value_json, updated_at) SELECT id, 'dataset', '"librispeech-960h"', 1 FROM experiments;
            COMMIT;
            """);
        long points = 0;
        long series = 0;
        while (await SizeAsync() < bytes)
        {
            const int seriesPerStatement = PointsPerStatement / PointsPerSeries;
            await ExecuteAsync($"""
                BEGIN;
                WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {seriesPerStatement})
                INSERT INTO metric_series (id, parent_id, "key", point_count)
                SELECT {series} + i + 1, printf('exp-%032x', ({series} + i) % {experiments}), 'loss/' || (({series} + i) / {experiments}), {PointsPerSeries} FROM n;
                WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {PointsPerStatement})
                INSERT INTO metric_points (series_id, step, "time", seq, kind, num, txt, bin, millis)
                SELECT {series} + i / {PointsPerSeries} + 1, i % {PointsPerSeries}, 1700000000 + i % {PointsPerSeries}, i % {PointsPerSeries}, 2,
                       (abs(random()) % 1000000) / 1e6, NULL, NULL, 0 FROM n;
                COMMIT;
                """);
            series += seriesPerStatement;
            points += PointsPerStatement;
        }

        await ExecuteAsync("PRAGMA journal_mode = WAL;");
        return (experiments, points);
    }

    /// <summary>Closed-loop writers, each on its own run: a 100-point metric batch per call, a new run every 10th call.</summary>
    private sealed class WriteLoad(ModelBoxClient client, string[] runs)
    {
        private readonly long[] _steps = new long[runs.Length];
        private readonly long[] _calls = new long[runs.Length];

        public static async Task<WriteLoad> CreateAsync(ModelBoxClient client, int concurrency)
        {
            var runs = new string[concurrency];
            for (var i = 0; i < concurrency; i++)
            {
                runs[i] = (await client.CreateExperimentAsync($"load-{i}", "o", "load", Framework.Unknown)).Value.Id;
            }

            return new WriteLoad(client, runs);
        }

        /// <summary>Runs the load for <paramref name="duration"/>, or while <paramref name="beside"/> runs; its time is the phase's.</summary>
        public Task<CellResult> RunAsync(TimeSpan? duration, Func<Task>? beside) =>
            LoadRunner.MeasureWhileAsync("write load", CallAsync, runs.Length, beside ?? (() => Task.Delay(duration!.Value)));

        private async Task CallAsync(int worker)
        {
            var call = _calls[worker]++;
            if (call % 10 == 9)
            {
                await client.CreateExperimentAsync($"load-{worker}-{call}", "o", "load", Framework.Unknown);
                return;
            }

            var first = _steps[worker];
            _steps[worker] += 100;
            await client.LogMetricsBatchAsync([new MetricSeriesPoints(runs[worker], "loss", Enumerable.Range(0, 100)
                .Select(k => new MetricPoint(first + k, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000 + first + k), MetricValue.FromDouble(1.0 / (first + k + 1))))
                .ToList())]);
        }
    }
}
