using ModelBox.Domain.Registry;
using ModelBox.Domain.Search;

namespace ModelBox.Domain.Storage;

/// <summary>
/// The storage port of the operational registry: labels, aliases, unique tags, datasets, lineage and search.
/// Every write runs in one transaction that also appends its change record(s) and its audit event(s)
/// (built by <see cref="RegistryRecords"/>, so every backend writes the same documents). Ids, timestamps, validation and
/// actors come from the domain. Reads leave soft-deleted objects out.
/// </summary>
public interface IRegistryStore
{
    /// <summary>Sets (adds or overwrites) labels of a live experiment, model or model version; null when it does not exist or is deleted.</summary>
    Task<LabelWriteResult?> SetLabelsAsync(string objectId, IReadOnlyDictionary<string, string> labels, AuditContext audit, CancellationToken cancellationToken = default);

    /// <summary>Removes label keys (absent keys are ignored); null when the object does not exist or is deleted.</summary>
    Task<LabelWriteResult?> RemoveLabelsAsync(string objectId, IReadOnlyCollection<string> keys, AuditContext audit, CancellationToken cancellationToken = default);

    /// <summary>The labels of many objects, keyed by object id; objects without labels are absent.</summary>
    Task<IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>> GetLabelsAsync(
        IReadOnlyCollection<string> objectIds, CancellationToken cancellationToken = default);

    /// <summary>
    /// Points an alias of a live model at one of its live versions, replacing where it pointed before, atomically.
    /// Throws NotFound for a missing model or version and FailedPrecondition for a version of another model.
    /// Returns the alias and the version it pointed at before (null when new).
    /// </summary>
    Task<(ModelAlias Alias, string? PreviousVersionId)> SetAliasAsync(
        string modelId, string alias, string versionId, AuditContext audit, CancellationToken cancellationToken = default);

    /// <summary>An alias of a live model; null when the model or alias does not exist.</summary>
    Task<ModelAlias?> GetAliasAsync(string modelId, string alias, CancellationToken cancellationToken = default);

    /// <summary>The aliases of a model, by name.</summary>
    Task<IReadOnlyList<ModelAlias>> ListAliasesAsync(string modelId, CancellationToken cancellationToken = default);

    /// <summary>Deletes an alias; returns what it pointed at, or null when there was no such alias.</summary>
    Task<ModelAlias?> DeleteAliasAsync(string modelId, string alias, AuditContext audit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Creates a model version like <see cref="IMetadataStore.CreateModelVersionAsync"/>, and in the same transaction moves
    /// its unique tags away from the model's other versions, records its lineage (when not empty) and inserts its
    /// <paramref name="files"/> (tracked files whose parent is the version) with their change records.
    /// The tags, lineage and files of a version that already existed are left as they are.
    /// </summary>
    Task<CreateResult<ModelVersion>> CreateModelVersionAsync(
        ModelVersion version,
        Lineage lineage,
        AuditContext audit,
        IReadOnlyList<FileRecord>? files = null,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds and removes unique tags of a live version; an added tag moves from whichever version of the model held it.
    /// Null when the version does not exist or is deleted.
    /// </summary>
    Task<ModelVersion?> UpdateUniqueTagsAsync(
        string versionId, IReadOnlyCollection<string> add, IReadOnlyCollection<string> remove, AuditContext audit, CancellationToken cancellationToken = default);

    /// <summary>Inserts the dataset unless it exists and the version unless it exists (idempotent on namespace + name, and digest).</summary>
    Task<DatasetRegistration> RegisterDatasetAsync(Dataset dataset, DatasetVersion version, CancellationToken cancellationToken = default);

    Task<Dataset?> GetDatasetAsync(string id, CancellationToken cancellationToken = default);

    Task<DatasetVersion?> GetDatasetVersionAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Datasets of a namespace by name.</summary>
    Task<Page<Dataset>> ListDatasetsAsync(NamespaceScope @namespace, PageRequest page, CancellationToken cancellationToken = default);

    /// <summary>The versions of a dataset, oldest first.</summary>
    Task<IReadOnlyList<DatasetVersion>> ListDatasetVersionsAsync(string datasetId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces the lineage of a live model version or experiment. Throws NotFound for any referenced object that does not
    /// exist, and FailedPrecondition when a derivation would make a cycle. False when the subject does not exist.
    /// </summary>
    Task<bool> SetLineageAsync(string subjectId, Lineage lineage, AuditContext audit, CancellationToken cancellationToken = default);

    /// <summary>The recorded lineage of a subject (as set); null when it does not exist.</summary>
    Task<Lineage?> GetRecordedLineageAsync(string subjectId, CancellationToken cancellationToken = default);

    /// <summary>The full lineage of a live version: experiment, checkpoint, datasets, ancestors (all depths) and direct descendants.</summary>
    Task<LineageGraph?> GetLineageAsync(string versionId, CancellationToken cancellationToken = default);

    /// <summary>Live versions whose lineage names the experiment, oldest first.</summary>
    Task<IReadOnlyList<ModelVersion>> ListVersionsTrainedInAsync(string experimentId, CancellationToken cancellationToken = default);

    /// <summary>Experiments and versions that recorded a use of the dataset (any version) or of the dataset version.</summary>
    Task<DatasetUsage> GetDatasetUsageAsync(string datasetOrVersionId, CancellationToken cancellationToken = default);

    /// <summary>Live experiments matching a query, in its order; keyset pages.</summary>
    Task<Page<Experiment>> SearchExperimentsAsync(SearchQuery query, PageRequest page, CancellationToken cancellationToken = default);

    Task<Page<Model>> SearchModelsAsync(SearchQuery query, PageRequest page, CancellationToken cancellationToken = default);

    /// <summary>Live versions of live models matching a query.</summary>
    Task<Page<ModelVersion>> SearchModelVersionsAsync(SearchQuery query, PageRequest page, CancellationToken cancellationToken = default);
}
