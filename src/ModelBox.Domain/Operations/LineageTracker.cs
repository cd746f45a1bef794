using ModelBox.Domain.Registry;
using ModelBox.Domain.Storage;

namespace ModelBox.Domain.Operations;

/// <summary>
/// Lineage: which experiment, checkpoint and dataset versions a model version came from, which versions it was derived
/// from, and the questions those records answer (the graph of a version, what an experiment trained, who used a dataset).
/// </summary>
public sealed class LineageTracker(IRegistryStore store, IMetadataStore objects, TimeProvider time)
{
    private static readonly InputName SubjectId = "subject id";
    private static readonly InputName DatasetId = "dataset id";
    private static readonly InputName Datasets = "datasets";
    private static readonly InputName DerivedFrom = "derived from";

    /// <summary>Replaces the recorded lineage of a model version (all parts) or an experiment (datasets only).</summary>
    public async Task<Lineage> SetLineageAsync(string? subjectId, Lineage lineage, string? actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lineage);
        if (string.IsNullOrEmpty(subjectId))
        {
            throw ModelBoxException.InvalidArgument($"{SubjectId} is required");
        }

        if (!ObjectIds.TryGetKind(subjectId, out var kind) || kind is not (ObjectKind.ModelVersion or ObjectKind.Experiment))
        {
            throw ModelBoxException.InvalidArgument($"{SubjectId} '{subjectId}' must be the id of a model version or an experiment");
        }

        var checkedLineage = CheckLineage(lineage, kind, subjectId);
        var audit = new AuditContext(RegistryValidation.Actor(actor), Clock.Now(time));
        return await store.SetLineageAsync(subjectId, checkedLineage, audit, cancellationToken).ConfigureAwait(false)
            ? checkedLineage
            : throw ModelBoxException.NotFound(Validation.Describe(kind), subjectId);
    }

    public async Task<LineageGraph> GetLineageAsync(string? versionId, CancellationToken cancellationToken = default)
    {
        Validation.Id(versionId, "version id", ObjectKind.ModelVersion);
        return await store.GetLineageAsync(versionId!, cancellationToken).ConfigureAwait(false)
            ?? throw ModelBoxException.NotFound("model version", versionId!);
    }

    public async Task<IReadOnlyList<ModelVersion>> ListVersionsTrainedInAsync(string? experimentId, CancellationToken cancellationToken = default)
    {
        Validation.Id(experimentId, "experiment id", ObjectKind.Experiment);

        // An unknown or deleted experiment is a mistake worth reporting, as every other listing of a parent does.
        var experiment = await objects.FindObjectAsync(experimentId!, cancellationToken).ConfigureAwait(false);
        if (experiment is null || experiment.Deleted)
        {
            throw ModelBoxException.NotFound("experiment", experimentId!);
        }

        return await store.ListVersionsTrainedInAsync(experimentId!, cancellationToken).ConfigureAwait(false);
    }

    public async Task<DatasetUsage> GetDatasetUsageAsync(string? datasetId, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(datasetId))
        {
            throw ModelBoxException.InvalidArgument($"{DatasetId} is required");
        }

        if (!ObjectIds.TryGetKind(datasetId, out var kind) || kind is not (ObjectKind.Dataset or ObjectKind.DatasetVersion))
        {
            throw ModelBoxException.InvalidArgument($"{DatasetId} '{datasetId}' must be the id of a dataset or a dataset version");
        }

        var exists = kind == ObjectKind.Dataset
            ? await store.GetDatasetAsync(datasetId, cancellationToken).ConfigureAwait(false) is not null
            : await store.GetDatasetVersionAsync(datasetId, cancellationToken).ConfigureAwait(false) is not null;
        return exists
            ? await store.GetDatasetUsageAsync(datasetId, cancellationToken).ConfigureAwait(false)
            : throw ModelBoxException.NotFound(Validation.Describe(kind), datasetId);
    }

    /// <summary>Checks the ids and kinds of a lineage; experiments may only name datasets.</summary>
    internal static Lineage CheckLineage(Lineage lineage, ObjectKind subjectKind, string subjectId)
    {
        var experimentId = string.IsNullOrEmpty(lineage.ExperimentId) ? null : Validation.Id(lineage.ExperimentId, "experiment id", ObjectKind.Experiment);
        var checkpointId = string.IsNullOrEmpty(lineage.CheckpointId) ? null : Validation.Id(lineage.CheckpointId, "checkpoint id", ObjectKind.Checkpoint);
        var datasets = new List<DatasetLink>();
        foreach (var link in lineage.Datasets)
        {
            Validation.Id(link.DatasetVersionId, Datasets / "dataset version id", ObjectKind.DatasetVersion);
            if (!Enum.IsDefined(link.Role))
            {
                throw ModelBoxException.InvalidArgument($"{Datasets / "role"} {(int)link.Role} is not a known role");
            }

            if (!datasets.Contains(link))
            {
                datasets.Add(link);
            }
        }

        var parents = new List<DerivationLink>();
        foreach (var link in lineage.DerivedFrom)
        {
            Validation.Id(link.ParentVersionId, DerivedFrom / "version id", ObjectKind.ModelVersion);
            if (string.Equals(link.ParentVersionId, subjectId, StringComparison.Ordinal))
            {
                throw ModelBoxException.InvalidArgument($"{DerivedFrom}: model version '{subjectId}' cannot be derived from itself");
            }

            var relation = string.IsNullOrEmpty(link.Relation) ? "derived" : Validation.ShortText(link.Relation, DerivedFrom / "relation");
            if (!parents.Exists(p => string.Equals(p.ParentVersionId, link.ParentVersionId, StringComparison.Ordinal)))
            {
                parents.Add(new DerivationLink(link.ParentVersionId, relation));
            }
        }

        if (subjectKind == ObjectKind.Experiment && (experimentId is not null || checkpointId is not null || parents.Count > 0))
        {
            throw ModelBoxException.InvalidArgument("the lineage of an experiment can only name datasets");
        }

        return new Lineage(experimentId, checkpointId, datasets, parents);
    }
}
