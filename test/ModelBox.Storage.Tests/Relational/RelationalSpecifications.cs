using ModelBox.Domain.Changes;
using ModelBox.Domain.Storage;
using ModelBox.Storage.Relational;

namespace ModelBox.Storage.Tests.Relational;

// Every specification suite on PostgreSQL and on MariaDB/MySQL, each test on a fresh database of its own.

public sealed class PostgresChangeLogTests : ChangeLogSpecification
{
    protected override Task<MetadataBackend> CreateBackendAsync() => new PostgresBackendFactory().CreateAsync();
}

public sealed class PostgresObjectMetadataTests : ObjectMetadataSpecification
{
    protected override Task<MetadataBackend> CreateBackendAsync() => new PostgresBackendFactory().CreateAsync();
}

public sealed class PostgresEventStoreTests : EventStoreSpecification
{
    protected override Task<MetadataBackend> CreateBackendAsync() => new PostgresBackendFactory().CreateAsync();
}

public sealed class PostgresRegistryStoreTests : RegistryStoreSpecification
{
    protected override Task<MetadataBackend> CreateBackendAsync() => new PostgresBackendFactory().CreateAsync();
}

public sealed class MySqlRegistryStoreTests : RegistryStoreSpecification
{
    protected override Task<MetadataBackend> CreateBackendAsync() => new MySqlBackendFactory().CreateAsync();
}

public sealed class MySqlChangeLogTests : ChangeLogSpecification
{
    protected override Task<MetadataBackend> CreateBackendAsync() => new MySqlBackendFactory().CreateAsync();
}

public sealed class MySqlObjectMetadataTests : ObjectMetadataSpecification
{
    protected override Task<MetadataBackend> CreateBackendAsync() => new MySqlBackendFactory().CreateAsync();
}

public sealed class MySqlEventStoreTests : EventStoreSpecification
{
    protected override Task<MetadataBackend> CreateBackendAsync() => new MySqlBackendFactory().CreateAsync();
}

public abstract class RelationalMetadataStoreTests : MetadataStoreSpecification
{
    private RelationalBackendFactory? _factory;

    private protected abstract RelationalBackendFactory CreateFactory();

    protected override async Task<IMetadataStore> CreateStoreAsync()
    {
        _factory = CreateFactory();
        return (await _factory.CreateAsync()).Store;
    }

    protected override Task RecordMigrationAsync(long version) => _factory!.ExecuteAsync(
        "INSERT INTO \"VersionInfo\" (\"Version\", \"AppliedOn\", \"Description\") VALUES (@Version, @AppliedOn, 'from the future')",
        new { Version = version, AppliedOn = DateTime.UtcNow });

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }
    }

    [Fact]
    public async Task Migrating_again_changes_nothing()
    {
        var experiment = await CreateExperimentAsync("default", "run");

        await Store.MigrateAsync();

        Assert.Equal(experiment.Name, (await Store.GetExperimentAsync(experiment.Id))!.Name);
        var status = await Store.GetSchemaStatusAsync();
        Assert.Equal(status.LatestKnownVersion, status.CurrentVersion);
    }
}

public sealed class PostgresMetadataStoreTests : RelationalMetadataStoreTests
{
    private protected override RelationalBackendFactory CreateFactory() => new PostgresBackendFactory();
}

public sealed class MySqlMetadataStoreTests : RelationalMetadataStoreTests
{
    private protected override RelationalBackendFactory CreateFactory() => new MySqlBackendFactory();
}

public abstract class RelationalMetricStoreTests : MetricStoreSpecification
{
    private RelationalBackendFactory? _factory;

    private protected abstract RelationalBackendFactory CreateFactory();

    protected override async Task<IMetricStore> CreateStoreAsync()
    {
        _factory = CreateFactory();
        await _factory.CreateAsync();
        return new RelationalMetricStore(_factory.Store);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }
    }
}

public sealed class PostgresMetricStoreTests : RelationalMetricStoreTests
{
    private protected override RelationalBackendFactory CreateFactory() => new PostgresBackendFactory();
}

public sealed class MySqlMetricStoreTests : RelationalMetricStoreTests
{
    private protected override RelationalBackendFactory CreateFactory() => new MySqlBackendFactory();
}

public abstract class RelationalFileRecordStoreTests : FileRecordStoreSpecification
{
    private RelationalBackendFactory? _factory;
    private RelationalMetadataStore? _second;

    private protected abstract RelationalBackendFactory CreateFactory();

    protected override async Task<(IMetadataStore Objects, IFileRecordStore Files)> CreateStoresAsync()
    {
        _factory = CreateFactory();
        await _factory.CreateAsync();
        return (_factory.Store, _factory.Store);
    }

    protected override Task<(IMetadataStore Objects, IFileRecordStore Files)> OpenSecondStoresAsync()
    {
        _second = _factory!.OpenReplica(new InProcessChangeSignal());
        return Task.FromResult<(IMetadataStore, IFileRecordStore)>((_second, _second));
    }

    public override async Task DisposeAsync()
    {
        if (_second is not null)
        {
            await ((IAsyncDisposable)_second.Dialect).DisposeAsync();
        }

        await base.DisposeAsync();
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }
    }
}

public sealed class PostgresFileRecordStoreTests : RelationalFileRecordStoreTests
{
    private protected override RelationalBackendFactory CreateFactory() => new PostgresBackendFactory();
}

public sealed class MySqlFileRecordStoreTests : RelationalFileRecordStoreTests
{
    private protected override RelationalBackendFactory CreateFactory() => new MySqlBackendFactory();
}
