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

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
