using Dapper;
using Microsoft.Data.Sqlite;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Registry;
using static ModelBox.Storage.Sqlite.SqliteValues;

namespace ModelBox.Storage.Sqlite;

// Datasets, their versions, and lineage edges (subject --relation--> target).
public sealed partial class SqliteMetadataStore
{
    private const string RelationExperiment = "experiment";
    private const string RelationCheckpoint = "checkpoint";
    private const string RelationDataset = "dataset";
    private const string RelationParent = "parent";

    // Derivation chains deeper than this are cut off: the recursion also ends on cycles, which writes refuse anyway.
    private const int MaxLineageDepth = 100;

    private const string DatasetColumns =
        "id AS Id, namespace AS Namespace, name AS Name, description AS Description, created_at AS CreatedAt, updated_at AS UpdatedAt";

    private const string DatasetVersionColumns = "id AS Id, dataset_id AS DatasetId, digest AS Digest, uri AS Uri, created_at AS CreatedAt";

    public Task<DatasetRegistration> RegisterDatasetAsync(Dataset dataset, DatasetVersion version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(version);
        return WriteAsync(
            async (connection, transaction) =>
            {
                await RecordNamespaceAsync(connection, transaction, dataset.Namespace, dataset.CreatedAt, cancellationToken).ConfigureAwait(false);
                var datasetInserted = await connection.ExecuteAsync(Command(
                    """
                    INSERT INTO datasets (id, namespace, name, description, created_at, updated_at, deleted_at)
                    VALUES (@Id, @Namespace, @Name, @Description, @CreatedAt, @UpdatedAt, NULL)
                    ON CONFLICT (id) DO NOTHING
                    """,
                    new
                    {
                        dataset.Id,
                        dataset.Namespace,
                        dataset.Name,
                        dataset.Description,
                        CreatedAt = ToMicros(dataset.CreatedAt),
                        UpdatedAt = ToMicros(dataset.UpdatedAt),
                    },
                    transaction,
                    cancellationToken)).ConfigureAwait(false) == 1;
                if (datasetInserted)
                {
                    await InsertMetadataAsync(connection, transaction, dataset.Id, dataset.Metadata, dataset.CreatedAt, cancellationToken).ConfigureAwait(false);
                }

                var storedDataset = (await ReadDatasetAsync(connection, transaction, dataset.Id, cancellationToken).ConfigureAwait(false))!;
                if (datasetInserted)
                {
                    await AppendChangeAsync(
                        connection, transaction, dataset.Namespace, ChangeObjectKinds.Dataset, dataset.Id, ChangeType.Created, dataset.CreatedAt,
                        RegistryRecords.DatasetState(storedDataset), cancellationToken).ConfigureAwait(false);
                }

                var versionInserted = await connection.ExecuteAsync(Command(
                    """
                    INSERT INTO dataset_versions (id, dataset_id, digest, uri, created_at) VALUES (@Id, @DatasetId, @Digest, @Uri, @CreatedAt)
                    ON CONFLICT (id) DO NOTHING
                    """,
                    new { version.Id, version.DatasetId, version.Digest, version.Uri, CreatedAt = ToMicros(version.CreatedAt) },
                    transaction,
                    cancellationToken)).ConfigureAwait(false) == 1;
                if (versionInserted)
                {
                    await InsertMetadataAsync(connection, transaction, version.Id, version.Metadata, version.CreatedAt, cancellationToken).ConfigureAwait(false);
                }

                var storedVersion = (await ReadDatasetVersionAsync(connection, transaction, version.Id, cancellationToken).ConfigureAwait(false))!;
                if (versionInserted)
                {
                    await AppendChangeAsync(
                        connection, transaction, dataset.Namespace, ChangeObjectKinds.DatasetVersion, version.Id, ChangeType.Created, version.CreatedAt,
                        RegistryRecords.DatasetVersionState(storedVersion, dataset.Namespace), cancellationToken).ConfigureAwait(false);
                }

                return new DatasetRegistration(storedDataset, storedVersion, !datasetInserted, !versionInserted);
            },
            cancellationToken);
    }

    public Task<Dataset?> GetDatasetAsync(string id, CancellationToken cancellationToken = default) =>
        ReadAsync((connection, transaction) => ReadDatasetAsync(connection, transaction, id, cancellationToken), cancellationToken);

    public Task<DatasetVersion?> GetDatasetVersionAsync(string id, CancellationToken cancellationToken = default) =>
        ReadAsync((connection, transaction) => ReadDatasetVersionAsync(connection, transaction, id, cancellationToken), cancellationToken);

    public async Task<Page<Dataset>> ListDatasetsAsync(string @namespace, PageRequest page, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(page);
        var after = DecodeToken(page, 1);
        var sql = $"SELECT {DatasetColumns} FROM datasets WHERE namespace = @Namespace AND deleted_at IS NULL"
            + (after is null ? string.Empty : " AND name > @AfterName")
            + " ORDER BY name LIMIT @Take";
        return await ReadAsync(
            async (connection, transaction) =>
            {
                var rows = (await connection.QueryAsync<DatasetRow>(Command(
                    sql, new { Namespace = @namespace, AfterName = after?[0], Take = Take(page) }, transaction, cancellationToken)).ConfigureAwait(false)).AsList();
                var items = ToPage(rows, page, row => row, row => [row.Name]);
                var metadata = await LoadMetadataAsync(connection, transaction, items.Items.Select(row => row.Id).ToList(), cancellationToken).ConfigureAwait(false);
                return new Page<Dataset>(items.Items.Select(row => row.ToDataset(MetadataOf(metadata, row.Id))).ToList(), items.NextPageToken);
            },
            cancellationToken).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<DatasetVersion>> ListDatasetVersionsAsync(string datasetId, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<DatasetVersion>>(
            async (connection, transaction) =>
            {
                var rows = (await connection.QueryAsync<DatasetVersionRow>(Command(
                    $"SELECT {DatasetVersionColumns} FROM dataset_versions WHERE dataset_id = @Id ORDER BY created_at, id",
                    new { Id = datasetId },
                    transaction,
                    cancellationToken)).ConfigureAwait(false)).AsList();
                var metadata = await LoadMetadataAsync(connection, transaction, rows.ConvertAll(row => row.Id), cancellationToken).ConfigureAwait(false);
                return rows.ConvertAll(row => row.ToDatasetVersion(MetadataOf(metadata, row.Id)));
            },
            cancellationToken);

    public Task<bool> SetLineageAsync(string subjectId, Lineage lineage, AuditContext audit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lineage);
        ArgumentNullException.ThrowIfNull(audit);
        return WriteAsync(
            async (connection, transaction) =>
            {
                var subject = await LocateAsync(connection, transaction, subjectId, cancellationToken).ConfigureAwait(false);
                if (subject is null || subject.Deleted)
                {
                    return false;
                }

                await WriteLineageAsync(connection, transaction, subjectId, subject.Namespace, lineage, audit, cancellationToken).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    public Task<Lineage?> GetRecordedLineageAsync(string subjectId, CancellationToken cancellationToken = default) =>
        ReadAsync(
            async (connection, transaction) =>
            {
                var subject = await LocateAsync(connection, transaction, subjectId, cancellationToken).ConfigureAwait(false);
                return subject is null || subject.Deleted
                    ? null
                    : await ReadRecordedLineageAsync(connection, transaction, subjectId, cancellationToken).ConfigureAwait(false);
            },
            cancellationToken);

    public Task<LineageGraph?> GetLineageAsync(string versionId, CancellationToken cancellationToken = default) =>
        ReadAsync(
            async (connection, transaction) =>
            {
                var location = await LocateAsync(connection, transaction, versionId, cancellationToken).ConfigureAwait(false);
                if (location is null || location.Deleted)
                {
                    return null;
                }

                var version = (await ReadModelVersionAsync(connection, transaction, versionId, cancellationToken).ConfigureAwait(false))!;
                var model = (await ReadModelAsync(connection, transaction, version.ModelId, cancellationToken).ConfigureAwait(false))!;
                var recorded = await ReadRecordedLineageAsync(connection, transaction, versionId, cancellationToken).ConfigureAwait(false);
                var experiment = recorded.ExperimentId is null
                    ? null
                    : await ReadExperimentAsync(connection, transaction, recorded.ExperimentId, cancellationToken).ConfigureAwait(false);
                var checkpoint = recorded.CheckpointId is null
                    ? null
                    : await ReadCheckpointAsync(connection, transaction, recorded.CheckpointId, cancellationToken).ConfigureAwait(false);
                var datasets = new List<DatasetUse>();
                foreach (var link in recorded.Datasets)
                {
                    var datasetVersion = await ReadDatasetVersionAsync(connection, transaction, link.DatasetVersionId, cancellationToken).ConfigureAwait(false);
                    var dataset = datasetVersion is null
                        ? null
                        : await ReadDatasetAsync(connection, transaction, datasetVersion.DatasetId, cancellationToken).ConfigureAwait(false);
                    if (dataset is not null)
                    {
                        datasets.Add(new DatasetUse(dataset, datasetVersion!, link.Role));
                    }
                }

                var ancestorRows = await connection.QueryAsync<AncestorRow>(Command(
                    """
                    WITH RECURSIVE ancestors (child_id, id, relation, depth) AS (
                        SELECT subject_id, target_id, role, 1 FROM lineage_edges WHERE subject_id = @Id AND relation = 'parent'
                        UNION
                        SELECT e.subject_id, e.target_id, e.role, a.depth + 1
                        FROM lineage_edges e JOIN ancestors a ON e.subject_id = a.id
                        WHERE e.relation = 'parent' AND a.depth < @MaxDepth
                    )
                    SELECT child_id AS ChildId, id AS Id, relation AS Relation, MIN(depth) AS Depth
                    FROM ancestors GROUP BY child_id, id, relation ORDER BY Depth, Id
                    """,
                    new { Id = versionId, MaxDepth = MaxLineageDepth },
                    transaction,
                    cancellationToken)).ConfigureAwait(false);
                var ancestors = new List<LineageAncestor>();
                foreach (var row in ancestorRows)
                {
                    var ancestor = await ReadModelVersionAsync(connection, transaction, row.Id, cancellationToken).ConfigureAwait(false);
                    if (ancestor is null)
                    {
                        continue;
                    }

                    var ancestorExperiment = await connection.ExecuteScalarAsync<string?>(Command(
                        "SELECT target_id FROM lineage_edges WHERE subject_id = @Id AND relation = 'experiment'",
                        new { row.Id },
                        transaction,
                        cancellationToken)).ConfigureAwait(false);
                    ancestors.Add(new LineageAncestor(ancestor, row.ChildId, row.Relation, (int)row.Depth, ancestorExperiment));
                }

                var descendants = await ReadVersionsAsync(
                    connection,
                    transaction,
                    "SELECT subject_id FROM lineage_edges WHERE target_id = @Id AND relation = 'parent'",
                    new { Id = versionId },
                    cancellationToken).ConfigureAwait(false);
                return new LineageGraph(version, model, experiment, checkpoint, datasets, ancestors, descendants);
            },
            cancellationToken);

    public Task<IReadOnlyList<ModelVersion>> ListVersionsTrainedInAsync(string experimentId, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<ModelVersion>>(
            (connection, transaction) => ReadVersionsAsync(
                connection,
                transaction,
                "SELECT subject_id FROM lineage_edges WHERE target_id = @Id AND relation = 'experiment'",
                new { Id = experimentId },
                cancellationToken),
            cancellationToken);

    public Task<DatasetUsage> GetDatasetUsageAsync(string datasetOrVersionId, CancellationToken cancellationToken = default) =>
        ReadAsync(
            async (connection, transaction) =>
            {
                var targets = ObjectIds.TryGetKind(datasetOrVersionId, out var kind) && kind == ObjectKind.Dataset
                    ? "SELECT id FROM dataset_versions WHERE dataset_id = @Id"
                    : "SELECT @Id";
                var users = $"SELECT DISTINCT subject_id FROM lineage_edges WHERE relation = 'dataset' AND target_id IN ({targets})";
                var versions = await ReadVersionsAsync(connection, transaction, users, new { Id = datasetOrVersionId }, cancellationToken).ConfigureAwait(false);

                // Experiments that named the dataset themselves, and the experiments the versions that used it were trained in.
                var experimentIds = (await connection.QueryAsync<string>(Command(
                    $"""
                    SELECT DISTINCT used.id FROM (
                        SELECT subject_id AS id FROM lineage_edges WHERE subject_id IN ({users}) AND subject_id LIKE 'exp-%'
                        UNION
                        SELECT target_id AS id FROM lineage_edges WHERE relation = 'experiment' AND subject_id IN ({users})
                    ) used
                    JOIN experiments e ON e.id = used.id
                    WHERE e.deleted_at IS NULL
                    ORDER BY e.created_at, e.id
                    """,
                    new { Id = datasetOrVersionId },
                    transaction,
                    cancellationToken)).ConfigureAwait(false)).AsList();
                var experiments = new List<Experiment>();
                foreach (var id in experimentIds)
                {
                    experiments.Add((await ReadExperimentAsync(connection, transaction, id, cancellationToken).ConfigureAwait(false))!);
                }

                return new DatasetUsage(experiments, versions);
            },
            cancellationToken);

    /// <summary>Checks every reference, refuses cycles, replaces the subject's edges, and records the change and its audit event.</summary>
    private async Task WriteLineageAsync(
        SqliteConnection connection,
        SqliteTransaction transaction,
        string subjectId,
        string @namespace,
        Lineage lineage,
        AuditContext audit,
        CancellationToken cancellationToken)
    {
        var experimentId = lineage.ExperimentId;
        if (lineage.CheckpointId is { } checkpointId)
        {
            var checkpoint = await ReadCheckpointAsync(connection, transaction, checkpointId, cancellationToken).ConfigureAwait(false)
                ?? throw ModelBoxException.NotFound("checkpoint", checkpointId);
            if (experimentId is not null && !string.Equals(checkpoint.ExperimentId, experimentId, StringComparison.Ordinal))
            {
                throw ModelBoxException.InvalidArgument(
                    $"checkpoint_id '{checkpointId}' belongs to experiment '{checkpoint.ExperimentId}', not to experiment_id '{experimentId}'");
            }

            // A checkpoint names its experiment: record both so "versions trained in an experiment" finds this one.
            experimentId ??= checkpoint.ExperimentId;
        }

        if (experimentId is not null && await ReadExperimentAsync(connection, transaction, experimentId, cancellationToken).ConfigureAwait(false) is null)
        {
            throw ModelBoxException.NotFound("experiment", experimentId);
        }

        foreach (var link in lineage.Datasets)
        {
            if (await ReadDatasetVersionAsync(connection, transaction, link.DatasetVersionId, cancellationToken).ConfigureAwait(false) is null)
            {
                throw ModelBoxException.NotFound("dataset version", link.DatasetVersionId);
            }
        }

        foreach (var parent in lineage.DerivedFrom)
        {
            var location = await LocateAsync(connection, transaction, parent.ParentVersionId, cancellationToken).ConfigureAwait(false);
            if (location is null || location.Deleted)
            {
                throw ModelBoxException.NotFound("model version", parent.ParentVersionId);
            }

            var cycle = await connection.ExecuteScalarAsync<long>(Command(
                """
                WITH RECURSIVE ancestors (id, depth) AS (
                    SELECT @Parent, 0
                    UNION
                    SELECT e.target_id, a.depth + 1 FROM lineage_edges e JOIN ancestors a ON e.subject_id = a.id
                    WHERE e.relation = 'parent' AND a.depth < @MaxDepth
                )
                SELECT COUNT(*) FROM ancestors WHERE id = @Subject
                """,
                new { Parent = parent.ParentVersionId, Subject = subjectId, MaxDepth = MaxLineageDepth },
                transaction,
                cancellationToken)).ConfigureAwait(false);
            if (cycle > 0)
            {
                throw ModelBoxException.FailedPrecondition(
                    $"derived_from: model version '{subjectId}' is already an ancestor of '{parent.ParentVersionId}'; lineage cannot have cycles");
            }
        }

        var previous = await ReadRecordedLineageAsync(connection, transaction, subjectId, cancellationToken).ConfigureAwait(false);
        var effective = lineage with { ExperimentId = experimentId };
        await connection.ExecuteAsync(Command(
            "DELETE FROM lineage_edges WHERE subject_id = @Id", new { Id = subjectId }, transaction, cancellationToken)).ConfigureAwait(false);
        var now = ToMicros(audit.At);
        var edges = new List<object>();
        if (experimentId is not null)
        {
            edges.Add(new { Subject = subjectId, Relation = RelationExperiment, Target = experimentId, Role = string.Empty, Now = now });
        }

        if (lineage.CheckpointId is not null)
        {
            edges.Add(new { Subject = subjectId, Relation = RelationCheckpoint, Target = lineage.CheckpointId, Role = string.Empty, Now = now });
        }

        edges.AddRange(lineage.Datasets.Select(link =>
            (object)new { Subject = subjectId, Relation = RelationDataset, Target = link.DatasetVersionId, Role = RegistryRecords.RoleName(link.Role), Now = now }));
        edges.AddRange(lineage.DerivedFrom.Select(link =>
            (object)new { Subject = subjectId, Relation = RelationParent, Target = link.ParentVersionId, Role = link.Relation, Now = now }));
        if (edges.Count > 0)
        {
            await connection.ExecuteAsync(Command(
                "INSERT INTO lineage_edges (subject_id, relation, target_id, role, created_at) VALUES (@Subject, @Relation, @Target, @Role, @Now)",
                edges,
                transaction,
                cancellationToken)).ConfigureAwait(false);
        }

        var state = RegistryRecords.LineageState(subjectId, effective, audit);
        await AppendChangeAsync(
            connection, transaction, @namespace, ChangeObjectKinds.Lineage, subjectId, ChangeType.Updated, audit.At, state, cancellationToken)
            .ConfigureAwait(false);
        await AuditAsync(connection, transaction, @namespace, subjectId, "audit.lineage_set", audit,
            new()
            {
                ["old"] = previous.IsEmpty ? null : RegistryRecords.LineageState(subjectId, previous, audit with { Actor = string.Empty }),
                ["new"] = state,
            },
            cancellationToken).ConfigureAwait(false);
    }

    private static async Task<Lineage> ReadRecordedLineageAsync(
        SqliteConnection connection, SqliteTransaction transaction, string subjectId, CancellationToken cancellationToken)
    {
        var edges = (await connection.QueryAsync<EdgeRow>(Command(
            "SELECT relation AS Relation, target_id AS TargetId, role AS Role FROM lineage_edges WHERE subject_id = @Id ORDER BY relation, target_id",
            new { Id = subjectId },
            transaction,
            cancellationToken)).ConfigureAwait(false)).AsList();
        return new Lineage(
            edges.Find(e => e.Relation == RelationExperiment)?.TargetId,
            edges.Find(e => e.Relation == RelationCheckpoint)?.TargetId,
            edges.Where(e => e.Relation == RelationDataset)
                .Select(e => new DatasetLink(e.TargetId, RegistryRecords.TryParseRole(e.Role, out var role) ? role : DatasetRole.Training))
                .ToList(),
            edges.Where(e => e.Relation == RelationParent).Select(e => new DerivationLink(e.TargetId, e.Role)).ToList());
    }

    /// <summary>Live versions of live models whose ids the subquery yields, oldest first.</summary>
    private static async Task<IReadOnlyList<ModelVersion>> ReadVersionsAsync(
        SqliteConnection connection, SqliteTransaction transaction, string idQuery, object parameters, CancellationToken cancellationToken)
    {
        var columns = string.Join(", ", ModelVersionColumns.Split(", ").Select(column => "v." + column));
        var rows = (await connection.QueryAsync<ModelVersionRow>(Command(
            $"""
            SELECT {columns} FROM model_versions v JOIN models m ON m.id = v.model_id
            WHERE v.id IN ({idQuery}) AND v.deleted_at IS NULL AND m.deleted_at IS NULL
            ORDER BY v.created_at, v.id
            """,
            parameters,
            transaction,
            cancellationToken)).ConfigureAwait(false)).AsList();
        var metadata = await LoadMetadataAsync(connection, transaction, rows.ConvertAll(row => row.Id), cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(row => row.ToModelVersion(MetadataOf(metadata, row.Id)));
    }

    private static async Task<Dataset?> ReadDatasetAsync(
        SqliteConnection connection, SqliteTransaction transaction, string id, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<DatasetRow>(Command(
            $"SELECT {DatasetColumns} FROM datasets WHERE id = @Id AND deleted_at IS NULL", new { Id = id }, transaction, cancellationToken)).ConfigureAwait(false);
        return row?.ToDataset(await LoadMetadataAsync(connection, transaction, id, cancellationToken).ConfigureAwait(false));
    }

    private static async Task<DatasetVersion?> ReadDatasetVersionAsync(
        SqliteConnection connection, SqliteTransaction transaction, string id, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<DatasetVersionRow>(Command(
            $"SELECT {DatasetVersionColumns} FROM dataset_versions WHERE id = @Id", new { Id = id }, transaction, cancellationToken)).ConfigureAwait(false);
        return row?.ToDatasetVersion(await LoadMetadataAsync(connection, transaction, id, cancellationToken).ConfigureAwait(false));
    }

    private sealed class DatasetRow
    {
        public string Id { get; set; } = string.Empty;
        public string Namespace { get; set; } = string.Empty;
        public string Name { get; set; } = string.Empty;
        public string Description { get; set; } = string.Empty;
        public long CreatedAt { get; set; }
        public long UpdatedAt { get; set; }

        public Dataset ToDataset(IReadOnlyDictionary<string, string> metadata) =>
            new(Id, Namespace, Name, Description, metadata, FromMicros(CreatedAt), FromMicros(UpdatedAt));
    }

    private sealed class DatasetVersionRow
    {
        public string Id { get; set; } = string.Empty;
        public string DatasetId { get; set; } = string.Empty;
        public string Digest { get; set; } = string.Empty;
        public string Uri { get; set; } = string.Empty;
        public long CreatedAt { get; set; }

        public DatasetVersion ToDatasetVersion(IReadOnlyDictionary<string, string> metadata) =>
            new(Id, DatasetId, Digest, Uri, metadata, FromMicros(CreatedAt));
    }

    private sealed class EdgeRow
    {
        public string Relation { get; set; } = string.Empty;
        public string TargetId { get; set; } = string.Empty;
        public string Role { get; set; } = string.Empty;
    }

    private sealed class AncestorRow
    {
        public string ChildId { get; set; } = string.Empty;
        public string Id { get; set; } = string.Empty;
        public string Relation { get; set; } = string.Empty;
        public long Depth { get; set; }
    }
}
