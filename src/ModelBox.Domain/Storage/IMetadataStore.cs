namespace ModelBox.Domain.Storage;

/// <summary>
/// The storage port for experiments, checkpoints, models, model versions and namespaces.
/// Ids and timestamps are decided by the domain; a backend stores and returns them verbatim.
/// Get methods return soft-deleted objects too (with <c>DeletedAt</c> set) so the domain can tell
/// "deleted" from "never existed"; list methods leave deleted objects out.
/// Every create also records the object's namespace, in the same transaction.
/// </summary>
public interface IMetadataStore
{
    /// <summary>Creates the schema or upgrades it to the newest version.</summary>
    Task MigrateAsync(CancellationToken cancellationToken = default);

    /// <summary>The schema version of the database beside the newest this build knows (reads only; never migrates).</summary>
    Task<SchemaStatus> GetSchemaStatusAsync(CancellationToken cancellationToken = default);

    /// <summary>Inserts the experiment unless its id exists; returns what is stored.</summary>
    Task<CreateResult<Experiment>> CreateExperimentAsync(Experiment experiment, CancellationToken cancellationToken = default);

    Task<Experiment?> GetExperimentAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Live experiments of a namespace, newest first (created_at, id descending).</summary>
    Task<Page<Experiment>> ListExperimentsAsync(NamespaceScope @namespace, PageRequest page, CancellationToken cancellationToken = default);

    /// <summary>Applies the changes to a live experiment; null when it does not exist or is deleted.</summary>
    Task<Experiment?> UpdateExperimentAsync(string id, ExperimentChanges changes, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Soft-deletes a live experiment and its live checkpoints with the same timestamp; returns the deletion time
    /// (the earlier one when it was already deleted), or null when it does not exist.</summary>
    Task<DateTimeOffset?> DeleteExperimentAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Restores an experiment and the checkpoints deleted with it; null when it does not exist.</summary>
    Task<Experiment?> RestoreExperimentAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>
    /// Inserts the checkpoint unless its id exists, and when it inserted it, its <paramref name="files"/> (tracked files
    /// whose parent is the checkpoint) with their change records, all in one transaction; the files given with a checkpoint
    /// that already existed are ignored. Throws NotFound when the experiment does not exist or is deleted.
    /// </summary>
    Task<CreateResult<Checkpoint>> CreateCheckpointAsync(
        Checkpoint checkpoint, IReadOnlyList<FileRecord>? files = null, CancellationToken cancellationToken = default);

    Task<Checkpoint?> GetCheckpointAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Live checkpoints of an experiment by ascending epoch.</summary>
    Task<Page<Checkpoint>> ListCheckpointsAsync(string experimentId, PageRequest page, CancellationToken cancellationToken = default);

    /// <summary>Inserts the model unless its id exists, with its files as <see cref="CreateCheckpointAsync"/> does.</summary>
    Task<CreateResult<Model>> CreateModelAsync(Model model, IReadOnlyList<FileRecord>? files = null, CancellationToken cancellationToken = default);

    Task<Model?> GetModelAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Live models of a namespace, newest first.</summary>
    Task<Page<Model>> ListModelsAsync(NamespaceScope @namespace, PageRequest page, CancellationToken cancellationToken = default);

    /// <summary>Soft-deletes a model and its live versions; see <see cref="DeleteExperimentAsync"/>.</summary>
    Task<DateTimeOffset?> DeleteModelAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default);

    Task<Model?> RestoreModelAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Inserts the version unless its id exists. Throws NotFound when the model does not exist or is deleted.</summary>
    Task<CreateResult<ModelVersion>> CreateModelVersionAsync(ModelVersion version, CancellationToken cancellationToken = default);

    Task<ModelVersion?> GetModelVersionAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Live versions of a model, oldest first (created_at, id ascending).</summary>
    Task<Page<ModelVersion>> ListModelVersionsAsync(string modelId, PageRequest page, CancellationToken cancellationToken = default);

    Task<DateTimeOffset?> DeleteModelVersionAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Restores a version. Throws FailedPrecondition when its model is deleted.</summary>
    Task<ModelVersion?> RestoreModelVersionAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Namespaces by ascending name.</summary>
    Task<Page<NamespaceInfo>> ListNamespacesAsync(PageRequest page, CancellationToken cancellationToken = default);

    /// <summary>
    /// Resolves any object id to its kind and namespace, for operations that accept any object as parent (metadata,
    /// metrics, events, artifacts). <c>Deleted</c> is true when the object or its parent is soft-deleted; null when the
    /// id names nothing.
    /// </summary>
    Task<ObjectRef?> FindObjectAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// <see cref="FindObjectAsync"/> for many ids in one read (a batch call, a page of results): keyed by id; ids that
    /// name nothing are absent.
    /// </summary>
    Task<IReadOnlyDictionary<string, ObjectRef>> FindObjectsAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken = default);

    /// <summary>Cheap round trip used by health checks.</summary>
    Task PingAsync(CancellationToken cancellationToken = default);
}
