namespace ModelBox.Domain.Registry;

/// <summary>Who made a change and when: every label, alias, tag and lineage change records both in its audit event.</summary>
/// <param name="Actor">The caller as it named itself (request field <c>actor</c> or the <c>x-modelbox-actor</c> header); "anonymous" when unnamed.</param>
/// <param name="At">When (the domain's clock).</param>
public sealed record AuditContext(string Actor, DateTimeOffset At);

/// <summary>A named pointer from a model to exactly one of its versions.</summary>
public sealed record ModelAlias(string ModelId, string Alias, string VersionId, DateTimeOffset UpdatedAt);

/// <summary>The outcome of a label write: the labels the object has now, and which keys changed.</summary>
public sealed record LabelWriteResult(IReadOnlyDictionary<string, string> Labels, int KeysChanged, DateTimeOffset UpdatedAt);

/// <summary>A dataset: a name in a namespace. Its content is versioned by digest in <see cref="DatasetVersion"/>.</summary>
public sealed record Dataset(
    string Id,
    string Namespace,
    string Name,
    string Description,
    IReadOnlyDictionary<string, string> Metadata,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>One version of a dataset: where it is (URI) and what it is (content digest, e.g. <c>sha256:...</c>).</summary>
public sealed record DatasetVersion(
    string Id,
    string DatasetId,
    string Digest,
    string Uri,
    IReadOnlyDictionary<string, string> Metadata,
    DateTimeOffset CreatedAt);

/// <summary>The outcome of registering a dataset version: the dataset, the version, and whether each existed before.</summary>
public sealed record DatasetRegistration(Dataset Dataset, DatasetVersion Version, bool DatasetExisted, bool VersionExisted);

/// <summary>How a dataset version was used by a model version or experiment.</summary>
public enum DatasetRole
{
    /// <summary>Trained on.</summary>
    Training = 1,
    /// <summary>Evaluated on.</summary>
    Evaluation = 2,
}

/// <summary>A dataset version and how it was used.</summary>
public sealed record DatasetLink(string DatasetVersionId, DatasetRole Role);

/// <summary>A version this one was derived from, and how (fine-tuning, distillation, quantization, or any word the caller uses).</summary>
public sealed record DerivationLink(string ParentVersionId, string Relation);

/// <summary>
/// Where a model version (or an experiment) came from. Replaces what was recorded before as a whole.
/// Experiments only carry <see cref="Datasets"/>.
/// </summary>
public sealed record Lineage(
    string? ExperimentId,
    string? CheckpointId,
    IReadOnlyList<DatasetLink> Datasets,
    IReadOnlyList<DerivationLink> DerivedFrom)
{
    public static Lineage Empty { get; } = new(null, null, [], []);

    public bool IsEmpty => ExperimentId is null && CheckpointId is null && Datasets.Count == 0 && DerivedFrom.Count == 0;
}

/// <summary>A dataset version used by an object, resolved to the dataset and the version.</summary>
public sealed record DatasetUse(Dataset Dataset, DatasetVersion Version, DatasetRole Role);

/// <summary>A version reachable through <c>derived_from</c> links.</summary>
/// <param name="Version">The ancestor.</param>
/// <param name="ChildId">The version that names it as a parent (the queried version at depth 1).</param>
/// <param name="Relation">How the child was derived from it.</param>
/// <param name="Depth">1 for a direct parent, 2 for a grandparent ...</param>
/// <param name="ExperimentId">The experiment the ancestor was trained in, when recorded.</param>
public sealed record LineageAncestor(ModelVersion Version, string ChildId, string Relation, int Depth, string? ExperimentId);

/// <summary>The full lineage of one model version in one answer.</summary>
public sealed record LineageGraph(
    ModelVersion Version,
    Model Model,
    Experiment? Experiment,
    Checkpoint? Checkpoint,
    IReadOnlyList<DatasetUse> Datasets,
    IReadOnlyList<LineageAncestor> Ancestors,
    IReadOnlyList<ModelVersion> Descendants);

/// <summary>The experiments and model versions that recorded the use of a dataset (any of its versions, or one version).</summary>
public sealed record DatasetUsage(IReadOnlyList<Experiment> Experiments, IReadOnlyList<ModelVersion> ModelVersions);
