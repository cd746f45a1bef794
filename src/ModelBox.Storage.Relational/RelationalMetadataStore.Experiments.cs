using Dapper;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using static ModelBox.Storage.Relational.RelationalValues;

namespace ModelBox.Storage.Relational;

// Experiments and their checkpoints.
public sealed partial class RelationalMetadataStore
{
    private const string ExperimentColumns =
        "id AS Id, namespace AS Namespace, name AS Name, owner AS Owner, framework AS Framework, task AS Task, "
        + "external_id AS ExternalId, description AS Description, status AS Status, ended_at AS EndedAt, "
        + "created_at AS CreatedAt, updated_at AS UpdatedAt, deleted_at AS DeletedAt";

    private const string CheckpointColumns =
        "id AS Id, experiment_id AS ExperimentId, epoch AS Epoch, metrics AS Metrics, "
        + "created_at AS CreatedAt, updated_at AS UpdatedAt, deleted_at AS DeletedAt";

    public Task<CreateResult<Experiment>> CreateExperimentAsync(Experiment experiment, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        return WriteAsync(
            async session =>
            {
                await RecordNamespaceAsync(session, experiment.Namespace, experiment.CreatedAt, cancellationToken).ConfigureAwait(false);
                var inserted = await session.ExecuteAsync(
                    _dialect.InsertIfAbsent(
                        "experiments",
                        "id, namespace, name, owner, framework, task, external_id, description, status, ended_at, created_at, updated_at, deleted_at",
                        "@Id, @Namespace, @Name, @Owner, @Framework, @Task, @ExternalId, @Description, @Status, @EndedAt, @CreatedAt, @UpdatedAt, NULL",
                        "id"),
                    new
                    {
                        experiment.Id,
                        experiment.Namespace,
                        experiment.Name,
                        experiment.Owner,
                        Framework = (int)experiment.Framework,
                        experiment.Task,
                        experiment.ExternalId,
                        experiment.Description,
                        Status = (int)experiment.Status,
                        EndedAt = ToMicros(experiment.EndedAt),
                        CreatedAt = ToMicros(experiment.CreatedAt),
                        UpdatedAt = ToMicros(experiment.UpdatedAt),
                    }, cancellationToken).ConfigureAwait(false) == 1;
                if (inserted)
                {
                    await InsertMetadataAsync(session, experiment.Id, experiment.Metadata, experiment.CreatedAt, cancellationToken)
                        .ConfigureAwait(false);
                }

                var stored = await ReadExperimentAsync(session, experiment.Id, cancellationToken).ConfigureAwait(false);
                if (inserted)
                {
                    await AppendExperimentChangeAsync(session, stored!, ChangeType.Created, stored!.CreatedAt, cancellationToken)
                        .ConfigureAwait(false);
                }

                return new CreateResult<Experiment>(stored!, Existed: !inserted);
            },
            cancellationToken);
    }

    public Task<Experiment?> GetExperimentAsync(string id, CancellationToken cancellationToken = default) =>
        ReadAsync(session => ReadExperimentAsync(session, id, cancellationToken), cancellationToken);

    public async Task<Page<Experiment>> ListExperimentsAsync(NamespaceScope @namespace, PageRequest page, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(page);
        var after = DecodeToken(page, 2);
        var sql = $"SELECT {ExperimentColumns} FROM experiments WHERE " + InScope("namespace", @namespace) + " AND deleted_at IS NULL"
            + (after is null ? string.Empty : " AND " + _dialect.KeysetAfter(greater: false, ("created_at", "@AfterCreatedAt"), ("id", "@AfterId")))
            + " ORDER BY created_at DESC, id DESC LIMIT @Take";
        var parameters = new
        {
            Namespace = @namespace.Root,
            NamespaceFrom = @namespace.DescendantRange.From,
            NamespaceBefore = @namespace.DescendantRange.Before,
            AfterCreatedAt = after is null ? 0 : ParseKey(after[0]),
            AfterId = after?[1],
            Take = Take(page),
        };
        return await ReadAsync(
            async session =>
            {
                var rows = (await session.QueryAsync<ExperimentRow>(sql, parameters, cancellationToken).ConfigureAwait(false)).AsList();
                var items = ToPage(rows, page, row => row, row => [Key(row.CreatedAt), row.Id]);
                var metadata = await LoadMetadataAsync(session, items.Items.Select(row => row.Id).ToList(), cancellationToken)
                    .ConfigureAwait(false);
                return new Page<Experiment>(items.Items.Select(row => row.ToExperiment(MetadataOf(metadata, row.Id))).ToList(), items.NextPageToken);
            },
            cancellationToken).ConfigureAwait(false);
    }

    public Task<Experiment?> UpdateExperimentAsync(string id, ExperimentChanges changes, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(changes);
        return WriteAsync(
            async session =>
            {
                await LockRowAsync(session, "experiments", id, cancellationToken).ConfigureAwait(false);
                var current = await ReadExperimentAsync(session, id, cancellationToken).ConfigureAwait(false);
                if (current is null || current.DeletedAt is not null)
                {
                    return null;
                }

                var status = changes.Status ?? current.Status;
                var endedAt = current.EndedAt;
                // Only a change of status moves the end time, so a retried "finish" keeps the time the run first ended.
                if (status != current.Status)
                {
                    endedAt = status switch
                    {
                        ExperimentStatus.Finished or ExperimentStatus.Failed or ExperimentStatus.Killed => now,
                        ExperimentStatus.Running => null,
                        _ => endedAt,
                    };
                }

                var updated = current with
                {
                    Status = status,
                    EndedAt = endedAt,
                    Description = changes.Description ?? current.Description,
                    ExternalId = changes.ExternalId ?? current.ExternalId,
                    UpdatedAt = now,
                };
                await session.ExecuteAsync(
                    """
                    UPDATE experiments
                    SET status = @Status, ended_at = @EndedAt, description = @Description, external_id = @ExternalId, updated_at = @UpdatedAt
                    WHERE id = @Id
                    """,
                    new
                    {
                        updated.Id,
                        Status = (int)updated.Status,
                        EndedAt = ToMicros(updated.EndedAt),
                        updated.Description,
                        updated.ExternalId,
                        UpdatedAt = ToMicros(updated.UpdatedAt),
                    }, cancellationToken).ConfigureAwait(false);
                var stored = await ReadExperimentAsync(session, id, cancellationToken).ConfigureAwait(false);
                await AppendExperimentChangeAsync(session, stored!, ChangeType.Updated, now, cancellationToken).ConfigureAwait(false);
                return stored;
            },
            cancellationToken);
    }

    public Task<DateTimeOffset?> DeleteExperimentAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync(session => DeleteTreeAsync(session, ExperimentTree, id, now, cancellationToken), cancellationToken);

    public Task<Experiment?> RestoreExperimentAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync(
            async session => await RestoreTreeAsync(session, ExperimentTree, id, now, cancellationToken).ConfigureAwait(false)
                ? await ReadExperimentAsync(session, id, cancellationToken).ConfigureAwait(false)
                : null,
            cancellationToken);

    /// <summary>An experiment is deleted and restored with its checkpoints.</summary>
    private static readonly DeletionTree ExperimentTree = new(
        "experiments",
        "checkpoints",
        "experiment_id",
        async (session, id, cancellationToken) =>
        {
            var experiment = (await ReadExperimentAsync(session, id, cancellationToken).ConfigureAwait(false))!;
            return (experiment.Namespace, ChangeObjectKinds.Experiment, ChangeStateJson.Experiment(experiment));
        },
        async (session, id, @namespace, cancellationToken) =>
        {
            var checkpoint = (await ReadCheckpointAsync(session, id, cancellationToken).ConfigureAwait(false))!;
            return (ChangeObjectKinds.Checkpoint, ChangeStateJson.Checkpoint(checkpoint, @namespace));
        });

    public Task<CreateResult<Checkpoint>> CreateCheckpointAsync(
        Checkpoint checkpoint, IReadOnlyList<FileRecord>? files = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return WriteAsync(
            async session =>
            {
                var experiment = await GetDeletionAsync(session, "experiments", checkpoint.ExperimentId, cancellationToken)
                    .ConfigureAwait(false);
                if (experiment is null || experiment.DeletedAt is not null)
                {
                    throw ModelBoxException.NotFound("experiment", checkpoint.ExperimentId);
                }

                var inserted = await session.ExecuteAsync(
                    _dialect.InsertIfAbsent(
                        "checkpoints",
                        "id, experiment_id, epoch, metrics, created_at, updated_at, deleted_at",
                        "@Id, @ExperimentId, @Epoch, @Metrics, @CreatedAt, @UpdatedAt, NULL",
                        "id"),
                    new
                    {
                        checkpoint.Id,
                        checkpoint.ExperimentId,
                        checkpoint.Epoch,
                        Metrics = MetricsToJson(checkpoint.Metrics),
                        CreatedAt = ToMicros(checkpoint.CreatedAt),
                        UpdatedAt = ToMicros(checkpoint.UpdatedAt),
                    }, cancellationToken).ConfigureAwait(false) == 1;
                if (inserted)
                {
                    await InsertMetadataAsync(session, checkpoint.Id, checkpoint.Metadata, checkpoint.CreatedAt, cancellationToken)
                        .ConfigureAwait(false);
                }

                var stored = await ReadCheckpointAsync(session, checkpoint.Id, cancellationToken).ConfigureAwait(false);
                if (inserted)
                {
                    var @namespace = await ExperimentNamespaceAsync(session, checkpoint.ExperimentId, cancellationToken).ConfigureAwait(false);
                    await AppendChangeAsync(
            session, @namespace, ChangeObjectKinds.Checkpoint, stored!.Id, ChangeType.Created, stored.CreatedAt,
                        ChangeStateJson.Checkpoint(stored, @namespace), cancellationToken).ConfigureAwait(false);
                    await InsertFilesOfNewObjectAsync(session, stored.Id, files, cancellationToken).ConfigureAwait(false);
                }

                return new CreateResult<Checkpoint>(stored!, Existed: !inserted);
            },
            cancellationToken);
    }

    public Task<Checkpoint?> GetCheckpointAsync(string id, CancellationToken cancellationToken = default) =>
        ReadAsync(session => ReadCheckpointAsync(session, id, cancellationToken), cancellationToken);

    public async Task<Page<Checkpoint>> ListCheckpointsAsync(string experimentId, PageRequest page, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(page);
        var after = DecodeToken(page, 1);
        var sql = $"SELECT {CheckpointColumns} FROM checkpoints WHERE experiment_id = @ExperimentId AND deleted_at IS NULL"
            + (after is null ? string.Empty : " AND epoch > @AfterEpoch")
            + " ORDER BY epoch LIMIT @Take";
        var parameters = new
        {
            ExperimentId = experimentId,
            AfterEpoch = after is null ? 0 : ParseKey(after[0]),
            Take = Take(page),
        };
        return await ReadAsync(
            async session =>
            {
                var rows = (await session.QueryAsync<CheckpointRow>(sql, parameters, cancellationToken).ConfigureAwait(false)).AsList();
                var items = ToPage(rows, page, row => row, row => [Key(row.Epoch)]);
                var metadata = await LoadMetadataAsync(session, items.Items.Select(row => row.Id).ToList(), cancellationToken)
                    .ConfigureAwait(false);
                return new Page<Checkpoint>(items.Items.Select(row => row.ToCheckpoint(MetadataOf(metadata, row.Id))).ToList(), items.NextPageToken);
            },
            cancellationToken).ConfigureAwait(false);
    }

    private Task AppendExperimentChangeAsync(
        DbSession session, Experiment experiment, ChangeType change, DateTimeOffset at, CancellationToken cancellationToken) =>
        AppendChangeAsync(
            session, experiment.Namespace, ChangeObjectKinds.Experiment, experiment.Id, change, at,
            ChangeStateJson.Experiment(experiment), cancellationToken);

    private static Task<string> ExperimentNamespaceAsync(
        DbSession session, string experimentId, CancellationToken cancellationToken) =>
        session.ScalarAsync<string>(
            "SELECT namespace FROM experiments WHERE id = @Id", new { Id = experimentId }, cancellationToken)!;

    private static async Task<Experiment?> ReadExperimentAsync(
        DbSession session, string id, CancellationToken cancellationToken)
    {
        var rows = await session.QueryByKeyAsync<ExperimentRow>($"SELECT {ExperimentColumns} FROM experiments WHERE id = @Id", "@Id", id, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0
            ? null
            : rows[0].ToExperiment(await LoadMetadataAsync(session, id, cancellationToken).ConfigureAwait(false));
    }

    private static async Task<Checkpoint?> ReadCheckpointAsync(
        DbSession session, string id, CancellationToken cancellationToken)
    {
        var rows = await session.QueryByKeyAsync<CheckpointRow>($"SELECT {CheckpointColumns} FROM checkpoints WHERE id = @Id", "@Id", id, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0
            ? null
            : rows[0].ToCheckpoint(await LoadMetadataAsync(session, id, cancellationToken).ConfigureAwait(false));
    }

    private sealed class ExperimentRow
    {
        public string Id { get; set; } = string.Empty;
        public string Namespace { get; set; } = string.Empty;
        public string Name { get; set; } = string.Empty;
        public string Owner { get; set; } = string.Empty;
        public long Framework { get; set; }
        public string Task { get; set; } = string.Empty;
        public string ExternalId { get; set; } = string.Empty;
        public string Description { get; set; } = string.Empty;
        public long Status { get; set; }
        public long? EndedAt { get; set; }
        public long CreatedAt { get; set; }
        public long UpdatedAt { get; set; }
        public long? DeletedAt { get; set; }

        public Experiment ToExperiment(IReadOnlyDictionary<string, string> metadata) => new(
            Id,
            Namespace,
            Name,
            Owner,
            (Framework)Framework,
            Task,
            ExternalId,
            Description,
            (ExperimentStatus)Status,
            FromMicros(EndedAt),
            metadata,
            FromMicros(CreatedAt),
            FromMicros(UpdatedAt),
            FromMicros(DeletedAt));
    }

    private sealed class CheckpointRow
    {
        public string Id { get; set; } = string.Empty;
        public string ExperimentId { get; set; } = string.Empty;
        public long Epoch { get; set; }
        public string Metrics { get; set; } = "{}";
        public long CreatedAt { get; set; }
        public long UpdatedAt { get; set; }
        public long? DeletedAt { get; set; }

        public Checkpoint ToCheckpoint(IReadOnlyDictionary<string, string> metadata) => new(
            Id,
            ExperimentId,
            Epoch,
            MetricsFromJson(Metrics),
            metadata,
            FromMicros(CreatedAt),
            FromMicros(UpdatedAt),
            FromMicros(DeletedAt));
    }
}
