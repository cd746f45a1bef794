using Microsoft.Data.Sqlite;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Storage.Relational;
using ModelBox.Storage.Sqlite;

namespace ModelBox.Storage.Tests.Backends;

// Every store specification suite on SQLite (a temporary file), each test on a fresh database of its own. The replica
// suite is the server databases' contract (watchers woken across processes); one SQLite file is served by one server.

public sealed class SqliteChangeLogTests : ChangeLogSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new SqliteBackendFactory();
}

public sealed class SqliteObjectMetadataTests : ObjectMetadataSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new SqliteBackendFactory();
}

public sealed class SqliteEventStoreTests : EventStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new SqliteBackendFactory();
}

public sealed class SqliteRegistryStoreTests : RegistryStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new SqliteBackendFactory();
}

public sealed class SqliteFileRecordStoreTests : FileRecordStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new SqliteBackendFactory();
}


public sealed class SqliteMetadataStoreTests : MetadataStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new SqliteBackendFactory();

    private SqliteDialect Dialect => (SqliteDialect)Factory.Store.Dialect;

    private string DatabasePath => Dialect.DatabasePath;

    [Fact]
    public void The_database_file_and_its_directory_are_created()
    {
        Assert.True(File.Exists(DatabasePath));
    }

    [Fact]
    public async Task The_database_is_in_wal_mode()
    {
        await using var connection = await OpenRawConnectionAsync();

        Assert.Equal("wal", await ScalarAsync<string>(connection, "PRAGMA journal_mode"));
    }

    [Fact]
    public async Task Store_connections_enforce_foreign_keys_and_wait_for_locks()
    {
        await using var connection = (SqliteConnection)await Dialect.DataSource.OpenConnectionAsync();

        Assert.Equal(1L, await ScalarAsync<long>(connection, "PRAGMA foreign_keys"));
        Assert.Equal(5000L, await ScalarAsync<long>(connection, "PRAGMA busy_timeout"));
        Assert.Equal(1L, await ScalarAsync<long>(connection, "PRAGMA synchronous")); // NORMAL
        var error = await Assert.ThrowsAsync<SqliteException>(() => ScalarAsync<long>(
            connection,
            "INSERT INTO checkpoints (id, experiment_id, epoch, metrics, created_at, updated_at) VALUES ('c', 'no-such-experiment', 1, '{}', 0, 0)"));
        Assert.Equal(19, error.SqliteErrorCode); // SQLITE_CONSTRAINT
    }

    [Fact]
    public async Task Migrating_again_from_another_store_records_no_migration_twice()
    {
        var experiment = await CreateExperimentAsync("default", "run");
        long migrations;
        await using (var before = await OpenRawConnectionAsync())
        {
            migrations = await ScalarAsync<long>(before, "SELECT COUNT(*) FROM VersionInfo");
        }

        await Store.MigrateAsync();
        await using (var second = new SqliteDialect(new SqliteStorageOptions { DatabasePath = DatabasePath }))
        {
            await new RelationalMetadataStore(second, new InProcessChangeSignal()).MigrateAsync();
        }

        AssertSame(experiment, await Store.GetExperimentAsync(experiment.Id));
        await using var connection = await OpenRawConnectionAsync();
        Assert.Equal(migrations, await ScalarAsync<long>(connection, "SELECT COUNT(*) FROM VersionInfo"));
    }

    [Fact]
    public async Task Data_survives_reopening_the_store()
    {
        var experiment = (await Store.CreateExperimentAsync(Experiment("default", "run", T0) with { Metadata = Metadata(("k", "{\"a\": 1}")) })).Value;
        var checkpoint = (await Store.CreateCheckpointAsync(Checkpoint(experiment.Id, 1, T0) with
        {
            Metrics = new Dictionary<string, float> { ["loss"] = 0.25f },
        })).Value;
        await Dialect.DisposeAsync();

        await using var dialect = new SqliteDialect(new SqliteStorageOptions { DatabasePath = DatabasePath });
        var reopened = new RelationalMetadataStore(dialect, new InProcessChangeSignal());
        await reopened.MigrateAsync();

        AssertSame(experiment, await reopened.GetExperimentAsync(experiment.Id));
        AssertSame(checkpoint, await reopened.GetCheckpointAsync(checkpoint.Id));
        Assert.Equal(["default"], (await reopened.ListNamespacesAsync(PageRequest.All)).Items.Select(ns => ns.Name));
    }

    [Fact]
    public async Task Two_stores_on_one_file_see_each_others_writes()
    {
        var other = Factory.OpenReplica(new InProcessChangeSignal());
        await using var otherDialect = (SqliteDialect)other.Dialect;
        var experiment = await CreateExperimentAsync("default", "run");

        var created = await other.CreateCheckpointAsync(Checkpoint(experiment.Id, 1, T0));

        Assert.False(created.Existed);
        AssertSame(created.Value, await Store.GetCheckpointAsync(created.Value.Id));
    }

    [Fact]
    public async Task A_database_locked_past_the_busy_timeout_is_unavailable()
    {
        await using var impatientDialect = new SqliteDialect(new SqliteStorageOptions { DatabasePath = DatabasePath, BusyTimeoutMilliseconds = 50 });
        var impatient = new RelationalMetadataStore(impatientDialect, new InProcessChangeSignal());
        await using var locker = await OpenRawConnectionAsync();
        await using var transaction = locker.BeginTransaction(deferred: false);

        var error = await Assert.ThrowsAsync<ModelBoxException>(() => impatient.CreateModelAsync(Model("default", "m", T0)));

        Assert.Equal(ErrorKind.Unavailable, error.Kind);
        Assert.Contains("locked by another process", error.Message, StringComparison.Ordinal);
        await transaction.RollbackAsync();
        Assert.False((await impatient.CreateModelAsync(Model("default", "m", T0))).Existed);
    }

    [Fact]
    public async Task Concurrent_writes_share_commits_and_a_failing_one_rolls_back_alone()
    {
        var experiment = await CreateExperimentAsync("default", "run");
        var writes = Enumerable.Range(0, 200).Select(i => i % 10 == 0
            ? Store.CreateCheckpointAsync(Checkpoint("exp-missing", i, T0)).ContinueWith(task => (object?)task.Exception?.InnerException, TaskScheduler.Default)
            : Store.CreateCheckpointAsync(Checkpoint(experiment.Id, i, T0)).ContinueWith(task => (object?)task.Result.Value, TaskScheduler.Default)).ToList();

        var outcomes = await Task.WhenAll(writes);

        Assert.Equal(20, outcomes.Count(outcome => outcome is ModelBoxException { Kind: ErrorKind.NotFound }));
        Assert.Equal(180, outcomes.Count(outcome => outcome is Checkpoint));
        var stored = await Store.ListCheckpointsAsync(experiment.Id, PageRequest.All);
        Assert.Equal(180, stored.Items.Count);
        Assert.All(stored.Items, checkpoint => Assert.NotEqual(0, checkpoint.Epoch % 10));
    }

    [Fact]
    public async Task Listings_seek_through_their_indexes()
    {
        await using var connection = await OpenRawConnectionAsync();

        var experiments = await PlanAsync(
            connection,
            "SELECT id FROM experiments WHERE namespace = 'a' AND deleted_at IS NULL AND (created_at, id) < (1, 'x') ORDER BY created_at DESC, id DESC LIMIT 11");
        var versions = await PlanAsync(
            connection,
            "SELECT id FROM model_versions WHERE model_id = 'm' AND deleted_at IS NULL AND (created_at, id) > (1, 'x') ORDER BY created_at, id LIMIT 11");
        var checkpoints = await PlanAsync(
            connection, "SELECT id FROM checkpoints WHERE experiment_id = 'e' AND deleted_at IS NULL AND epoch > 3 ORDER BY epoch LIMIT 11");

        Assert.Contains("ix_experiments_live_by_created", experiments, StringComparison.Ordinal);
        Assert.Contains("ix_model_versions_live_by_created", versions, StringComparison.Ordinal);
        Assert.Contains("ux_checkpoints_experiment_epoch", checkpoints, StringComparison.Ordinal);
        Assert.DoesNotContain("TEMP B-TREE", experiments + versions + checkpoints, StringComparison.Ordinal);
    }

    [Fact]
    public void The_store_writes_the_keyset_conditions_these_plans_were_checked_for()
    {
        Assert.Equal("(created_at, id) < (@a, @b)", Dialect.KeysetAfter(greater: false, ("created_at", "@a"), ("id", "@b")));
    }

    private Task<SqliteConnection> OpenRawConnectionAsync() => SqliteTestFiles.OpenRawAsync(DatabasePath);

    private static Task<T> ScalarAsync<T>(SqliteConnection connection, string sql) => SqliteTestFiles.ScalarAsync<T>(connection, sql);

    private static Task<string> PlanAsync(SqliteConnection connection, string sql) => SqliteTestFiles.PlanAsync(connection, sql);
}

public sealed class SqliteMetricStoreTests : MetricStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new SqliteBackendFactory();

    private string DatabasePath => ((SqliteDialect)Factory.Store.Dialect).DatabasePath;

    [Fact]
    public async Task An_acknowledged_append_is_committed_for_any_other_connection()
    {
        await Store.AppendAsync([new MetricSeriesPoints(Run, "loss", [MetricPoint.OfFloat(1, 1, 0.5f), MetricPoint.OfFloat(2, 1, 0.25f)])]);

        await using var connection = await SqliteTestFiles.OpenRawAsync(DatabasePath);
        Assert.Equal(2L, await SqliteTestFiles.ScalarAsync<long>(
            connection, "SELECT COUNT(*) FROM metric_points p JOIN metric_series s ON s.id = p.series_id WHERE s.parent_id = 'exp-run'"));
    }

    [Fact]
    public async Task Disposing_commits_what_was_queued_and_later_appends_are_refused()
    {
        var appends = Enumerable.Range(0, 20)
            .Select(i => Store.AppendAsync([new MetricSeriesPoints(Run, "loss", [MetricPoint.OfDouble(i, 1, i)])]))
            .ToArray();

        await ((GroupCommitMetricStore)Store).DisposeAsync();

        Assert.Equal(20, (await Task.WhenAll(appends)).Sum());
        var error = await Assert.ThrowsAsync<ModelBoxException>(() => Store.AppendAsync([new MetricSeriesPoints(Run, "loss", [MetricPoint.OfDouble(0, 1, 0)])]));
        Assert.Equal(ErrorKind.Unavailable, error.Kind);
        var reopened = new RelationalMetricStore(Factory.Store);
        Assert.Equal(20, Assert.Single(await reopened.ReadAllAsync(Run)).Points.Count);
    }

    [Fact]
    public async Task Non_finite_numbers_are_spelled_in_the_text_column_as_on_the_server_databases()
    {
        await Store.AppendAsync([new MetricSeriesPoints(Run, "loss",
            [MetricPoint.OfDouble(0, 1, double.NaN), MetricPoint.OfDouble(1, 1, double.PositiveInfinity), MetricPoint.OfDouble(2, 1, double.NegativeInfinity), MetricPoint.OfDouble(3, 1, 2.5)])]);

        await using var connection = await SqliteTestFiles.OpenRawAsync(DatabasePath);
        Assert.Equal(
            "NaN|Infinity|-Infinity|2.5",
            await SqliteTestFiles.ScalarAsync<string>(connection, "SELECT group_concat(COALESCE(txt, num), '|') FROM (SELECT txt, num FROM metric_points ORDER BY step)"));
    }

    [Fact]
    public async Task Range_reads_and_pages_seek_the_primary_key_of_the_points_table()
    {
        await using var connection = await SqliteTestFiles.OpenRawAsync(DatabasePath);

        var range = await SqliteTestFiles.PlanAsync(connection, "SELECT step FROM metric_points WHERE series_id = 1 AND step BETWEEN 5 AND 9 ORDER BY step, time, seq");
        var page = await SqliteTestFiles.PlanAsync(connection,
            "SELECT step FROM metric_points WHERE series_id = 1 AND (step, time, seq) > (1, 2, 3) ORDER BY step, time, seq LIMIT 11");

        Assert.Contains("SEARCH metric_points USING PRIMARY KEY", range, StringComparison.Ordinal);
        Assert.Contains("SEARCH metric_points USING PRIMARY KEY", page, StringComparison.Ordinal);
        Assert.DoesNotContain("TEMP B-TREE", range + page, StringComparison.Ordinal);
    }
}

/// <summary>Raw access to a test's SQLite file, around the store.</summary>
internal static class SqliteTestFiles
{
    public static async Task<SqliteConnection> OpenRawAsync(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        await connection.OpenAsync();
        return connection;
    }

    public static async Task<T> ScalarAsync<T>(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (T)(await command.ExecuteScalarAsync())!;
    }

    public static async Task<string> PlanAsync(SqliteConnection connection, string sql)
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

public sealed class SqliteMlflowExperimentStoreTests : MlflowExperimentStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new SqliteBackendFactory();
}

public sealed class SqliteTableTransferTests : TableTransferSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new SqliteBackendFactory();
}

public sealed class SqliteAccessStoreTests : AccessStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new SqliteBackendFactory();
}
