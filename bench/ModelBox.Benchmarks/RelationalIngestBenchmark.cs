using System.Diagnostics;
using System.Globalization;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Storage;
using ModelBox.Storage.MySql;
using ModelBox.Storage.Postgres;
using ModelBox.Storage.Relational;
using MySqlConnector;
using Npgsql;
using NpgsqlTypes;

namespace ModelBox.Benchmarks;

/// <summary>
/// Metric ingestion on the server databases: points/s through the store port (IMetricStore.AppendAsync: series upsert,
/// seq assignment, the dialect's bulk path, commit) beside each database's raw bulk path into the same table in the same
/// run (PostgreSQL binary COPY; MySQL multi-row INSERT and MySqlBulkCopy). Reads the test variables
/// MODELBOX_TEST_POSTGRES_CONNECTION_STRING / MODELBOX_TEST_MYSQL_CONNECTION_STRING (admin-capable) and uses a fresh
/// database per backend, dropped afterwards.
/// Usage: relational-ingest [points=400000] [batch=1000] [writers=4] [sparse]. Point i of the run goes to series i % 10 at
/// step i / 10: ten metrics per step, as a training loop logs them. With <c>sparse</c>, at step i instead (each series every
/// 10th step: about ten times as many summary buckets per point).
/// </summary>
public static class RelationalIngestBenchmark
{
    private static bool _sparse;

    private static long StepOf(int index) => _sparse ? index : index / 10;

    public static async Task<int> RunAsync(string[] args)
    {
        var points = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 400_000;
        var batch = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1000;
        var writers = args.Length > 2 && args[2] != "sparse" ? int.Parse(args[2], CultureInfo.InvariantCulture) : 4;
        _sparse = args.Contains("sparse");
        Console.WriteLine("# Metric ingest on server databases: store port vs the raw bulk path");
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{points:N0} points per path, {batch} points per append (10 series of one of {writers} runs, {(_sparse ? "each series every 10th step" : "10 series per step")}), {writers} concurrent writers, .NET {Environment.Version}, {Environment.ProcessorCount} cores"));
        Console.WriteLine();
        Console.WriteLine("| backend | path | seconds | points/s | store vs raw |");
        Console.WriteLine("|---|---|---:|---:|---:|");
        var failed = false;
        foreach (var (name, variable) in new[] { ("postgres", "MODELBOX_TEST_POSTGRES_CONNECTION_STRING"), ("mysql", "MODELBOX_TEST_MYSQL_CONNECTION_STRING") })
        {
            if (Environment.GetEnvironmentVariable(variable) is not { Length: > 0 } admin)
            {
                Console.WriteLine($"| {name} | not run: {variable} is not set | | | |");
                failed = true;
                continue;
            }

            if (name == "postgres")
            {
                await RunPostgresAsync(admin, points, batch, writers);
            }
            else
            {
                await RunMySqlAsync(admin, points, batch, writers);
            }
        }

        return failed ? 1 : 0;
    }

    private static async Task RunPostgresAsync(string admin, int points, int batch, int writers)
    {
        await using var database = await BenchDatabase.CreatePostgresAsync(admin);
        var connectionString = database.ConnectionString;
        {
            await using var dialect = new PostgresDialect(new PostgresStorageOptions { ConnectionString = connectionString });
            var store = new RelationalMetadataStore(dialect, new InProcessChangeSignal());
            await store.MigrateAsync();
            Task<TimeSpan> RawAsync(long seriesBase) => ParallelAsync(points, batch, writers, async (offset, count) =>
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync();
                await using var transaction = await connection.BeginTransactionAsync();
                await using (var importer = await connection.BeginBinaryImportAsync(
                    "COPY metric_points (series_id, step, \"time\", seq, kind, num, txt, bin) FROM STDIN (FORMAT BINARY)"))
                {
                    for (var i = 0; i < count; i++)
                    {
                        await importer.StartRowAsync();
                        await importer.WriteAsync(seriesBase + ((offset + i) % 10), NpgsqlDbType.Bigint);
                        await importer.WriteAsync(StepOf(offset + i), NpgsqlDbType.Bigint);
                        await importer.WriteAsync(1_714_564_800L, NpgsqlDbType.Bigint);
                        await importer.WriteAsync((long)(offset + i), NpgsqlDbType.Bigint);
                        await importer.WriteAsync((short)1, NpgsqlDbType.Smallint);
                        await importer.WriteAsync(0.5, NpgsqlDbType.Double);
                        await importer.WriteNullAsync();
                        await importer.WriteNullAsync();
                    }

                    await importer.CompleteAsync();
                }

                await transaction.CommitAsync();
            });

            // A fresh database is slow at first whatever writes into it: one unmeasured raw pass of the same size first (it
            // ran at 40-70 % of the measured raw pass; without it the store path, which came first, measured 24-36 % of COPY
            // in the first run after test.sh started PostgreSQL and 55-65 % in later ones). Its time is printed, not compared.
            var coldRaw = await RawAsync(3_000_000L);
            await WarmUpAsync(new RelationalMetricStore(store), batch, writers);
            var storeTime = await StorePathAsync(new RelationalMetricStore(store), points, batch, writers);
            var bareTime = await WithoutSummariesAsync(new RelationalMetricStore(store), points, batch, writers);
            var rawTime = await RawAsync(1_000_000L);
            Print("postgres", "store port: AppendAsync (upsert series + COPY + commit)", storeTime, points, rawTime);
            Print("postgres", BareNote(storeTime, bareTime), bareTime, points, rawTime);
            Print("postgres", "raw: binary COPY in a transaction, same table", rawTime, points, rawTime);
            Print("postgres", "(not compared) the unmeasured first raw pass, before the warm-up", coldRaw, points, rawTime);
        }
    }

    private static async Task RunMySqlAsync(string admin, int points, int batch, int writers)
    {
        await using var database = await BenchDatabase.CreateMySqlAsync(admin, loadLocalInfile: true);
        var connectionString = database.ConnectionString;
        {
            await using var dialect = new MySqlDialect(new MySqlStorageOptions { ConnectionString = connectionString });
            var store = new RelationalMetadataStore(dialect, new InProcessChangeSignal());
            await store.MigrateAsync();
            await WarmUpAsync(new RelationalMetricStore(store), batch, writers);
            var storeTime = await StorePathAsync(new RelationalMetricStore(store), points, batch, writers);
            var bareTime = await WithoutSummariesAsync(new RelationalMetricStore(store), points, batch, writers);
            var rawInsert = await ParallelAsync(points, batch, writers, async (offset, count) =>
            {
                await using var connection = new MySqlConnection(connectionString);
                await connection.OpenAsync();
                await using var transaction = await connection.BeginTransactionAsync();
                var sql = new System.Text.StringBuilder("INSERT INTO metric_points (series_id, step, `time`, seq, kind, num, txt, bin) VALUES ");
                for (var i = 0; i < count; i++)
                {
                    sql.Append(i == 0 ? "" : ",").Append(CultureInfo.InvariantCulture,
                        $"({1_000_000 + ((offset + i) % 10)},{StepOf(offset + i)},1714564800,{offset + i},1,0.5,NULL,NULL)");
                }

                await new MySqlCommand(sql.ToString(), connection, transaction).ExecuteNonQueryAsync();
                await transaction.CommitAsync();
            });
            string bulkNote;
            TimeSpan? rawBulk = null;
            try
            {
                rawBulk = await ParallelAsync(points, batch, writers, async (offset, count) =>
                {
                    await using var connection = new MySqlConnection(connectionString);
                    await connection.OpenAsync();
                    await using var transaction = await connection.BeginTransactionAsync();
                    var table = new System.Data.DataTable();
                    foreach (var (column, type) in new[] { ("series_id", typeof(long)), ("step", typeof(long)), ("time", typeof(long)), ("seq", typeof(long)), ("kind", typeof(short)), ("num", typeof(double)), ("txt", typeof(string)), ("bin", typeof(byte[])), ("millis", typeof(int)) })
                    {
                        table.Columns.Add(column, type);
                    }

                    for (var i = 0; i < count; i++)
                    {
                        table.Rows.Add(2_000_000L + ((offset + i) % 10), StepOf(offset + i), 1_714_564_800L, (long)(offset + i), (short)1, 0.5, DBNull.Value, DBNull.Value, 0);
                    }

                    var bulk = new MySqlBulkCopy(connection, transaction) { DestinationTableName = "metric_points" };
                    await bulk.WriteToServerAsync(table);
                    await transaction.CommitAsync();
                });
                bulkNote = "raw: MySqlBulkCopy (LOAD DATA LOCAL) in a transaction";
            }
            catch (Exception exception)
            {
                bulkNote = $"raw: MySqlBulkCopy failed ({exception.GetType().Name}: {exception.Message.Split('\n')[0]})";
            }

            Print("mysql", "store port: AppendAsync (upsert series + multi-row INSERT + commit)", storeTime, points, rawInsert);
            Print("mysql", BareNote(storeTime, bareTime), bareTime, points, rawInsert);
            Print("mysql", $"raw: {batch}-row INSERT statements in a transaction, same table", rawInsert, points, rawInsert);
            if (rawBulk is { } bulkTime)
            {
                Print("mysql", bulkNote, bulkTime, points, rawInsert);
            }
            else
            {
                Console.WriteLine($"| mysql | {bulkNote} | | | |");
            }
        }
    }

    /// <summary>A few appends into runs of their own before the clock starts (JIT, connection pool, prepared statements).</summary>
    private static Task WarmUpAsync(IMetricStore store, int batch, int writers) =>
        StorePathAsync(store, 2 * batch * writers, batch, writers, "exp-warm");

    /// <summary>The store path with summary upkeep switched off (a benchmark-only switch), into runs of their own.</summary>
    private static async Task<TimeSpan> WithoutSummariesAsync(IMetricStore store, int points, int batch, int writers)
    {
        RelationalMetricStore.SkipSummariesForBenchmark = true;
        try
        {
            return await StorePathAsync(store, points, batch, writers, "exp-bare");
        }
        finally
        {
            RelationalMetricStore.SkipSummariesForBenchmark = false;
        }
    }

    private static string BareNote(TimeSpan withSummaries, TimeSpan without) => string.Create(
        CultureInfo.InvariantCulture,
        $"store port without summary upkeep (benchmark-only switch; summaries cost {1 - (without.TotalSeconds / withSummaries.TotalSeconds):P0} of the rate)");

    private static Task<TimeSpan> StorePathAsync(IMetricStore store, int points, int batch, int writers, string runPrefix = "exp-bench") =>
        ParallelAsync(points, batch, writers, async (offset, count) =>
        {
            var series = Enumerable.Range(0, 10).Select(s => new List<MetricPoint>(count / 10 + 1)).ToArray();
            for (var i = 0; i < count; i++)
            {
                series[(offset + i) % 10].Add(MetricPoint.OfFloat(StepOf(offset + i), 1_714_564_800, 0.5f));
            }

            // Appends go round-robin to one of `writers` runs, so concurrent appends mostly touch different series, as concurrent
            // training runs do (appends to one series take turns on its row lock, which hands out the point seq numbers).
            var run = $"{runPrefix}-{offset / batch % writers}";
            await store.AppendAsync(series.Select((p, s) => new MetricSeriesPoints(run, $"loss/{s}", p)).ToList());
        });

    /// <summary>Runs <paramref name="points"/> / <paramref name="batch"/> calls on <paramref name="writers"/> concurrent workers.</summary>
    private static async Task<TimeSpan> ParallelAsync(int points, int batch, int writers, Func<int, int, Task> call)
    {
        var next = -batch;
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
        {
            while (true)
            {
                var offset = Interlocked.Add(ref next, batch);
                if (offset >= points)
                {
                    return;
                }

                await call(offset, Math.Min(batch, points - offset));
            }
        })));
        return Stopwatch.GetElapsedTime(started);
    }

    private static void Print(string backend, string path, TimeSpan elapsed, int points, TimeSpan raw) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {backend} | {path} | {elapsed.TotalSeconds:0.00} | {points / elapsed.TotalSeconds:N0} | {raw.TotalSeconds / elapsed.TotalSeconds:P0} |"));
}
