using Microsoft.Data.Sqlite;
using ModelBox.Domain;
using ModelBox.Domain.Storage;
using ModelBox.Storage.Sqlite;

namespace ModelBox.Storage.Tests;

public sealed class SqliteMetadataStoreTests : MetadataStoreSpecification
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "modelbox-sqlite-tests", Guid.NewGuid().ToString("N"));
    private readonly List<SqliteMetadataStore> _extraStores = [];

    private string DatabasePath => Path.Combine(_directory, "metadata", "modelbox.db");

    protected override async Task<IMetadataStore> CreateStoreAsync()
    {
        var store = new SqliteMetadataStore(new SqliteStoreOptions(DatabasePath));
        await store.MigrateAsync();
        return store;
    }

    protected override async Task RecordMigrationAsync(long version)
    {
        await using var connection = await OpenRawConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO VersionInfo (Version, AppliedOn, Description) VALUES ($version, '2030-01-01', 'from the future')";
        command.Parameters.AddWithValue("$version", version);
        await command.ExecuteNonQueryAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var store in _extraStores)
        {
            await store.DisposeAsync();
        }

        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

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
        var store = (SqliteMetadataStore)Store;
        await using var connection = await store.OpenConnectionAsync(CancellationToken.None);

        Assert.Equal(1L, await ScalarAsync<long>(connection, "PRAGMA foreign_keys"));
        Assert.Equal(5000L, await ScalarAsync<long>(connection, "PRAGMA busy_timeout"));
        Assert.Equal(1L, await ScalarAsync<long>(connection, "PRAGMA synchronous")); // NORMAL
        var error = await Assert.ThrowsAsync<SqliteException>(() => ScalarAsync<long>(
            connection,
            "INSERT INTO checkpoints (id, experiment_id, epoch, metrics, created_at, updated_at) VALUES ('c', 'no-such-experiment', 1, '{}', 0, 0)"));
        Assert.Equal(19, error.SqliteErrorCode); // SQLITE_CONSTRAINT
    }

    [Fact]
    public async Task Migrating_again_changes_nothing()
    {
        var experiment = await CreateExperimentAsync("default", "run");
        long migrations;
        await using (var before = await OpenRawConnectionAsync())
        {
            migrations = await ScalarAsync<long>(before, "SELECT COUNT(*) FROM VersionInfo");
        }

        await Store.MigrateAsync();
        await using (var second = await OpenAnotherStoreAsync())
        {
            await second.MigrateAsync();
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
        await ((SqliteMetadataStore)Store).DisposeAsync();

        await using var reopened = await OpenAnotherStoreAsync();
        await reopened.MigrateAsync();

        AssertSame(experiment, await reopened.GetExperimentAsync(experiment.Id));
        AssertSame(checkpoint, await reopened.GetCheckpointAsync(checkpoint.Id));
        Assert.Equal(["default"], (await reopened.ListNamespacesAsync(PageRequest.All)).Items.Select(ns => ns.Name));
    }

    [Fact]
    public async Task Two_stores_on_one_file_see_each_others_writes()
    {
        await using var other = await OpenAnotherStoreAsync();
        var experiment = await CreateExperimentAsync("default", "run");

        var created = await other.CreateCheckpointAsync(Checkpoint(experiment.Id, 1, T0));

        Assert.False(created.Existed);
        AssertSame(created.Value, await Store.GetCheckpointAsync(created.Value.Id));
    }

    [Fact]
    public async Task A_database_locked_past_the_busy_timeout_is_unavailable()
    {
        await using var impatient = new SqliteMetadataStore(new SqliteStoreOptions(DatabasePath, BusyTimeoutMilliseconds: 50));
        await using var locker = await OpenRawConnectionAsync();
        await using var transaction = locker.BeginTransaction(deferred: false);

        var error = await Assert.ThrowsAsync<ModelBoxException>(() => impatient.CreateModelAsync(Model("default", "m", T0)));

        Assert.Equal(ErrorKind.Unavailable, error.Kind);
        await transaction.RollbackAsync();
        Assert.False((await impatient.CreateModelAsync(Model("default", "m", T0))).Existed);
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

    private async Task<SqliteMetadataStore> OpenAnotherStoreAsync()
    {
        var store = new SqliteMetadataStore(new SqliteStoreOptions(DatabasePath));
        await store.MigrateAsync();
        return store;
    }

    private async Task<SqliteConnection> OpenRawConnectionAsync()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString());
        await connection.OpenAsync();
        return connection;
    }

    private static async Task<T> ScalarAsync<T>(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (T)(await command.ExecuteScalarAsync())!;
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
