using Microsoft.Data.Sqlite;
using ModelBox.Domain;
using ModelBox.Domain.Storage;
using ModelBox.Storage.Sqlite;

namespace ModelBox.Storage.Tests;

public sealed class SqliteMetricStoreTests : MetricStoreSpecification
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "modelbox-sqlite-tests", Guid.NewGuid().ToString("N"));
    private SqliteMetadataStore? _database;

    private string DatabasePath => Path.Combine(_directory, "modelbox.db");

    protected override async Task<IMetricStore> CreateStoreAsync()
    {
        _database = new SqliteMetadataStore(new SqliteStoreOptions(DatabasePath));
        await _database.MigrateAsync();
        return new SqliteMetricStore(_database);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task An_acknowledged_append_is_committed_for_any_other_connection()
    {
        await Store.AppendAsync([new MetricSeriesPoints(Run, "loss", [MetricPoint.OfFloat(1, 1, 0.5f), MetricPoint.OfFloat(2, 1, 0.25f)])]);

        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM metric_points p JOIN metric_series s ON s.id = p.series_id WHERE s.parent_id = 'exp-run'";
        Assert.Equal(2L, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Disposing_commits_what_was_queued_and_later_appends_are_refused()
    {
        var appends = Enumerable.Range(0, 20)
            .Select(i => Store.AppendAsync([new MetricSeriesPoints(Run, "loss", [MetricPoint.OfDouble(i, 1, i)])]))
            .ToArray();

        await ((SqliteMetricStore)Store).DisposeAsync();

        Assert.Equal(20, (await Task.WhenAll(appends)).Sum());
        var error = await Assert.ThrowsAsync<ModelBoxException>(() => Store.AppendAsync([new MetricSeriesPoints(Run, "loss", [MetricPoint.OfDouble(0, 1, 0)])]));
        Assert.Equal(ErrorKind.Unavailable, error.Kind);
        await using var reopened = new SqliteMetricStore(_database!);
        Assert.Equal(20, Assert.Single(await reopened.ReadAllAsync(Run)).Points.Count);
    }

    [Fact]
    public async Task Range_reads_and_pages_seek_the_primary_key_of_the_points_table()
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        await connection.OpenAsync();

        var range = await PlanAsync(connection, "SELECT step FROM metric_points WHERE series_id = 1 AND step BETWEEN 5 AND 9 ORDER BY step, time, seq");
        var page = await PlanAsync(connection,
            "SELECT step FROM metric_points WHERE series_id = 1 AND (step, time, seq) > (1, 2, 3) ORDER BY step, time, seq LIMIT 11");

        Assert.Contains("SEARCH metric_points USING PRIMARY KEY", range, StringComparison.Ordinal);
        Assert.Contains("SEARCH metric_points USING PRIMARY KEY", page, StringComparison.Ordinal);
        Assert.DoesNotContain("TEMP B-TREE", range + page, StringComparison.Ordinal);
    }

    private static async Task<string> PlanAsync(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + sql;
        await using var reader = await command.ExecuteReaderAsync();
        var plan = new List<string>();
        while (await reader.ReadAsync())
        {
            plan.Add(reader.GetString(3));
        }

        return string.Join("\n", plan);
    }
}
