namespace ModelBox.Storage.Tests.Backends;

// Every store specification suite on PostgreSQL (a database with a linguistic default collation), each test on a fresh database of its own.

public sealed class PostgresChangeLogTests : ChangeLogSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new PostgresBackendFactory();
}

public sealed class PostgresObjectMetadataTests : ObjectMetadataSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new PostgresBackendFactory();
}

public sealed class PostgresEventStoreTests : EventStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new PostgresBackendFactory();
}

public sealed class PostgresRegistryStoreTests : RegistryStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new PostgresBackendFactory();
}

public sealed class PostgresFileRecordStoreTests : FileRecordStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new PostgresBackendFactory();
}

public sealed class PostgresReplicaTests : ReplicaSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new PostgresBackendFactory();
}

public sealed class PostgresMetadataStoreTests : MetadataStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new PostgresBackendFactory();
}

public sealed class PostgresMetricStoreTests : MetricStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new PostgresBackendFactory();
}

public sealed class PostgresMlflowExperimentStoreTests : MlflowExperimentStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new PostgresBackendFactory();
}

public sealed class PostgresTableTransferTests : TableTransferSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new PostgresBackendFactory();
}

public sealed class PostgresAccessStoreTests : AccessStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new PostgresBackendFactory();
}
