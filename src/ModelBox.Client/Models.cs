using System.Text.Json;

namespace ModelBox.Client;

/// <summary>The training framework of an experiment or model version.</summary>
public enum Framework
{
    /// <summary>Not given.</summary>
    Unknown = 0,
    /// <summary>PyTorch.</summary>
    PyTorch = 1,
    /// <summary>Keras.</summary>
    Keras = 2,
    /// <summary>TensorFlow.</summary>
    TensorFlow = 3,
    /// <summary>JAX.</summary>
    Jax = 4,
    /// <summary>scikit-learn.</summary>
    ScikitLearn = 5,
    /// <summary>XGBoost.</summary>
    XGBoost = 6,
    /// <summary>Hugging Face Transformers.</summary>
    Transformers = 7,
    /// <summary>ONNX.</summary>
    Onnx = 8,
}

/// <summary>The lifecycle state of an experiment (a training run).</summary>
public enum ExperimentStatus
{
    /// <summary>Not reported by the server (an experiment stored by an older server).</summary>
    Unspecified = 0,
    /// <summary>Training is in progress; the status of a new experiment.</summary>
    Running = 1,
    /// <summary>Training ended normally.</summary>
    Finished = 2,
    /// <summary>Training ended with an error.</summary>
    Failed = 3,
    /// <summary>Training was stopped by someone.</summary>
    Killed = 4,
}

/// <summary>The kind of a file attached to an object.</summary>
public enum FileKind
{
    /// <summary>Not given.</summary>
    Undefined = 0,
    /// <summary>Model weights or a serialized model.</summary>
    Model = 1,
    /// <summary>A training checkpoint.</summary>
    Checkpoint = 2,
    /// <summary>Text.</summary>
    Text = 3,
    /// <summary>An image.</summary>
    Image = 4,
    /// <summary>Audio.</summary>
    Audio = 5,
    /// <summary>Video.</summary>
    Video = 6,
}

/// <summary>The outcome of a create call: the stored object, and whether it existed before the call.</summary>
/// <typeparam name="T">The kind of object created.</typeparam>
/// <param name="Value">The object as stored on the server.</param>
/// <param name="AlreadyExisted">
/// True when an object with the same identity (namespace and name, model and version, experiment and epoch)
/// already existed; creates are idempotent, so the existing object is returned unchanged.
/// </param>
public sealed record CreateResult<T>(T Value, bool AlreadyExisted);

/// <summary>A training run.</summary>
public sealed record Experiment
{
    /// <summary>The opaque id, such as <c>exp-…</c>.</summary>
    public required string Id { get; init; }

    /// <summary>The name, unique within the namespace.</summary>
    public required string Name { get; init; }

    /// <summary>The namespace.</summary>
    public required string Namespace { get; init; }

    /// <summary>Who owns the experiment (usually an email address).</summary>
    public required string Owner { get; init; }

    /// <summary>The training framework.</summary>
    public Framework Framework { get; init; }

    /// <summary>The task it trains for (asr, classification …), or empty.</summary>
    public string Task { get; init; } = "";

    /// <summary>An id in another system (a job scheduler, a notebook), or empty.</summary>
    public string ExternalId { get; init; } = "";

    /// <summary>A human description, or empty.</summary>
    public string Description { get; init; } = "";

    /// <summary>The lifecycle state.</summary>
    public ExperimentStatus Status { get; init; }

    /// <summary>When the experiment reached a terminal state; null while it runs.</summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>The metadata given on create: any JSON value per key.</summary>
    public IReadOnlyDictionary<string, JsonElement> Metadata { get; init; } = EmptyMetadata.Instance;

    /// <summary>When it was stored.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Labels (key=value) that operations filter on.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = EmptyLabels.Instance;
}

/// <summary>A snapshot of a training run at an epoch.</summary>
public sealed record Checkpoint
{
    /// <summary>The opaque id, such as <c>ckpt-…</c>.</summary>
    public required string Id { get; init; }

    /// <summary>The experiment it belongs to.</summary>
    public required string ExperimentId { get; init; }

    /// <summary>The epoch.</summary>
    public long Epoch { get; init; }

    /// <summary>Metric values at this epoch.</summary>
    public IReadOnlyDictionary<string, float> Metrics { get; init; } = new Dictionary<string, float>();

    /// <summary>The files of the checkpoint.</summary>
    public IReadOnlyList<ArtifactFile> Files { get; init; } = [];

    /// <summary>The metadata given on create.</summary>
    public IReadOnlyDictionary<string, JsonElement> Metadata { get; init; } = EmptyMetadata.Instance;

    /// <summary>When it was stored.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>A registered model.</summary>
public sealed record Model
{
    /// <summary>The opaque id, such as <c>mdl-…</c>.</summary>
    public required string Id { get; init; }

    /// <summary>The name, unique within the namespace.</summary>
    public required string Name { get; init; }

    /// <summary>The namespace.</summary>
    public required string Namespace { get; init; }

    /// <summary>Who owns the model.</summary>
    public required string Owner { get; init; }

    /// <summary>The task it solves, or empty.</summary>
    public string Task { get; init; } = "";

    /// <summary>A human description, or empty.</summary>
    public string Description { get; init; } = "";

    /// <summary>The files of the model.</summary>
    public IReadOnlyList<ArtifactFile> Files { get; init; } = [];

    /// <summary>The metadata given on create.</summary>
    public IReadOnlyDictionary<string, JsonElement> Metadata { get; init; } = EmptyMetadata.Instance;

    /// <summary>When it was stored.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Labels (key=value) that operations filter on.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = EmptyLabels.Instance;
}

/// <summary>A version of a model.</summary>
public sealed record ModelVersion
{
    /// <summary>The opaque id, such as <c>mver-…</c>.</summary>
    public required string Id { get; init; }

    /// <summary>The model it belongs to.</summary>
    public required string ModelId { get; init; }

    /// <summary>The version label, unique within the model.</summary>
    public required string Version { get; init; }

    /// <summary>A name, or empty.</summary>
    public string Name { get; init; } = "";

    /// <summary>A human description, or empty.</summary>
    public string Description { get; init; } = "";

    /// <summary>The framework.</summary>
    public Framework Framework { get; init; }

    /// <summary>Tags unique within the model (such as <c>production</c>).</summary>
    public IReadOnlyList<string> UniqueTags { get; init; } = [];

    /// <summary>The files of the version.</summary>
    public IReadOnlyList<ArtifactFile> Files { get; init; } = [];

    /// <summary>The metadata given on create.</summary>
    public IReadOnlyDictionary<string, JsonElement> Metadata { get; init; } = EmptyMetadata.Instance;

    /// <summary>When it was stored.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Labels (key=value) that operations filter on.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = EmptyLabels.Instance;
}

/// <summary>A namespace: the scope of names, created by the first object that names it.</summary>
public sealed record NamespaceInfo
{
    /// <summary>The namespace name.</summary>
    public required string Name { get; init; }

    /// <summary>When the first object named it.</summary>
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>A file attached to an experiment, checkpoint, model or model version.</summary>
public sealed record ArtifactFile
{
    /// <summary>The file id.</summary>
    public required string Id { get; init; }

    /// <summary>The object it belongs to.</summary>
    public required string ParentId { get; init; }

    /// <summary>The kind of file.</summary>
    public FileKind Kind { get; init; }

    /// <summary>The MD5 of the content as lowercase hex, or empty.</summary>
    public string Checksum { get; init; } = "";

    /// <summary>The client's original path: a name only, never where the server keeps the bytes.</summary>
    public string Path { get; init; } = "";

    /// <summary>Size in bytes (known for uploaded files).</summary>
    public long SizeBytes { get; init; }

    /// <summary>The SHA-256 of the content as lowercase hex (uploaded files), or empty.</summary>
    public string Sha256 { get; init; } = "";

    /// <summary>Where a tracked file lives (a URI outside ModelBox); empty for uploaded files.</summary>
    public string Uri { get; init; } = "";

    /// <summary>When it was stored.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>A file stored outside ModelBox, to record with <see cref="ModelBoxClient.TrackArtifactsAsync"/> or a create.</summary>
public sealed record TrackedFile
{
    /// <summary>The object it belongs to (ignored when given with a create: the new object is the parent).</summary>
    public string? ParentId { get; init; }

    /// <summary>The kind of file.</summary>
    public FileKind Kind { get; init; }

    /// <summary>Its path or name.</summary>
    public string? Path { get; init; }

    /// <summary>Where it lives, e.g. <c>s3://bucket/key</c>.</summary>
    public string? Uri { get; init; }

    /// <summary>The MD5 of the content as lowercase hex, if known.</summary>
    public string? Md5 { get; init; }

    /// <summary>The SHA-256 of the content as lowercase hex, if known.</summary>
    public string? Sha256 { get; init; }

    /// <summary>The size in bytes, if known.</summary>
    public long SizeBytes { get; init; }
}

internal static class EmptyLabels
{
    public static readonly IReadOnlyDictionary<string, string> Instance = new Dictionary<string, string>(StringComparer.Ordinal);
}

internal static class EmptyMetadata
{
    public static readonly IReadOnlyDictionary<string, JsonElement> Instance = new Dictionary<string, JsonElement>();
}

/// <summary>The outcome of a metadata write.</summary>
public sealed record MetadataWriteResult
{
    /// <summary>Keys written (update) or keys that existed and were removed (delete).</summary>
    public int Keys { get; init; }

    /// <summary>When.</summary>
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>Something that happened to an object, as logged with <see cref="ModelBoxClient.LogEventAsync"/>.</summary>
public sealed record Event
{
    /// <summary>The event id (assigned by the server).</summary>
    public required string Id { get; init; }

    /// <summary>The object it belongs to.</summary>
    public required string ParentId { get; init; }

    /// <summary>What happened.</summary>
    public required string Name { get; init; }

    /// <summary>Who reported it.</summary>
    public string Source { get; init; } = "";

    /// <summary>When it happened (the server keeps nanoseconds; .NET holds 100 ns).</summary>
    public DateTimeOffset WallclockTime { get; init; }

    /// <summary>JSON per key.</summary>
    public IReadOnlyDictionary<string, JsonElement> Metadata { get; init; } = new Dictionary<string, JsonElement>();

    /// <summary>When the server stored it.</summary>
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>What happened to an object in the change stream.</summary>
public enum ChangeKind
{
    /// <summary>Not reported.</summary>
    Undefined = 0,
    /// <summary>The object was created (or an event logged).</summary>
    Created = 1,
    /// <summary>The object was updated (a restore after a delete is an update too; metadata writes are updates).</summary>
    Updated = 2,
    /// <summary>The object was soft-deleted.</summary>
    Deleted = 3,
}

/// <summary>One change in a namespace.</summary>
public sealed record Change
{
    /// <summary>Its position in the change log; watch again from it to resume right after it.</summary>
    public long Sequence { get; init; }

    /// <summary>What happened.</summary>
    public ChangeKind Kind { get; init; }

    /// <summary>experiment, checkpoint, model, model_version, metadata (the id is the object the metadata belongs to), event or file.</summary>
    public required string ObjectKind { get; init; }

    /// <summary>The id of the object that changed.</summary>
    public required string ObjectId { get; init; }

    /// <summary>When it was committed.</summary>
    public DateTimeOffset ChangedAt { get; init; }

    /// <summary>The object's new state as JSON (snake_case fields).</summary>
    public JsonElement Payload { get; init; }
}
