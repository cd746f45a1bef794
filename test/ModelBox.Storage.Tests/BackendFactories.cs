using Dapper;
using ModelBox.Domain.Storage;
using ModelBox.Domain.Changes;
using ModelBox.Storage.MySql;
using ModelBox.Storage.Postgres;
using ModelBox.Storage.Relational;
using ModelBox.Storage.Sqlite;
using ModelBox.Testing;

namespace ModelBox.Storage.Tests;

/// <summary>
/// A migrated backend on a fresh database of its own (a temporary SQLite file, a PostgreSQL or MariaDB database), dropped
/// when disposed. Every specification suite takes its backend from one of these, so a new database needs one factory
/// here and one line per suite.
/// </summary>
internal abstract class RelationalBackendFactory : IAsyncDisposable
{
    private IAsyncDisposable? _database;
    private IAsyncDisposable? _dialect;
    private IAsyncDisposable? _signal;

    public RelationalMetadataStore Store { get; private set; } = null!;

    public IChangeSignal Signal { get; private set; } = null!;

    public InProcessChangeSignal LocalSignal { get; } = new();

    /// <summary>A fresh, migrated backend with all its ports.</summary>
    public async Task<MetadataBackend> CreateAsync()
    {
        var (database, connectionString) = await CreateDatabaseAsync();
        _database = database;
        var dialect = CreateDialect(connectionString);
        _dialect = (IAsyncDisposable)dialect;
        Store = new RelationalMetadataStore(dialect, LocalSignal);
        await Store.MigrateAsync();
        var signal = await CreateSignalAsync(dialect, Store);
        _signal = signal as IAsyncDisposable;
        Signal = signal;
        IMetricStore metrics = new RelationalMetricStore(Store);
        if (GroupsMetricCommits)
        {
            var grouped = new GroupCommitMetricStore(metrics);
            _extras.Add(grouped);
            metrics = grouped;
        }

        return new MetadataBackend(Store, Store, Store, Store, signal, this, Store, metrics);
    }

    /// <summary>Whether the backend's registration puts metric appends behind a <see cref="GroupCommitMetricStore"/>.</summary>
    protected virtual bool GroupsMetricCommits => false;

    /// <summary>The backend's name, as in the store's logs ("sqlite", "postgres", "mysql").</summary>
    public string Name => Store.Dialect.Name;

    /// <summary>Another store process on the same database (a second replica).</summary>
    public RelationalMetadataStore OpenReplica(InProcessChangeSignal localSignal) => new(CreateDialect(ConnectionString!), localSignal);

    protected string? ConnectionString { get; private set; }

    private readonly List<IAsyncDisposable> _extras = [];

    /// <summary>Stores (as separate replicas) on another, empty database that nobody migrated yet.</summary>
    public async Task<RelationalMetadataStore[]> OpenOnEmptyDatabaseAsync(int count)
    {
        var (database, connectionString) = await CreateDatabaseCoreAsync();
        _extras.Add(database);
        return Enumerable.Range(0, count).Select(_ =>
        {
            var dialect = CreateDialect(connectionString);
            _extras.Insert(0, (IAsyncDisposable)dialect);
            return new RelationalMetadataStore(dialect, new InProcessChangeSignal());
        }).ToArray();
    }

    /// <summary>Runs SQL (written with ANSI quotes) on the test database.</summary>
    public async Task ExecuteAsync(string sql, object? parameters = null)
    {
        await using var connection = await Store.Dialect.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync(Store.Dialect.Sql(sql), parameters);
    }

    private async Task<(IAsyncDisposable Database, string ConnectionString)> CreateDatabaseAsync()
    {
        var (database, connectionString) = await CreateDatabaseCoreAsync();
        ConnectionString = connectionString;
        return (database, connectionString);
    }

    protected abstract Task<(IAsyncDisposable Database, string ConnectionString)> CreateDatabaseCoreAsync();

    protected abstract SqlDialect CreateDialect(string connectionString);

    protected abstract Task<IChangeSignal> CreateSignalAsync(SqlDialect dialect, RelationalMetadataStore store);

    public async ValueTask DisposeAsync()
    {
        foreach (var extra in _extras)
        {
            await extra.DisposeAsync();
        }

        if (_signal is not null)
        {
            await _signal.DisposeAsync();
        }

        if (_dialect is not null)
        {
            await _dialect.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }
}

/// <summary>SQLite: a fresh file in a temporary folder, deleted afterwards; replicas are further stores on the same file.</summary>
internal sealed class SqliteBackendFactory : RelationalBackendFactory
{
    protected override bool GroupsMetricCommits => true;

    protected override Task<(IAsyncDisposable Database, string ConnectionString)> CreateDatabaseCoreAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "modelbox-sqlite-tests", Guid.NewGuid().ToString("N"));
        return Task.FromResult<(IAsyncDisposable, string)>((new TemporaryFolder(directory), Path.Combine(directory, "modelbox.db")));
    }

    protected override SqlDialect CreateDialect(string connectionString) =>
        new SqliteDialect(new SqliteStorageOptions { DatabasePath = connectionString });

    protected override Task<IChangeSignal> CreateSignalAsync(SqlDialect dialect, RelationalMetadataStore store) =>
        Task.FromResult<IChangeSignal>(LocalSignal);

    private sealed class TemporaryFolder(string path) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }

            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>PostgreSQL on a database whose default collation is linguistic (see <see cref="PostgresTestDatabase"/>):
/// every ordering and comparison the suites check must come out as on SQLite anyway.</summary>
internal sealed class PostgresBackendFactory : RelationalBackendFactory
{
    protected override async Task<(IAsyncDisposable Database, string ConnectionString)> CreateDatabaseCoreAsync()
    {
        var database = await PostgresTestDatabase.CreateAsync(linguisticCollation: true);
        return (database, database.ConnectionString);
    }

    protected override SqlDialect CreateDialect(string connectionString) =>
        new PostgresDialect(new PostgresStorageOptions { ConnectionString = connectionString, MaxPoolSize = 20 });

    protected override async Task<IChangeSignal> CreateSignalAsync(SqlDialect dialect, RelationalMetadataStore store)
    {
        var signal = new PostgresChangeSignal(LocalSignal, (PostgresDialect)dialect);
        await signal.Listening.WaitAsync(TimeSpan.FromSeconds(60));
        return signal;
    }
}

internal sealed class MySqlBackendFactory : RelationalBackendFactory
{
    protected override async Task<(IAsyncDisposable Database, string ConnectionString)> CreateDatabaseCoreAsync()
    {
        var database = await MySqlTestDatabase.CreateAsync();
        return (database, database.ConnectionString);
    }

    protected override SqlDialect CreateDialect(string connectionString) =>
        new MySqlDialect(new MySqlStorageOptions { ConnectionString = connectionString, MaxPoolSize = 20 });

    protected override Task<IChangeSignal> CreateSignalAsync(SqlDialect dialect, RelationalMetadataStore store) =>
        Task.FromResult<IChangeSignal>(new PollingChangeSignal(LocalSignal, store, TimeSpan.FromMilliseconds(200), "mysql"));
}
