namespace ModelBox.Storage.Tests.Backends;

// Every store specification suite on MariaDB/MySQL, each test on a fresh database of its own.

public sealed class MySqlChangeLogTests : ChangeLogSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new MySqlBackendFactory();
}

public sealed class MySqlObjectMetadataTests : ObjectMetadataSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new MySqlBackendFactory();
}

public sealed class MySqlEventStoreTests : EventStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new MySqlBackendFactory();
}

public sealed class MySqlRegistryStoreTests : RegistryStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new MySqlBackendFactory();
}

public sealed class MySqlFileRecordStoreTests : FileRecordStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new MySqlBackendFactory();
}

public sealed class MySqlReplicaTests : ReplicaSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new MySqlBackendFactory();
}

public sealed class MySqlMetadataStoreTests : MetadataStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new MySqlBackendFactory();
}

public sealed class MySqlMetricStoreTests : MetricStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new MySqlBackendFactory();
}

public sealed class MySqlMlflowExperimentStoreTests : MlflowExperimentStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new MySqlBackendFactory();
}

public sealed class MySqlTableTransferTests : TableTransferSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new MySqlBackendFactory();
}

public sealed class MySqlAccessStoreTests : AccessStoreSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new MySqlBackendFactory();
}
