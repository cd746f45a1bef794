using ModelBox.Domain;
using ModelBox.Domain.Registry;
using ModelBox.Domain.Search;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.Relational;

/// <summary>
/// The registry port on the server databases until its relational implementation lands: objects carry no labels, a
/// model version without lineage is created through the metadata store, and every registry feature (labels, aliases,
/// datasets, lineage, search) answers UNIMPLEMENTED naming the backend, so the rest of the API works unchanged.
/// </summary>
public sealed class RegistryNotYetSupported(IMetadataStore store, string backend) : IRegistryStore
{
    private static readonly IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> NoLabels =
        new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);

    public Task<IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>> GetLabelsAsync(
        IReadOnlyCollection<string> objectIds, CancellationToken cancellationToken = default) => Task.FromResult(NoLabels);

    public Task<CreateResult<ModelVersion>> CreateModelVersionAsync(
        ModelVersion version, Lineage lineage, AuditContext audit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lineage);
        return lineage.IsEmpty ? store.CreateModelVersionAsync(version, cancellationToken) : throw NotYet("lineage");
    }

    public Task<LabelWriteResult?> SetLabelsAsync(string objectId, IReadOnlyDictionary<string, string> labels, AuditContext audit, CancellationToken cancellationToken = default) =>
        throw NotYet("labels");

    public Task<LabelWriteResult?> RemoveLabelsAsync(string objectId, IReadOnlyCollection<string> keys, AuditContext audit, CancellationToken cancellationToken = default) =>
        throw NotYet("labels");

    public Task<(ModelAlias Alias, string? PreviousVersionId)> SetAliasAsync(
        string modelId, string alias, string versionId, AuditContext audit, CancellationToken cancellationToken = default) => throw NotYet("aliases");

    public Task<ModelAlias?> GetAliasAsync(string modelId, string alias, CancellationToken cancellationToken = default) => throw NotYet("aliases");

    public Task<IReadOnlyList<ModelAlias>> ListAliasesAsync(string modelId, CancellationToken cancellationToken = default) => throw NotYet("aliases");

    public Task<ModelAlias?> DeleteAliasAsync(string modelId, string alias, AuditContext audit, CancellationToken cancellationToken = default) =>
        throw NotYet("aliases");

    public Task<ModelVersion?> UpdateUniqueTagsAsync(
        string versionId, IReadOnlyCollection<string> add, IReadOnlyCollection<string> remove, AuditContext audit, CancellationToken cancellationToken = default) =>
        throw NotYet("unique tag moves");

    public Task<DatasetRegistration> RegisterDatasetAsync(Dataset dataset, DatasetVersion version, CancellationToken cancellationToken = default) =>
        throw NotYet("datasets");

    public Task<Dataset?> GetDatasetAsync(string id, CancellationToken cancellationToken = default) => throw NotYet("datasets");

    public Task<DatasetVersion?> GetDatasetVersionAsync(string id, CancellationToken cancellationToken = default) => throw NotYet("datasets");

    public Task<Page<Dataset>> ListDatasetsAsync(string @namespace, PageRequest page, CancellationToken cancellationToken = default) =>
        throw NotYet("datasets");

    public Task<IReadOnlyList<DatasetVersion>> ListDatasetVersionsAsync(string datasetId, CancellationToken cancellationToken = default) =>
        throw NotYet("datasets");

    public Task<bool> SetLineageAsync(string subjectId, Lineage lineage, AuditContext audit, CancellationToken cancellationToken = default) =>
        throw NotYet("lineage");

    public Task<Lineage?> GetRecordedLineageAsync(string subjectId, CancellationToken cancellationToken = default) => throw NotYet("lineage");

    public Task<LineageGraph?> GetLineageAsync(string versionId, CancellationToken cancellationToken = default) => throw NotYet("lineage");

    public Task<IReadOnlyList<ModelVersion>> ListVersionsTrainedInAsync(string experimentId, CancellationToken cancellationToken = default) =>
        throw NotYet("lineage");

    public Task<DatasetUsage> GetDatasetUsageAsync(string datasetOrVersionId, CancellationToken cancellationToken = default) => throw NotYet("lineage");

    public Task<Page<Experiment>> SearchExperimentsAsync(SearchQuery query, PageRequest page, CancellationToken cancellationToken = default) =>
        throw NotYet("search and label selectors");

    public Task<Page<Model>> SearchModelsAsync(SearchQuery query, PageRequest page, CancellationToken cancellationToken = default) =>
        throw NotYet("search and label selectors");

    public Task<Page<ModelVersion>> SearchModelVersionsAsync(SearchQuery query, PageRequest page, CancellationToken cancellationToken = default) =>
        throw NotYet("search and label selectors");

    private ModelBoxException NotYet(string feature) =>
        new(ErrorKind.Unimplemented, $"{feature}: not available on the {backend} backend yet (the integrated SQLite backend has them)");
}
