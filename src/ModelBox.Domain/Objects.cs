namespace ModelBox.Domain;

/// <summary>The training framework of an experiment or model version (numbers match the wire enum).</summary>
public enum Framework
{
    Unknown = 0,
    PyTorch = 1,
    Keras = 2,
    TensorFlow = 3,
    Jax = 4,
    Sklearn = 5,
    XGBoost = 6,
    Transformers = 7,
    Onnx = 8,
}

/// <summary>The lifecycle state of an experiment (numbers match the wire enum).</summary>
public enum ExperimentStatus
{
    Unspecified = 0,
    Running = 1,
    Finished = 2,
    Failed = 3,
    Killed = 4,
}

/// <summary>Metadata values are JSON documents, kept as their text so every backend stores them verbatim.</summary>
public sealed record MetadataEntry(string Key, string Json);

/// <summary>A training run.</summary>
public sealed record Experiment(
    string Id,
    string Namespace,
    string Name,
    string Owner,
    Framework Framework,
    string Task,
    string ExternalId,
    string Description,
    ExperimentStatus Status,
    DateTimeOffset? EndedAt,
    IReadOnlyDictionary<string, string> Metadata,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? DeletedAt = null);

/// <summary>A snapshot of a training run at an epoch.</summary>
public sealed record Checkpoint(
    string Id,
    string ExperimentId,
    long Epoch,
    IReadOnlyDictionary<string, float> Metrics,
    IReadOnlyDictionary<string, string> Metadata,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? DeletedAt = null);

/// <summary>A registered model.</summary>
public sealed record Model(
    string Id,
    string Namespace,
    string Name,
    string Owner,
    string Task,
    string Description,
    IReadOnlyDictionary<string, string> Metadata,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? DeletedAt = null);

/// <summary>A version of a model.</summary>
public sealed record ModelVersion(
    string Id,
    string ModelId,
    string Name,
    string Version,
    string Description,
    Framework Framework,
    IReadOnlyList<string> UniqueTags,
    IReadOnlyDictionary<string, string> Metadata,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? DeletedAt = null);

/// <summary>A namespace, created by the first object that names it.</summary>
public sealed record NamespaceInfo(string Name, DateTimeOffset CreatedAt);

/// <summary>The outcome of an idempotent create: the stored object, and whether it was there before.</summary>
public sealed record CreateResult<T>(T Value, bool Existed);

/// <summary>The changes an update applies to an experiment; null means "leave alone".</summary>
public sealed record ExperimentChanges(ExperimentStatus? Status, string? Description, string? ExternalId);

/// <summary>What the store knows of any object by id: its kind, the namespace it lives in, and whether it (or its parent) is deleted.</summary>
public sealed record ObjectRef(string Id, ObjectKind Kind, string Namespace, bool Deleted);

/// <summary>Something that happened to an object (a job started, a deployment failed), as a training script logged it.</summary>
/// <param name="Id">Server-assigned, unique per logged event (see <see cref="ObjectIds.NewEvent"/>).</param>
/// <param name="ParentId">The object the event belongs to.</param>
/// <param name="Name">What happened.</param>
/// <param name="Source">Who reported it.</param>
/// <param name="WallclockUnixNanos">When it happened, as the client said, in Unix nanoseconds: the wire's full precision.</param>
/// <param name="Metadata">JSON per key.</param>
/// <param name="CreatedAt">When the server stored it.</param>
public sealed record LoggedEvent(
    string Id,
    string ParentId,
    string Name,
    string Source,
    long WallclockUnixNanos,
    IReadOnlyDictionary<string, string> Metadata,
    DateTimeOffset CreatedAt);

/// <summary>The outcome of a metadata write.</summary>
/// <param name="KeysAffected">Keys written (update) or keys that existed and were removed (delete).</param>
/// <param name="UpdatedAt">When.</param>
public sealed record MetadataWriteResult(int KeysAffected, DateTimeOffset UpdatedAt);
