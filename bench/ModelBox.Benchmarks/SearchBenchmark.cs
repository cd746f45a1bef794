using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Registry;
using ModelBox.Domain.Search;
using ModelBox.Domain.Storage;
using ModelBox.Storage.MySql;
using ModelBox.Storage.Postgres;
using ModelBox.Storage.Relational;
using ModelBox.Storage.Sqlite;
using MySqlConnector;
using Npgsql;

namespace ModelBox.Benchmarks;

/// <summary>
/// Search over 10,000 models with a label and a metadata filter through the store (parser → tree → parameterised SQL →
/// rows → domain objects with their metadata) against the equivalent hand-written SQL read with the backend's own driver
/// on the same database, in the same run. SQLite always; PostgreSQL and MySQL/MariaDB when
/// MODELBOX_TEST_POSTGRES_CONNECTION_STRING / MODELBOX_TEST_MYSQL_CONNECTION_STRING (admin-capable) are set, each on a
/// fresh database dropped afterwards.
/// Usage: search [models=10000] [iterations=200]
/// </summary>
public static class SearchBenchmark
{
    private const string Namespace = "bench";
    private const string Filter = "labels.env = 'production' and metadata.params > 500";

    private const string Columns = "o.id, o.namespace, o.name, o.owner, o.task, o.description, o.created_at, o.updated_at, o.deleted_at";

    private const string SqliteRawSql =
        $"SELECT {Columns} FROM models o "
        + "WHERE o.deleted_at IS NULL AND o.namespace = $ns "
        + "AND EXISTS (SELECT 1 FROM object_labels l WHERE l.object_id = o.id AND l.label_key = 'env' AND l.label_value = 'production') "
        + "AND EXISTS (SELECT 1 FROM object_metadata d WHERE d.object_id = o.id AND d.key = 'params' "
        + "AND json_type(d.value_json) IN ('integer', 'real') AND json_extract(d.value_json, '$') > 500) "
        + "ORDER BY o.created_at DESC, o.id DESC LIMIT $take";

    // What one would write by hand on each server database: the JSON is typed and compared in the database.
    private const string PostgresRawSql =
        $"SELECT {Columns} FROM models o "
        + "WHERE o.deleted_at IS NULL AND o.namespace = @ns "
        + "AND EXISTS (SELECT 1 FROM object_labels l WHERE l.object_id = o.id AND l.label_key = 'env' AND l.label_value = 'production') "
        + "AND EXISTS (SELECT 1 FROM object_metadata d WHERE d.object_id = o.id AND d.key = 'params' "
        + "AND jsonb_typeof(d.value_json::jsonb) = 'number' AND (d.value_json::jsonb)::numeric > 500) "
        + "ORDER BY o.created_at DESC, o.id DESC LIMIT @take";

    private const string MySqlRawSql =
        $"SELECT {Columns} FROM models o "
        + "WHERE o.deleted_at IS NULL AND o.namespace = @ns "
        + "AND EXISTS (SELECT 1 FROM object_labels l WHERE l.object_id = o.id AND l.label_key = 'env' AND l.label_value = 'production') "
        + "AND EXISTS (SELECT 1 FROM object_metadata d WHERE d.object_id = o.id AND d.`key` = 'params' "
        + "AND JSON_TYPE(d.value_json) IN ('INTEGER', 'DOUBLE') AND JSON_EXTRACT(d.value_json, '$') > 500) "
        + "ORDER BY o.created_at DESC, o.id DESC LIMIT @take";

    public static async Task RunAsync(string[] args)
    {
        var models = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10_000;
        var iterations = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200;

        Console.WriteLine("# Search benchmark: store search against hand-written SQL on the same database, per backend");
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{models:N0} models, 10% labelled env=production, metadata params 0..999; filter `{Filter}`; {iterations} iterations per cell; "
            + $".NET {Environment.Version}, {Environment.ProcessorCount} cores"));
        Console.WriteLine();
        Console.WriteLine("| backend | query | store search (µs) | raw SQL (µs) | ratio | rows |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|");

        await RunSqliteAsync(models, iterations);
        foreach (var (backend, variable) in new[] { ("postgres", "MODELBOX_TEST_POSTGRES_CONNECTION_STRING"), ("mysql", "MODELBOX_TEST_MYSQL_CONNECTION_STRING") })
        {
            if (Environment.GetEnvironmentVariable(variable) is not { Length: > 0 } admin)
            {
                Console.WriteLine($"| {backend} | not run: {variable} is not set | | | | |");
                continue;
            }

            if (backend == "postgres")
            {
                await RunPostgresAsync(admin, models, iterations);
            }
            else
            {
                await RunMySqlAsync(admin, models, iterations);
            }
        }
    }

    private static async Task RunSqliteAsync(int models, int iterations)
    {
        var directory = Directory.CreateTempSubdirectory("modelbox-bench-search-").FullName;
        var path = Path.Combine(directory, "modelbox.db");
        try
        {
            await using var dialect = new SqliteDialect(new SqliteStorageOptions { DatabasePath = path });
            var store = new RelationalMetadataStore(dialect, new InProcessChangeSignal());
            await store.MigrateAsync();
            await SeedAsync(store, store, models, writers: 1);
            await using var connection = new SqliteConnection($"Data Source={path}");
            await connection.OpenAsync();
            await CompareAsync("sqlite", store, iterations, take =>
            {
                var command = connection.CreateCommand();
                command.CommandText = SqliteRawSql;
                command.Parameters.AddWithValue("$ns", Namespace);
                command.Parameters.AddWithValue("$take", take ?? -1L);
                return command;
            });
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task RunPostgresAsync(string admin, int models, int iterations)
    {
        await using var database = await BenchDatabase.CreatePostgresAsync(admin);
        var connectionString = database.ConnectionString;
        {
            await using var dialect = new PostgresDialect(new PostgresStorageOptions { ConnectionString = connectionString });
            var store = new RelationalMetadataStore(dialect, new InProcessChangeSignal());
            await store.MigrateAsync();
            await SeedAsync(store, store, models, writers: 4);
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await new NpgsqlCommand("ANALYZE", connection).ExecuteNonQueryAsync();
            await CompareAsync("postgres", store, iterations, take =>
            {
                var command = new NpgsqlCommand(PostgresRawSql, connection);
                command.Parameters.AddWithValue("ns", Namespace);
                command.Parameters.AddWithValue("take", take ?? long.MaxValue);
                return command;
            });
        }
    }

    private static async Task RunMySqlAsync(string admin, int models, int iterations)
    {
        await using var database = await BenchDatabase.CreateMySqlAsync(admin);
        var connectionString = database.ConnectionString;
        {
            await using var dialect = new MySqlDialect(new MySqlStorageOptions { ConnectionString = connectionString });
            var store = new RelationalMetadataStore(dialect, new InProcessChangeSignal());
            await store.MigrateAsync();
            await SeedAsync(store, store, models, writers: 4);
            await using var connection = new MySqlConnection(connectionString);
            await connection.OpenAsync();
            await new MySqlCommand("ANALYZE TABLE models, object_labels, object_metadata", connection).ExecuteNonQueryAsync();
            await CompareAsync("mysql", store, iterations, take =>
            {
                var command = new MySqlCommand(MySqlRawSql, connection);
                command.Parameters.AddWithValue("@ns", Namespace);
                command.Parameters.AddWithValue("@take", take ?? long.MaxValue);
                return command;
            });
        }
    }

    /// <summary>Creates the models and their labels through the store ports, on <paramref name="writers"/> concurrent writers.</summary>
    private static async Task SeedAsync(IMetadataStore store, IRegistryStore registry, int models, int writers)
    {
        var t0 = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var audit = new AuditContext("bench", t0);
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < models; i = Interlocked.Increment(ref next))
            {
                var at = t0.AddSeconds(i);
                var name = "model-" + i.ToString(CultureInfo.InvariantCulture);
                var metadata = new Dictionary<string, string> { ["params"] = (i % 1000).ToString(CultureInfo.InvariantCulture) };
                var model = new Model(ObjectIds.Model(Namespace, name), Namespace, name, "owner", "asr", string.Empty, metadata, at, at);
                await store.CreateModelAsync(model);
                await registry.SetLabelsAsync(model.Id, new Dictionary<string, string> { ["env"] = i % 10 == 0 ? "production" : "dev" }, audit);
            }
        })));
    }

    /// <summary>Prints one row per query shape: the store's search beside <paramref name="raw"/> (a command for a LIMIT, or
    /// none), after checking that both found the same number of rows.</summary>
    private static async Task CompareAsync(string backend, IRegistryStore registry, int iterations, Func<long?, DbCommand> raw)
    {
        var query = SearchQueries.Build(SearchTarget.Models, Namespace, Filter, null);
        foreach (var (label, page) in new[] { ("first page of 100", new PageRequest(100, null)), ("all matches", PageRequest.All) })
        {
            var rows = 0;
            var storeMicros = await MeasureAsync(iterations, async () => rows = (await registry.SearchModelsAsync(query, page)).Items.Count);
            await using var command = raw(page.Limit is { } limit ? limit + 1 : null);
            var rawRows = 0;
            var rawMicros = await MeasureAsync(iterations, async () =>
            {
                rawRows = 0;
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    _ = (reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5),
                        reader.GetInt64(6), reader.GetInt64(7));
                    rawRows++;
                }
            });
            if (page.Limit is { } pageLimit)
            {
                rawRows = Math.Min(rawRows, pageLimit);
            }

            if (rows != rawRows)
            {
                throw new InvalidOperationException($"{backend}: the store found {rows} rows, the raw SQL {rawRows}");
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {backend} | {label} | {storeMicros:F0} | {rawMicros:F0} | {storeMicros / rawMicros:F2}x | {rows} |"));
        }
    }

    private static async Task<double> MeasureAsync(int iterations, Func<Task> body)
    {
        for (var i = 0; i < Math.Max(5, iterations / 10); i++)
        {
            await body();
        }

        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < iterations; i++)
        {
            await body();
        }

        return Stopwatch.GetElapsedTime(started).TotalMicroseconds / iterations;
    }
}
