namespace ModelBox.Domain.Storage;

/// <summary>
/// An MLflow experiment: the MLflow-side name, number and tags of a ModelBox namespace. The number is MLflow's experiment
/// id (stable: derived from the namespace); the name is what MLflow clients see and may be renamed, the namespace never.
/// </summary>
/// <param name="Number">MLflow's experiment id.</param>
/// <param name="Name">MLflow's experiment name (unique).</param>
/// <param name="Namespace">The ModelBox namespace the experiment's runs live in (unique).</param>
/// <param name="ArtifactLocation">Where MLflow clients are told the experiment's artifacts live.</param>
/// <param name="Tags">Experiment tags, key → value.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="UpdatedAt">When it last changed.</param>
/// <param name="DeletedAt">Set while it is deleted (MLflow's lifecycle stage <c>deleted</c>).</param>
public sealed record MlflowExperimentRecord(
    long Number,
    string Name,
    string Namespace,
    string ArtifactLocation,
    IReadOnlyDictionary<string, string> Tags,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? DeletedAt);

/// <summary>The storage port for MLflow experiments (<see cref="MlflowExperimentRecord"/>); reads return deleted ones too.</summary>
public interface IMlflowExperimentStore
{
    /// <summary>Inserts the record unless one with its number, name or namespace exists; returns the record stored under its number, name or namespace.</summary>
    Task<CreateResult<MlflowExperimentRecord>> CreateMlflowExperimentAsync(MlflowExperimentRecord record, CancellationToken cancellationToken = default);

    Task<MlflowExperimentRecord?> GetMlflowExperimentAsync(long number, CancellationToken cancellationToken = default);

    Task<MlflowExperimentRecord?> FindMlflowExperimentByNameAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Every record by ascending number, deleted ones included.</summary>
    Task<Page<MlflowExperimentRecord>> ListMlflowExperimentsAsync(PageRequest page, CancellationToken cancellationToken = default);

    /// <summary>
    /// Applies <paramref name="change"/> to the record under a row lock and stores the result (its number and namespace
    /// stay); null when no record has the number. Throws AlreadyExists when a new name belongs to another record.
    /// </summary>
    Task<MlflowExperimentRecord?> UpdateMlflowExperimentAsync(
        long number, Func<MlflowExperimentRecord, MlflowExperimentRecord> change, CancellationToken cancellationToken = default);
}
