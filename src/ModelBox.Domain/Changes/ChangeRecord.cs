namespace ModelBox.Domain.Changes;

/// <summary>What happened to an object (numbers match the wire enum <c>ChangeEvent</c>).</summary>
public enum ChangeType
{
    /// <summary>The object was created (an idempotent create that found the object writes no change).</summary>
    Created = 1,
    /// <summary>The object was updated; a restore after a soft delete is an update too (its state shows <c>deleted_at</c> cleared).</summary>
    Updated = 2,
    /// <summary>The object was soft-deleted.</summary>
    Deleted = 3,
}

/// <summary>The object kinds a change record names, spelled as on the wire (<c>WatchNamespaceResponse.object_kind</c>).</summary>
public static class ChangeObjectKinds
{
    public const string Experiment = "experiment";
    public const string Checkpoint = "checkpoint";
    public const string Model = "model";
    public const string ModelVersion = "model_version";

    /// <summary>The metadata of an object; the change's object id is the id of the object the metadata belongs to.</summary>
    public const string Metadata = "metadata";

    /// <summary>A logged event.</summary>
    public const string Event = "event";

    /// <summary>A file (artifact) record.</summary>
    public const string File = "file";

    /// <summary>The labels of an object; the change's object id is the labeled object's id.</summary>
    public const string Labels = "labels";

    /// <summary>An alias of a model; the change's object id is the model's id.</summary>
    public const string Alias = "alias";

    /// <summary>A dataset.</summary>
    public const string Dataset = "dataset";

    /// <summary>A version of a dataset.</summary>
    public const string DatasetVersion = "dataset_version";

    /// <summary>The lineage of a model version or experiment; the change's object id is that object's id.</summary>
    public const string Lineage = "lineage";

    /// <summary>The MLflow experiment of a namespace (its MLflow name, number, tags, lifecycle); the change's object id is
    /// <c>mlflow-experiment-NUMBER</c>.</summary>
    public const string MlflowExperiment = "mlflow_experiment";

    /// <summary>The change-stream spelling of an <see cref="ObjectKind"/>.</summary>
    public static string Of(ObjectKind kind) => kind switch
    {
        ObjectKind.Experiment => Experiment,
        ObjectKind.Checkpoint => Checkpoint,
        ObjectKind.Model => Model,
        ObjectKind.ModelVersion => ModelVersion,
        ObjectKind.Event => Event,
        ObjectKind.File => File,
        ObjectKind.Dataset => Dataset,
        ObjectKind.DatasetVersion => DatasetVersion,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}

/// <summary>
/// One entry of the change log (the transactional outbox): written in the same transaction as the change it describes.
/// Sequence numbers are global, increase monotonically, and become visible in commit order, so a reader that asks for
/// <c>sequence &gt; last</c> never skips one.
/// </summary>
/// <param name="Sequence">The position in the log.</param>
/// <param name="Namespace">The namespace of the object (of its parent, for checkpoints, versions, metadata and events).</param>
/// <param name="ObjectKind">One of <see cref="ChangeObjectKinds"/>.</param>
/// <param name="ObjectId">The id of the object that changed.</param>
/// <param name="Change">What happened.</param>
/// <param name="ChangedAt">When (the domain's clock, microseconds).</param>
/// <param name="StateJson">The object's new state as JSON, written by <see cref="ChangeStateJson"/>.</param>
public sealed record ChangeRecord(
    long Sequence,
    string Namespace,
    string ObjectKind,
    string ObjectId,
    ChangeType Change,
    DateTimeOffset ChangedAt,
    string StateJson);

/// <summary>A change record before the store gives it its sequence number.</summary>
public sealed record ChangeRecordDraft(
    string Namespace,
    string ObjectKind,
    string ObjectId,
    ChangeType Change,
    DateTimeOffset ChangedAt,
    string StateJson);
