using Microsoft.Data.Sqlite;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Storage.Migrations;
using ModelBox.Testing;

namespace ModelBox.EndToEnd.Tests.ServerProcess;

/// <summary>`modelbox server migrate`, and `server start` refusing a schema newer than it knows, on each backend.</summary>
public abstract class SchemaMigrationTests : IAsyncLifetime
{
    /// <summary>A version no ModelBox build will reach for a long time: what a future build would have written.</summary>
    private const long FutureVersion = 990_001;

    protected string Root { get; } = Directory.CreateTempSubdirectory("modelbox-migrate-").FullName;

    /// <summary>The storage settings of the backend under test.</summary>
    protected abstract IReadOnlyDictionary<string, string> Storage { get; }

    /// <summary>How `server migrate` names the store in its output.</summary>
    protected abstract string StorageName { get; }

    /// <summary>Records <paramref name="version"/> as applied, as a newer ModelBox's migration would.</summary>
    protected abstract Task RecordAppliedVersionAsync(long version);

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual Task DisposeAsync()
    {
        Directory.Delete(Root, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Migrate_applies_every_migration_prints_the_version_and_is_idempotent()
    {
        var first = await ModelBoxExecutable.RunAsync(["server", "migrate"], Storage, Root);
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.StartsWith(StorageName + " at ", first.Stdout, StringComparison.Ordinal);
        Assert.Contains($"migrated from schema version 0 to {SchemaMigrations.LatestVersion}", first.Stdout, StringComparison.Ordinal);

        var again = await ModelBoxExecutable.RunAsync(["server", "migrate"], Storage, Root);
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Contains($"schema version {SchemaMigrations.LatestVersion}, up to date", again.Stdout, StringComparison.Ordinal);

        // A migrated store serves at once.
        await using var server = await ModelBoxProcess.StartAsync(Storage, Root);
        var created = await server.Store.CreateExperimentAsync(new ModelBox.Protocol.CreateExperimentRequest { Name = "after-migrate", Namespace = "migrate" });
        Assert.False(created.ExperimentExists);
        var exitCode = await server.StopAsync();
        Assert.True(exitCode == 0, $"exit code {exitCode}:\n{server.Output}");
    }

    [Fact]
    public async Task Start_and_migrate_refuse_a_schema_newer_than_they_know_and_name_the_version_found()
    {
        var migrated = await ModelBoxExecutable.RunAsync(["server", "migrate"], Storage, Root);
        Assert.True(migrated.ExitCode == 0, migrated.Stderr);
        await RecordAppliedVersionAsync(FutureVersion);

        var start = await ModelBoxExecutable.RunAsync(["server", "start"], WithFreeListeners(Storage), Root);
        Assert.Equal(1, start.ExitCode);
        Assert.StartsWith("error: ", start.Stderr, StringComparison.Ordinal);
        Assert.Contains($"schema version {FutureVersion}", start.Stderr, StringComparison.Ordinal);
        Assert.Contains($"version {SchemaMigrations.LatestVersion}", start.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("serving gRPC", start.Stdout, StringComparison.Ordinal);

        var migrate = await ModelBoxExecutable.RunAsync(["server", "migrate"], Storage, Root);
        Assert.Equal(1, migrate.ExitCode);
        Assert.Contains($"schema version {FutureVersion}", migrate.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bootstrap_admin_prints_one_working_token_refuses_a_second_admin_and_gives_another_with_force()
    {
        var first = await ModelBoxExecutable.RunAsync(["server", "bootstrap-admin", "--name", "ops"], Storage, Root);
        Assert.True(first.ExitCode == 0, first.Stderr);
        var token = first.Stdout.Trim();
        Assert.False(string.IsNullOrEmpty(token) || token.Contains('\n', StringComparison.Ordinal), first.Stdout);
        Assert.Contains("it is shown once", first.Stderr, StringComparison.Ordinal);

        var second = await ModelBoxExecutable.RunAsync(["server", "bootstrap-admin", "--name", "ops"], Storage, Root);
        Assert.Equal(1, second.ExitCode);
        Assert.StartsWith("error: an admin exists already", second.Stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, second.Stdout.Trim());

        var forced = await ModelBoxExecutable.RunAsync(["server", "bootstrap-admin", "--name", "ops", "--force"], Storage, Root);
        Assert.True(forced.ExitCode == 0, forced.Stderr);
        Assert.NotEqual(token, forced.Stdout.Trim());

        var missingConfig = await ModelBoxExecutable.RunAsync(
            ["server", "bootstrap-admin", "--config-path", Path.Combine(Root, "absent.toml")], Storage, Root);
        Assert.Equal(1, missingConfig.ExitCode);
        Assert.StartsWith("error: ", missingConfig.Stderr, StringComparison.Ordinal);
        Assert.Contains("absent.toml", missingConfig.Stderr, StringComparison.Ordinal);

        // The printed token is the admin's on a server that enforces access control.
        await using var server = await ModelBoxProcess.StartAsync(new Dictionary<string, string>(Storage) { ["MODELBOX_AUTH_MODE"] = "enforced" }, Root);
        var whoami = await ModelBoxExecutable.RunAsync(
            ["client", "whoami"],
            new Dictionary<string, string> { ["MODELBOX_SERVER_ADDR"] = server.Address, ["MODELBOX_TOKEN"] = token },
            Root);
        Assert.True(whoami.ExitCode == 0, whoami.Stderr);
        Assert.Contains("ops", whoami.Stdout, StringComparison.Ordinal);
    }

    private static Dictionary<string, string> WithFreeListeners(IReadOnlyDictionary<string, string> environment) => new(environment)
    {
        ["MODELBOX_LISTEN_ADDR"] = $"127.0.0.1:{ModelBoxExecutable.FreePort()}",
        ["MODELBOX_HTTP_LISTEN_ADDR"] = $"127.0.0.1:{ModelBoxExecutable.FreePort()}",
        ["MODELBOX_PROMETHEUS_LISTEN_ADDR"] = $"127.0.0.1:{ModelBoxExecutable.FreePort()}",
    };
}

/// <summary>The embedded store: the SQLite file under data_dir.</summary>
public sealed class SqliteSchemaMigrationTests : SchemaMigrationTests
{
    private string DataDir => Path.Combine(Root, "data");

    protected override IReadOnlyDictionary<string, string> Storage => new Dictionary<string, string> { ["MODELBOX_DATA_DIR"] = DataDir };

    protected override string StorageName => "integrated";

    protected override async Task RecordAppliedVersionAsync(long version)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = Path.Combine(DataDir, "modelbox.db"), Pooling = false };
        await using var connection = new SqliteConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"INSERT INTO \"{SchemaMigrations.VersionTable}\" (Version, AppliedOn, Description) VALUES ($version, '2030-01-01T00:00:00', 'from the future')";
        command.Parameters.AddWithValue("$version", version);
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>A fresh database on a server test.sh started.</summary>
public abstract class ServerDatabaseSchemaMigrationTests(string backend) : SchemaMigrationTests
{
    private IServerTestDatabase? _database;

    protected IServerTestDatabase Database => _database ?? throw new InvalidOperationException("not initialized");

    protected override IReadOnlyDictionary<string, string> Storage =>
        new Dictionary<string, string>(ServerTestDatabase.Environment(Database)) { ["MODELBOX_DATA_DIR"] = Path.Combine(Root, "data") };

    protected override string StorageName => backend;

    public override async Task InitializeAsync() => _database = await ServerTestDatabase.CreateAsync(backend, "modelbox_migrate");

    public override async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        await base.DisposeAsync();
    }
}

public sealed class PostgresSchemaMigrationTests() : ServerDatabaseSchemaMigrationTests("postgres")
{
    protected override Task RecordAppliedVersionAsync(long version) =>
        Database.ScalarAsync($"INSERT INTO \"{SchemaMigrations.VersionTable}\" (\"Version\", \"AppliedOn\", \"Description\") VALUES ({version}, now(), 'from the future')");
}

public sealed class MySqlSchemaMigrationTests() : ServerDatabaseSchemaMigrationTests("mysql")
{
    protected override Task RecordAppliedVersionAsync(long version) =>
        Database.ScalarAsync($"INSERT INTO `{SchemaMigrations.VersionTable}` (`Version`, `AppliedOn`, `Description`) VALUES ({version}, NOW(), 'from the future')");
}
