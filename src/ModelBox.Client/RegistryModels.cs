using System.Text.Json;

namespace ModelBox.Client;

/// <summary>A named pointer from a model to one of its versions.</summary>
/// <param name="ModelId">The model.</param>
/// <param name="Alias">The alias name (production, staging …).</param>
/// <param name="VersionId">The version it points at.</param>
/// <param name="UpdatedAt">When it last moved.</param>
public sealed record ModelAlias(string ModelId, string Alias, string VersionId, DateTimeOffset UpdatedAt);

/// <summary>How a dataset version was used.</summary>
public enum DatasetRole
{
    /// <summary>Trained on.</summary>
    Training = 1,
    /// <summary>Evaluated on.</summary>
    Evaluation = 2,
}

/// <summary>A dataset: a name in a namespace, versioned by digest.</summary>
public sealed record Dataset
{
    /// <summary>The id, <c>ds-…</c>.</summary>
    public required string Id { get; init; }

    /// <summary>The namespace.</summary>
    public required string Namespace { get; init; }

    /// <summary>The name.</summary>
    public required string Name { get; init; }

    /// <summary>A description, or empty.</summary>
    public string Description { get; init; } = "";

    /// <summary>Metadata given when it was first registered.</summary>
    public IReadOnlyDictionary<string, JsonElement> Metadata { get; init; } = EmptyMetadata.Instance;

    /// <summary>When it was stored.</summary>
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>One version of a dataset.</summary>
public sealed record DatasetVersion
{
    /// <summary>The id, <c>dsv-…</c>.</summary>
    public required string Id { get; init; }

    /// <summary>The dataset.</summary>
    public required string DatasetId { get; init; }

    /// <summary>The content digest.</summary>
    public required string Digest { get; init; }

    /// <summary>Where the data is.</summary>
    public string Uri { get; init; } = "";

    /// <summary>When it was stored.</summary>
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>A registered dataset version and whether it (and its dataset) already existed.</summary>
public sealed record DatasetRegistration(Dataset Dataset, DatasetVersion Version, bool DatasetExisted, bool VersionExisted);

/// <summary>A dataset and its versions, oldest first.</summary>
public sealed record DatasetDetails(Dataset Dataset, IReadOnlyList<DatasetVersion> Versions);

/// <summary>A dataset version used by a model version or experiment, and how.</summary>
public sealed record DatasetLink(string DatasetVersionId, DatasetRole Role = DatasetRole.Training);

/// <summary>A version another was derived from, and how (fine-tuning, distillation, quantization …).</summary>
public sealed record DerivationLink(string VersionId, string Relation = "derived");

/// <summary>The recorded lineage of a model version (or the datasets of an experiment).</summary>
public sealed record LineageSpec
{
    /// <summary>The experiment it was trained in.</summary>
    public string? ExperimentId { get; init; }

    /// <summary>The checkpoint it came from.</summary>
    public string? CheckpointId { get; init; }

    /// <summary>Datasets it was trained and evaluated on.</summary>
    public IReadOnlyList<DatasetLink> Datasets { get; init; } = [];

    /// <summary>Versions it was derived from.</summary>
    public IReadOnlyList<DerivationLink> DerivedFrom { get; init; } = [];
}

/// <summary>A dataset version, resolved, and how it was used.</summary>
public sealed record DatasetUse(Dataset Dataset, DatasetVersion Version, DatasetRole Role);

/// <summary>An ancestor of a version through derived_from links.</summary>
public sealed record LineageAncestor(ModelVersion Version, string ChildId, string Relation, int Depth, string? ExperimentId);

/// <summary>The full lineage of a model version.</summary>
public sealed record ModelLineage(
    ModelVersion Version,
    Model Model,
    Experiment? Experiment,
    Checkpoint? Checkpoint,
    IReadOnlyList<DatasetUse> Datasets,
    IReadOnlyList<LineageAncestor> Ancestors,
    IReadOnlyList<ModelVersion> Descendants);

/// <summary>Who used a dataset.</summary>
public sealed record DatasetUsage(IReadOnlyList<Experiment> Experiments, IReadOnlyList<ModelVersion> ModelVersions);
