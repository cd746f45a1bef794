using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Registry;
using static ModelBox.Storage.Relational.RelationalValues;

namespace ModelBox.Storage.Relational;

// Datasets, their versions, and lineage edges (subject --relation--> target).
public sealed partial class RelationalMetadataStore
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
            async session =>
            {
                // Insert-if-absent on the id: replicas registering the same dataset at once both end with the one row.
                await RecordNamespaceAsync(session, dataset.Namespace, dataset.CreatedAt, cancellationToken).ConfigureAwait(false);
                var datasetInserted = await session.ExecuteAsync(
                    _dialect.InsertIfAbsent(
                        "datasets",
                        "id, namespace, name, description, created_at, updated_at, deleted_at",
                        "@Id, @Namespace, @Name, @Description, @CreatedAt, @UpdatedAt, NULL",
                        "id"),
                    new
                    {
                        dataset.Id,
                        dataset.Namespace,
                        dataset.Name,
                        dataset.Description,
                        CreatedAt = ToMicros(dataset.CreatedAt),
                        UpdatedAt = ToMicros(dataset.UpdatedAt),
                    },
                    cancellationToken).ConfigureAwait(false) == 1;
                if (datasetInserted)
                {
                    await InsertMetadataAsync(session, dataset.Id, dataset.Metadata, dataset.CreatedAt, cancellationToken).ConfigureAwait(false);
                }

                var storedDataset = (await ReadDatasetAsync(session, dataset.Id, cancellationToken).ConfigureAwait(false))!;
                if (datasetInserted)
                {
                    await AppendChangeAsync(
                        session, dataset.Namespace, ChangeObjectKinds.Dataset, dataset.Id, ChangeType.Created, dataset.CreatedAt,
                        RegistryRecords.DatasetState(storedDataset), cancellationToken).ConfigureAwait(false);
                }

                var versionInserted = await session.ExecuteAsync(
                    _dialect.InsertIfAbsent(
                        "dataset_versions", "id, dataset_id, digest, uri, created_at", "@Id, @DatasetId, @Digest, @Uri, @CreatedAt", "id"),
                    new { version.Id, version.DatasetId, version.Digest, version.Uri, CreatedAt = ToMicros(version.CreatedAt) },
                    cancellationToken).ConfigureAwait(false) == 1;
                if (versionInserted)
                {
                    await InsertMetadataAsync(session, version.Id, version.Metadata, version.CreatedAt, cancellationToken).ConfigureAwait(false);
                }

                var storedVersion = (await ReadDatasetVersionAsync(session, version.Id, cancellationToken).ConfigureAwait(false))!;
                if (versionInserted)
                {
                    await AppendChangeAsync(
                        session, dataset.Namespace, ChangeObjectKinds.DatasetVersion, version.Id, ChangeType.Created, version.CreatedAt,
                        RegistryRecords.DatasetVersionState(storedVersion, dataset.Namespace), cancellationToken).ConfigureAwait(false);
                }

                return new DatasetRegistration(storedDataset, storedVersion, !datasetInserted, !versionInserted);
            },
            cancellationToken);
    }

    public Task<Dataset?> GetDatasetAsync(string id, CancellationToken cancellationToken = default) =>
        ReadAsync(session => ReadDatasetAsync(session, id, cancellationToken), cancellationToken);

    public Task<DatasetVersion?> GetDatasetVersionAsync(string id, CancellationToken cancellationToken = default) =>
        ReadAsync(session => ReadDatasetVersionAsync(session, id, cancellationToken), cancellationToken);

    public async Task<Page<Dataset>> ListDatasetsAsync(NamespaceScope @namespace, PageRequest page, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(page);
        var after = DecodeToken(page, 1);
        var sql = $"SELECT {DatasetColumns} FROM datasets WHERE " + InScope("namespace", @namespace) + " AND deleted_at IS NULL"
            + (after is null ? string.Empty : " AND name > @AfterName")
            + " ORDER BY name LIMIT @Take";
        return await ReadAsync(
            async session =>
            {
                var rows = await session.QueryAsync<DatasetRow>(
                    sql, new { Namespace = @namespace.Root, NamespaceFrom = @namespace.DescendantRange.From, NamespaceBefore = @namespace.DescendantRange.Before, AfterName = after?[0], Take = Take(page) }, cancellationToken).ConfigureAwait(false);
                var items = ToPage(rows, page, row => row, row => [row.Name]);
                var metadata = await LoadMetadataAsync(session, items.Items.Select(row => row.Id).ToList(), cancellationToken).ConfigureAwait(false);
                return new Page<Dataset>(items.Items.Select(row => row.ToDataset(MetadataOf(metadata, row.Id))).ToList(), items.NextPageToken);
            },
            cancellationToken).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<DatasetVersion>> ListDatasetVersionsAsync(string datasetId, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<DatasetVersion>>(
            async session =>
            {
                var rows = await session.QueryAsync<DatasetVersionRow>(
                    $"SELECT {DatasetVersionColumns} FROM dataset_versions WHERE dataset_id = @Id ORDER BY created_at, id",
                    new { Id = datasetId },
                    cancellationToken).ConfigureAwait(false);
                var metadata = await LoadMetadataAsync(session, rows.ConvertAll(row => row.Id), cancellationToken).ConfigureAwait(false);
                return rows.ConvertAll(row => row.ToDatasetVersion(MetadataOf(metadata, row.Id)));
            },
            cancellationToken);

    public Task<bool> SetLineageAsync(string subjectId, Lineage lineage, AuditContext audit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lineage);
        ArgumentNullException.ThrowIfNull(audit);
        return WriteAsync(
            async session =>
            {
                // The subject's lock makes two replacements of one lineage take turns.
                var subject = await LockAndLocateAsync(session, subjectId, cancellationToken).ConfigureAwait(false);
                if (subject is null || subject.Deleted)
                {
                    return false;
                }

                await WriteLineageAsync(session, subjectId, subject.Namespace, lineage, audit, cancellationToken).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    public Task<Lineage?> GetRecordedLineageAsync(string subjectId, CancellationToken cancellationToken = default) =>
        ReadAsync(
            async session =>
            {
                var subject = await LocateAsync(session, subjectId, cancellationToken).ConfigureAwait(false);
                return subject is null || subject.Deleted
                    ? null
                    : await ReadRecordedLineageAsync(session, subjectId, cancellationToken).ConfigureAwait(false);
            },
            cancellationToken);

    public Task<LineageGraph?> GetLineageAsync(string versionId, CancellationToken cancellationToken = default) =>
        ReadAsync(
            async session =>
            {
                var location = await LocateAsync(session, versionId, cancellationToken).ConfigureAwait(false);
                if (location is null || location.Deleted)
                {
                    return null;
                }

                var version = (await ReadModelVersionAsync(session, versionId, cancellationToken).ConfigureAwait(false))!;
                var model = (await ReadModelAsync(session, version.ModelId, cancellationToken).ConfigureAwait(false))!;
                var recorded = await ReadRecordedLineageAsync(session, versionId, cancellationToken).ConfigureAwait(false);
                var experiment = recorded.ExperimentId is null
                    ? null
                    : await ReadExperimentAsync(session, recorded.ExperimentId, cancellationToken).ConfigureAwait(false);
                var checkpoint = recorded.CheckpointId is null
                    ? null
                    : await ReadCheckpointAsync(session, recorded.CheckpointId, cancellationToken).ConfigureAwait(false);
                var datasets = new List<DatasetUse>();
                foreach (var link in recorded.Datasets)
                {
                    var datasetVersion = await ReadDatasetVersionAsync(session, link.DatasetVersionId, cancellationToken).ConfigureAwait(false);
                    var dataset = datasetVersion is null
                        ? null
                        : await ReadDatasetAsync(session, datasetVersion.DatasetId, cancellationToken).ConfigureAwait(false);
                    if (dataset is not null)
                    {
                        datasets.Add(new DatasetUse(dataset, datasetVersion!, link.Role));
                    }
                }

                var ancestorRows = await session.QueryAsync<AncestorRow>(
                    """
                    WITH RECURSIVE ancestors (child_id, id, relation, depth) AS (
                        SELECT subject_id, target_id, role, 1 FROM lineage_edges WHERE subject_id = @Id AND relation = 'parent'
                        UNION
                        SELECT e.subject_id, e.target_id, e.role, a.depth + 1
                        FROM lineage_edges e JOIN ancestors a ON e.subject_id = a.id
                        WHERE e.relation = 'parent' AND a.depth < @MaxDepth
                    )
                    SELECT child_id AS ChildId, id AS Id, relation AS Relation, MIN(depth) AS Depth
                    FROM ancestors GROUP BY child_id, id, relation ORDER BY MIN(depth), id
                    """,
                    new { Id = versionId, MaxDepth = MaxLineageDepth },
                    cancellationToken).ConfigureAwait(false);
                var ancestors = new List<LineageAncestor>();
                foreach (var row in ancestorRows)
                {
                    var ancestor = await ReadModelVersionAsync(session, row.Id, cancellationToken).ConfigureAwait(false);
                    if (ancestor is null)
                    {
                        continue;
                    }

                    var ancestorExperiment = await session.ScalarAsync<string>(
                        "SELECT target_id FROM lineage_edges WHERE subject_id = @Id AND relation = 'experiment'",
                        new { row.Id },
                        cancellationToken).ConfigureAwait(false);
                    ancestors.Add(new LineageAncestor(ancestor, row.ChildId, row.Relation, (int)row.Depth, ancestorExperiment));
                }

                var descendants = await ReadVersionsAsync(
                    session,
                    "SELECT subject_id FROM lineage_edges WHERE target_id = @Id AND relation = 'parent'",
                    new { Id = versionId },
                    cancellationToken).ConfigureAwait(false);
                return new LineageGraph(version, model, experiment, checkpoint, datasets, ancestors, descendants);
            },
            cancellationToken);

    public Task<IReadOnlyList<ModelVersion>> ListVersionsTrainedInAsync(string experimentId, CancellationToken cancellationToken = default) =>
        ReadAsync(
            session => ReadVersionsAsync(
                session,
                "SELECT subject_id FROM lineage_edges WHERE target_id = @Id AND relation = 'experiment'",
                new { Id = experimentId },
                cancellationToken),
            cancellationToken);

    public Task<DatasetUsage> GetDatasetUsageAsync(string datasetOrVersionId, CancellationToken cancellationToken = default) =>
        ReadAsync(
            async session =>
            {
                var target = ObjectIds.TryGetKind(datasetOrVersionId, out var kind) && kind == ObjectKind.Dataset
                    ? "target_id IN (SELECT id FROM dataset_versions WHERE dataset_id = @Id)"
                    : "target_id = @Id";
                var users = $"SELECT subject_id FROM lineage_edges WHERE relation = 'dataset' AND {target}";
                var versions = await ReadVersionsAsync(session, users, new { Id = datasetOrVersionId }, cancellationToken).ConfigureAwait(false);

                // Experiments that named the dataset themselves, and the experiments the versions that used it were trained in.
                var experimentIds = await session.QueryAsync<string>(
                    $"""
                    SELECT e.id FROM experiments e
                    WHERE e.deleted_at IS NULL AND e.id IN (
                        SELECT subject_id FROM lineage_edges WHERE relation = 'dataset' AND subject_id LIKE 'exp-%' AND {target}
                        UNION
                        SELECT target_id FROM lineage_edges WHERE relation = 'experiment' AND subject_id IN ({users})
                    )
                    ORDER BY e.created_at, e.id
                    """,
                    new { Id = datasetOrVersionId },
                    cancellationToken).ConfigureAwait(false);
                var experiments = new List<Experiment>();
                foreach (var id in experimentIds)
                {
                    experiments.Add((await ReadExperimentAsync(session, id, cancellationToken).ConfigureAwait(false))!);
                }

                return new DatasetUsage(experiments, versions);
            },
            cancellationToken);

    /// <summary>
    /// Checks every reference, refuses cycles, replaces the subject's edges, and records the change and its audit event.
    /// The caller holds the subject's row lock. A cycle can close through two transactions that each add one edge (a → b
    /// on one replica, b → … → a on another) and neither sees the other's edge; so a write that adds derivations first takes
    /// the change counter's row lock, which serialises it with every other change-producing write (they take it last, just
    /// before commit), and the cycle check reads after it has it. Lineage writes with derivations are rare and short.
    /// </summary>
    private async Task WriteLineageAsync(
        DbSession session,
        string subjectId,
        string @namespace,
        Lineage lineage,
        AuditContext audit,
        CancellationToken cancellationToken)
    {
        var experimentId = lineage.ExperimentId;
        if (lineage.CheckpointId is { } checkpointId)
        {
            var checkpoint = await ReadCheckpointAsync(session, checkpointId, cancellationToken).ConfigureAwait(false)
                ?? throw ModelBoxException.NotFound("checkpoint", checkpointId);
            if (experimentId is not null && !string.Equals(checkpoint.ExperimentId, experimentId, StringComparison.Ordinal))
            {
                throw ModelBoxException.InvalidArgument(
                    $"checkpoint_id '{checkpointId}' belongs to experiment '{checkpoint.ExperimentId}', not to experiment_id '{experimentId}'");
            }

            // A checkpoint names its experiment: record both so "versions trained in an experiment" finds this one.
            experimentId ??= checkpoint.ExperimentId;
        }

        if (experimentId is not null && await ReadExperimentAsync(session, experimentId, cancellationToken).ConfigureAwait(false) is null)
        {
            throw ModelBoxException.NotFound("experiment", experimentId);
        }

        foreach (var link in lineage.Datasets)
        {
            if (await ReadDatasetVersionAsync(session, link.DatasetVersionId, cancellationToken).ConfigureAwait(false) is null)
            {
                throw ModelBoxException.NotFound("dataset version", link.DatasetVersionId);
            }
        }

        if (lineage.DerivedFrom.Count > 0 && _dialect.LocksRows)
        {
            await session.QueryAsync<long>("SELECT value FROM change_counter WHERE id = 1 FOR UPDATE", null, cancellationToken).ConfigureAwait(false);
        }

        foreach (var parent in lineage.DerivedFrom)
        {
            var location = await LocateAsync(session, parent.ParentVersionId, cancellationToken).ConfigureAwait(false);
            if (location is null || location.Deleted)
            {
                throw ModelBoxException.NotFound("model version", parent.ParentVersionId);
            }

            var cycle = string.Equals(parent.ParentVersionId, subjectId, StringComparison.Ordinal) || await session.ScalarAsync<long>(
                """
                WITH RECURSIVE ancestors (id, depth) AS (
                    SELECT target_id, 1 FROM lineage_edges WHERE subject_id = @Parent AND relation = 'parent'
                    UNION
                    SELECT e.target_id, a.depth + 1 FROM lineage_edges e JOIN ancestors a ON e.subject_id = a.id
                    WHERE e.relation = 'parent' AND a.depth < @MaxDepth
                )
                SELECT COUNT(*) FROM ancestors WHERE id = @Subject
                """,
                new { Parent = parent.ParentVersionId, Subject = subjectId, MaxDepth = MaxLineageDepth },
                cancellationToken).ConfigureAwait(false) > 0;
            if (cycle)
            {
                throw ModelBoxException.FailedPrecondition(
                    $"derived_from: model version '{subjectId}' is already an ancestor of '{parent.ParentVersionId}'; lineage cannot have cycles");
            }
        }

        var previous = await ReadRecordedLineageAsync(session, subjectId, cancellationToken).ConfigureAwait(false);
        var effective = lineage with { ExperimentId = experimentId };
        await session.ExecuteAsync("DELETE FROM lineage_edges WHERE subject_id = @Id", new { Id = subjectId }, cancellationToken).ConfigureAwait(false);
        var now = ToMicros(audit.At);
        var edges = new List<EdgeInsert>();
        if (experimentId is not null)
        {
            edges.Add(new EdgeInsert(subjectId, RelationExperiment, experimentId, string.Empty, now));
        }

        if (lineage.CheckpointId is not null)
        {
            edges.Add(new EdgeInsert(subjectId, RelationCheckpoint, lineage.CheckpointId, string.Empty, now));
        }

        edges.AddRange(lineage.Datasets.Select(link => new EdgeInsert(subjectId, RelationDataset, link.DatasetVersionId, RegistryRecords.RoleName(link.Role), now)));
        edges.AddRange(lineage.DerivedFrom.Select(link => new EdgeInsert(subjectId, RelationParent, link.ParentVersionId, link.Relation, now)));
        if (edges.Count > 0)
        {
            await session.ExecuteAsync(
                "INSERT INTO lineage_edges (subject_id, relation, target_id, role, created_at) VALUES (@Subject, @Relation, @Target, @Role, @Now)",
                edges,
                cancellationToken).ConfigureAwait(false);
        }

        var state = RegistryRecords.LineageState(subjectId, effective, audit);
        await AppendChangeAsync(
            session, @namespace, ChangeObjectKinds.Lineage, subjectId, ChangeType.Updated, audit.At, state, cancellationToken).ConfigureAwait(false);
        await AuditAsync(session, @namespace, subjectId, "audit.lineage_set", audit,
            new()
            {
                ["old"] = previous.IsEmpty ? null : RegistryRecords.LineageState(subjectId, previous, audit with { Actor = string.Empty }),
                ["new"] = state,
            },
            cancellationToken).ConfigureAwait(false);
    }

    private static async Task<Lineage> ReadRecordedLineageAsync(DbSession session, string subjectId, CancellationToken cancellationToken)
    {
        var edges = await session.QueryAsync<EdgeRow>(
            "SELECT relation AS Relation, target_id AS TargetId, role AS Role FROM lineage_edges WHERE subject_id = @Id ORDER BY relation, target_id",
            new { Id = subjectId },
            cancellationToken).ConfigureAwait(false);
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
        DbSession session, string idQuery, object parameters, CancellationToken cancellationToken)
    {
        var columns = string.Join(", ", ModelVersionColumns.Split(", ").Select(column => "v." + column));
        var rows = await session.QueryAsync<ModelVersionRow>(
            $"""
            SELECT {columns} FROM model_versions v JOIN models m ON m.id = v.model_id
            WHERE v.id IN ({idQuery}) AND v.deleted_at IS NULL AND m.deleted_at IS NULL
            ORDER BY v.created_at, v.id
            """,
            parameters,
            cancellationToken).ConfigureAwait(false);
        var metadata = await LoadMetadataAsync(session, rows.ConvertAll(row => row.Id), cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(row => row.ToModelVersion(MetadataOf(metadata, row.Id)));
    }

    private static async Task<Dataset?> ReadDatasetAsync(DbSession session, string id, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<DatasetRow>(
            $"SELECT {DatasetColumns} FROM datasets WHERE id = @Id AND deleted_at IS NULL", new { Id = id }, cancellationToken).ConfigureAwait(false);
        return row?.ToDataset(await LoadMetadataAsync(session, id, cancellationToken).ConfigureAwait(false));
    }

    private static async Task<DatasetVersion?> ReadDatasetVersionAsync(DbSession session, string id, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<DatasetVersionRow>(
            $"SELECT {DatasetVersionColumns} FROM dataset_versions WHERE id = @Id", new { Id = id }, cancellationToken).ConfigureAwait(false);
        return row?.ToDatasetVersion(await LoadMetadataAsync(session, id, cancellationToken).ConfigureAwait(false));
    }

    private sealed record EdgeInsert(string Subject, string Relation, string Target, string Role, long Now);

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
