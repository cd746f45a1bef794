using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using ModelBox.Domain;
using ModelBox.Domain.Registry;
using ModelBox.Domain.Search;
using ModelBox.Storage.Sqlite;

namespace ModelBox.Benchmarks;

/// <summary>
/// Search over 10,000 models with a label and a metadata filter through the store (parser → tree → parameterised SQL →
/// rows → domain objects with their metadata) against the equivalent hand-written SQL read with Microsoft.Data.Sqlite on
/// the same file, in the same run.
/// </summary>
public static class SearchBenchmark
{
    private const string Namespace = "bench";
    private const string Filter = "labels.env = 'production' and metadata.params > 500";

    private const string RawSql =
        "SELECT o.id, o.namespace, o.name, o.owner, o.task, o.description, o.created_at, o.updated_at, o.deleted_at FROM models o "
        + "WHERE o.deleted_at IS NULL AND o.namespace = $ns "
        + "AND EXISTS (SELECT 1 FROM object_labels l WHERE l.object_id = o.id AND l.label_key = 'env' AND l.label_value = 'production') "
        + "AND EXISTS (SELECT 1 FROM object_metadata d WHERE d.object_id = o.id AND d.key = 'params' "
        + "AND json_type(d.value_json) IN ('integer', 'real') AND json_extract(d.value_json, '$') > 500) "
        + "ORDER BY o.created_at DESC, o.id DESC LIMIT $take";

    public static async Task RunAsync(string[] args)
    {
        var models = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10_000;
        var iterations = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200;
        var directory = Directory.CreateTempSubdirectory("modelbox-bench-search-").FullName;
        var path = Path.Combine(directory, "modelbox.db");
        try
        {
            await using var store = new SqliteMetadataStore(new SqliteStoreOptions(path));
            await store.MigrateAsync();
            var t0 = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
            var audit = new AuditContext("bench", t0);
            for (var i = 0; i < models; i++)
            {
                var at = t0.AddSeconds(i);
                var name = "model-" + i.ToString(CultureInfo.InvariantCulture);
                var metadata = new Dictionary<string, string> { ["params"] = (i % 1000).ToString(CultureInfo.InvariantCulture) };
                var model = new Model(ObjectIds.Model(Namespace, name), Namespace, name, "owner", "asr", string.Empty, metadata, at, at);
                await store.CreateModelAsync(model);
                await store.SetLabelsAsync(model.Id, new Dictionary<string, string> { ["env"] = i % 10 == 0 ? "production" : "dev" }, audit);
            }

            var query = SearchQueries.Build(SearchTarget.Models, Namespace, Filter, null);
            var firstPage = new PageRequest(100, null);
            var all = PageRequest.All;

            Console.WriteLine("# Search benchmark: store search against hand-written SQL on the same SQLite file");
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{models:N0} models, 10% labelled env=production, metadata params 0..999; filter `{Filter}`; {iterations} iterations per cell"));
            Console.WriteLine();
            Console.WriteLine("| query | store search (µs) | raw SQL (µs) | ratio | rows |");
            Console.WriteLine("|---|---:|---:|---:|---:|");
            foreach (var (label, page, take) in new[] { ("first page of 100", firstPage, 101L), ("all matches", all, -1L) })
            {
                var rows = 0;
                var storeMicros = await MeasureAsync(iterations, async () => rows = (await store.SearchModelsAsync(query, page)).Items.Count);
                var rawRows = 0;
                await using var connection = new SqliteConnection($"Data Source={path}");
                await connection.OpenAsync();
                await using var command = connection.CreateCommand();
                command.CommandText = RawSql;
                command.Parameters.AddWithValue("$ns", Namespace);
                command.Parameters.AddWithValue("$take", take);
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
                if (page.Limit is { } limit)
                {
                    rawRows = Math.Min(rawRows, limit);
                }

                if (rows != rawRows)
                {
                    throw new InvalidOperationException($"the store found {rows} rows, the raw SQL {rawRows}");
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {label} | {storeMicros:F0} | {rawMicros:F0} | {storeMicros / rawMicros:F2}x | {rows} |"));
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
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
