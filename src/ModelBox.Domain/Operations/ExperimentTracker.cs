using ModelBox.Domain.Storage;

namespace ModelBox.Domain.Operations;

/// <summary>Input of <see cref="ExperimentTracker.CreateExperimentAsync"/>, as the client sent it.</summary>
public sealed record NewExperiment(
    string? Namespace,
    string? Name,
    string? Owner,
    Framework Framework,
    string? Task,
    string? ExternalId,
    string? Description,
    IReadOnlyDictionary<string, string>? Metadata);

/// <summary>Input of <see cref="ExperimentTracker.CreateCheckpointAsync"/>.</summary>
public sealed record NewCheckpoint(
    string? ExperimentId,
    ulong Epoch,
    IReadOnlyDictionary<string, float>? Metrics,
    IReadOnlyDictionary<string, string>? Metadata);

/// <summary>Experiments (training runs) and their checkpoints: validation, ids, timestamps, soft deletion.</summary>
public sealed class ExperimentTracker(IMetadataStore store, RegistrySearch search, TimeProvider time)
{
    public async Task<CreateResult<Experiment>> CreateExperimentAsync(NewExperiment request, CancellationToken cancellationToken = default)
    {
        var ns = Validation.Namespace(request.Namespace);
        var name = Validation.Required(request.Name, "name");
        var now = Clock.Now(time);
        var experiment = new Experiment(
            ObjectIds.Experiment(ns, name),
            ns,
            name,
            Validation.ShortText(request.Owner, "owner"),
            request.Framework,
            Validation.ShortText(request.Task, "task"),
            Validation.ShortText(request.ExternalId, "external id"),
            Validation.Description(request.Description),
            ExperimentStatus.Running,
            EndedAt: null,
            Validation.Metadata(request.Metadata),
            now,
            now);

        var result = await store.CreateExperimentAsync(experiment, cancellationToken).ConfigureAwait(false);
        if (result.Value.DeletedAt is not null)
        {
            throw ModelBoxException.FailedPrecondition(
                $"experiment '{name}' in namespace '{ns}' (id '{experiment.Id}') is deleted; restore it with RestoreExperiment");
        }

        return result;
    }

    public async Task<Experiment> GetExperimentAsync(string? id, CancellationToken cancellationToken = default)
    {
        Validation.Id(id, "id", ObjectKind.Experiment);
        var experiment = await store.GetExperimentAsync(id!, cancellationToken).ConfigureAwait(false);
        return experiment is null || experiment.DeletedAt is not null ? throw ModelBoxException.NotFound("experiment", id!) : experiment;
    }

    /// <summary>An experiment, soft-deleted ones too (<see cref="Experiment.DeletedAt"/> set): for APIs that show deleted objects (MLflow's get-run).</summary>
    public async Task<Experiment> GetExperimentOrDeletedAsync(string? id, CancellationToken cancellationToken = default)
    {
        Validation.Id(id, "id", ObjectKind.Experiment);
        return await store.GetExperimentAsync(id!, cancellationToken).ConfigureAwait(false) ?? throw ModelBoxException.NotFound("experiment", id!);
    }

    /// <summary>
    /// Live experiments of a namespace (and of the namespaces below it when <paramref name="recursive"/>), newest first; only
    /// those a label selector picks when one is given.
    /// </summary>
    public Task<Page<Experiment>> ListExperimentsAsync(
        string? @namespace, bool recursive, string? labelSelector, PageRequest page, CancellationToken cancellationToken = default) =>
        string.IsNullOrEmpty(labelSelector)
            ? store.ListExperimentsAsync(NamespaceScope.From(@namespace, recursive), page, cancellationToken)
            : search.ListExperimentsAsync(@namespace, recursive, labelSelector, page, cancellationToken);

    public async Task<Experiment> UpdateExperimentAsync(string? id, ExperimentChanges changes, CancellationToken cancellationToken = default)
    {
        Validation.Id(id, "id", ObjectKind.Experiment);
        if (changes.Status is { } status && !Enum.IsDefined(status))
        {
            throw ModelBoxException.InvalidArgument($"status {(int)status} is not a known experiment status");
        }

        var validated = new ExperimentChanges(
            changes.Status is ExperimentStatus.Unspecified ? null : changes.Status,
            changes.Description is null ? null : Validation.Description(changes.Description),
            changes.ExternalId is null ? null : Validation.ShortText(changes.ExternalId, "external id"));
        return await store.UpdateExperimentAsync(id!, validated, Clock.Now(time), cancellationToken).ConfigureAwait(false)
            ?? throw ModelBoxException.NotFound("experiment", id!);
    }

    public async Task<DateTimeOffset> DeleteExperimentAsync(string? id, CancellationToken cancellationToken = default)
    {
        Validation.Id(id, "id", ObjectKind.Experiment);
        return await store.DeleteExperimentAsync(id!, Clock.Now(time), cancellationToken).ConfigureAwait(false)
            ?? throw ModelBoxException.NotFound("experiment", id!);
    }

    public async Task<Experiment> RestoreExperimentAsync(string? id, CancellationToken cancellationToken = default)
    {
        Validation.Id(id, "id", ObjectKind.Experiment);
        return await store.RestoreExperimentAsync(id!, Clock.Now(time), cancellationToken).ConfigureAwait(false)
            ?? throw ModelBoxException.NotFound("experiment", id!);
    }

    /// <summary>
    /// Creates a checkpoint with its <paramref name="files"/> (tracked files, whatever parent they name) in one transaction;
    /// a checkpoint that exists already keeps the files it has.
    /// </summary>
    public async Task<CreateResult<Checkpoint>> CreateCheckpointAsync(
        NewCheckpoint request, IReadOnlyList<NewFile> files, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var newFiles = FileValidation.OfNewObject(files);
        var experimentId = Validation.Id(request.ExperimentId, "experiment id", ObjectKind.Experiment);
        var epoch = CheckEpoch(request.Epoch);
        var metrics = request.Metrics ?? new Dictionary<string, float>(StringComparer.Ordinal);
        foreach (var key in metrics.Keys)
        {
            if (key.Length == 0)
            {
                throw ModelBoxException.InvalidArgument("metrics has an empty key");
            }

            Validation.ShortText(key, "metrics key");
        }

        var now = Clock.Now(time);
        var checkpoint = new Checkpoint(
            ObjectIds.Checkpoint(experimentId, epoch),
            experimentId,
            epoch,
            metrics,
            Validation.Metadata(request.Metadata),
            now,
            now);
        var result = await store.CreateCheckpointAsync(checkpoint, FileValidation.RecordsOfNewObject(newFiles, checkpoint.Id, now), cancellationToken)
            .ConfigureAwait(false);
        if (result.Value.DeletedAt is not null)
        {
            throw ModelBoxException.FailedPrecondition(
                $"checkpoint at epoch {epoch} of experiment '{experimentId}' (id '{checkpoint.Id}') is deleted");
        }

        return result;
    }

    public async Task<Checkpoint> GetCheckpointAsync(string? id, CancellationToken cancellationToken = default)
    {
        Validation.Id(id, "checkpoint id", ObjectKind.Checkpoint);
        var checkpoint = await store.GetCheckpointAsync(id!, cancellationToken).ConfigureAwait(false);
        return checkpoint is null || checkpoint.DeletedAt is not null ? throw ModelBoxException.NotFound("checkpoint", id!) : checkpoint;
    }

    public async Task<Checkpoint> GetCheckpointAsync(string? experimentId, ulong epoch, CancellationToken cancellationToken = default)
    {
        Validation.Id(experimentId, "experiment id", ObjectKind.Experiment);
        var id = ObjectIds.Checkpoint(experimentId!, CheckEpoch(epoch));
        var checkpoint = await store.GetCheckpointAsync(id, cancellationToken).ConfigureAwait(false);
        return checkpoint is null || checkpoint.DeletedAt is not null
            ? throw new ModelBoxException(ErrorKind.NotFound, $"experiment '{experimentId}' has no checkpoint at epoch {epoch}")
            : checkpoint;
    }

    public async Task<Page<Checkpoint>> ListCheckpointsAsync(string? experimentId, PageRequest page, CancellationToken cancellationToken = default)
    {
        // Listing the checkpoints of an unknown experiment is a mistake worth reporting, not an empty list.
        await GetExperimentAsync(Validation.Id(experimentId, "experiment id", ObjectKind.Experiment), cancellationToken).ConfigureAwait(false);
        return await store.ListCheckpointsAsync(experimentId!, page, cancellationToken).ConfigureAwait(false);
    }

    private static long CheckEpoch(ulong epoch) =>
        epoch > long.MaxValue ? throw ModelBoxException.InvalidArgument($"epoch {epoch} is larger than {long.MaxValue}") : (long)epoch;
}
