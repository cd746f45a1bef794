using ModelBox.Domain.Storage;
using ModelBox.Storage.Sqlite;

namespace ModelBox.Storage.Tests;

public sealed class SqliteFileRecordStoreTests : FileRecordStoreSpecification
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "modelbox-sqlite-tests", Guid.NewGuid().ToString("N"));

    protected override async Task<(IMetadataStore Objects, IFileRecordStore Files)> CreateStoresAsync()
    {
        var store = new SqliteMetadataStore(new SqliteStoreOptions(Path.Combine(_directory, "modelbox.db")));
        await store.MigrateAsync();
        return (store, store);
    }

    private SqliteMetadataStore? _second;

    protected override Task<(IMetadataStore Objects, IFileRecordStore Files)> OpenSecondStoresAsync()
    {
        _second = new SqliteMetadataStore(new SqliteStoreOptions(Path.Combine(_directory, "modelbox.db")));
        return Task.FromResult<(IMetadataStore, IFileRecordStore)>((_second, _second));
    }

    public override async Task DisposeAsync()
    {
        if (_second is not null)
        {
            await _second.DisposeAsync();
        }

        await base.DisposeAsync();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
