using ModelBox.Storage.Sqlite;

namespace ModelBox.Storage.Tests;

/// <summary>Creates fresh SQLite backends in a temporary folder and deletes them afterwards.</summary>
internal sealed class SqliteBackendFactory : IAsyncDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "modelbox-sqlite-tests", Guid.NewGuid().ToString("N"));
    private SqliteMetadataStore? _store;
    private SqliteMetricStore? _metrics;

    public async Task<MetadataBackend> CreateAsync()
    {
        var store = _store = new SqliteMetadataStore(new SqliteStoreOptions(Path.Combine(_directory, "modelbox.db")));
        await store.MigrateAsync();
        _metrics = new SqliteMetricStore(store);
        return new MetadataBackend(store, store, store, store, store.ChangeSignal, this, store, _metrics);
    }

    public async ValueTask DisposeAsync()
    {
        if (_metrics is not null)
        {
            await _metrics.DisposeAsync();
        }

        if (_store is not null)
        {
            await _store.DisposeAsync();
        }

        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}

public sealed class SqliteChangeLogTests : ChangeLogSpecification
{
    protected override Task<MetadataBackend> CreateBackendAsync() => new SqliteBackendFactory().CreateAsync();
}

public sealed class SqliteObjectMetadataTests : ObjectMetadataSpecification
{
    protected override Task<MetadataBackend> CreateBackendAsync() => new SqliteBackendFactory().CreateAsync();
}

public sealed class SqliteEventStoreTests : EventStoreSpecification
{
    protected override Task<MetadataBackend> CreateBackendAsync() => new SqliteBackendFactory().CreateAsync();
}

public sealed class SqliteRegistryStoreTests : RegistryStoreSpecification
{
    protected override Task<MetadataBackend> CreateBackendAsync() => new SqliteBackendFactory().CreateAsync();
}
