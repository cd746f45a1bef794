using Dapper;
using Microsoft.Data.Sqlite;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using static ModelBox.Storage.Sqlite.SqliteValues;

namespace ModelBox.Storage.Sqlite;

// Models and their versions.
public sealed partial class SqliteMetadataStore
{
    private const string ModelColumns =
        "id AS Id, namespace AS Namespace, name AS Name, owner AS Owner, task AS Task, description AS Description, "
        + "created_at AS CreatedAt, updated_at AS UpdatedAt, deleted_at AS DeletedAt";

    private const string ModelVersionColumns =
        "id AS Id, model_id AS ModelId, name AS Name, version AS Version, description AS Description, framework AS Framework, "
        + "unique_tags AS UniqueTags, created_at AS CreatedAt, updated_at AS UpdatedAt, deleted_at AS DeletedAt";

    public Task<CreateResult<Model>> CreateModelAsync(Model model, IReadOnlyList<FileRecord>? files = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        return WriteAsync(
            async (connection, transaction) =>
            {
                await RecordNamespaceAsync(connection, transaction, model.Namespace, model.CreatedAt, cancellationToken).ConfigureAwait(false);
                var inserted = await connection.ExecuteAsync(Command(
                    """
                    INSERT INTO models (id, namespace, name, owner, task, description, created_at, updated_at, deleted_at)
                    VALUES (@Id, @Namespace, @Name, @Owner, @Task, @Description, @CreatedAt, @UpdatedAt, NULL)
                    ON CONFLICT (id) DO NOTHING
                    """,
                    new
                    {
                        model.Id,
                        model.Namespace,
                        model.Name,
                        model.Owner,
                        model.Task,
                        model.Description,
                        CreatedAt = ToMicros(model.CreatedAt),
                        UpdatedAt = ToMicros(model.UpdatedAt),
                    },
                    transaction,
                    cancellationToken)).ConfigureAwait(false) == 1;
                if (inserted)
                {
                    await InsertMetadataAsync(connection, transaction, model.Id, model.Metadata, model.CreatedAt, cancellationToken).ConfigureAwait(false);
                }

                var stored = await ReadModelAsync(connection, transaction, model.Id, cancellationToken).ConfigureAwait(false);
                if (inserted)
                {
                    await AppendChangeAsync(
                        connection, transaction, stored!.Namespace, ChangeObjectKinds.Model, stored.Id, ChangeType.Created, stored.CreatedAt,
                        ChangeStateJson.Model(stored), cancellationToken).ConfigureAwait(false);
                    await InsertFilesOfNewObjectAsync(connection, transaction, stored.Id, files, cancellationToken).ConfigureAwait(false);
                }

                return new CreateResult<Model>(stored!, Existed: !inserted);
            },
            cancellationToken);
    }

    public Task<Model?> GetModelAsync(string id, CancellationToken cancellationToken = default) =>
        ReadAsync((connection, transaction) => ReadModelAsync(connection, transaction, id, cancellationToken), cancellationToken);

    public async Task<Page<Model>> ListModelsAsync(string @namespace, PageRequest page, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(page);
        var after = DecodeToken(page, 2);
        var sql = $"SELECT {ModelColumns} FROM models WHERE namespace = @Namespace AND deleted_at IS NULL"
            + (after is null ? string.Empty : " AND (created_at, id) < (@AfterCreatedAt, @AfterId)")
            + " ORDER BY created_at DESC, id DESC LIMIT @Take";
        var parameters = new
        {
            Namespace = @namespace,
            AfterCreatedAt = after is null ? 0 : ParseKey(after[0]),
            AfterId = after?[1],
            Take = Take(page),
        };
        return await ReadAsync(
            async (connection, transaction) =>
            {
                var rows = (await connection.QueryAsync<ModelRow>(Command(sql, parameters, transaction, cancellationToken)).ConfigureAwait(false)).AsList();
                var items = ToPage(rows, page, row => row, row => [Key(row.CreatedAt), row.Id]);
                var metadata = await LoadMetadataAsync(connection, transaction, items.Items.Select(row => row.Id).ToList(), cancellationToken)
                    .ConfigureAwait(false);
                return new Page<Model>(items.Items.Select(row => row.ToModel(MetadataOf(metadata, row.Id))).ToList(), items.NextPageToken);
            },
            cancellationToken).ConfigureAwait(false);
    }

    public Task<DateTimeOffset?> DeleteModelAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync(
            async (connection, transaction) =>
            {
                var deletion = await SoftDeleteAsync(connection, transaction, "models", id, now, ("model_versions", "model_id"), cancellationToken)
                    .ConfigureAwait(false);
                if (deletion is { Changed: true })
                {
                    await AppendModelTreeChangesAsync(connection, transaction, id, deletion.ChildIds, ChangeType.Deleted, now, cancellationToken)
                        .ConfigureAwait(false);
                }

                return deletion?.DeletedAt;
            },
            cancellationToken);

    public Task<Model?> RestoreModelAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync(
            async (connection, transaction) =>
            {
                var restoration = await RestoreAsync(connection, transaction, "models", id, now, ("model_versions", "model_id"), cancellationToken)
                    .ConfigureAwait(false);
                if (restoration is null)
                {
                    return null;
                }

                if (restoration.Changed)
                {
                    await AppendModelTreeChangesAsync(connection, transaction, id, restoration.ChildIds, ChangeType.Updated, now, cancellationToken)
                        .ConfigureAwait(false);
                }

                return await ReadModelAsync(connection, transaction, id, cancellationToken).ConfigureAwait(false);
            },
            cancellationToken);

    /// <summary>Creates the version; its unique tags move to it from the model's other versions (audited as "anonymous").</summary>
    public Task<CreateResult<ModelVersion>> CreateModelVersionAsync(ModelVersion version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(version);
        return CreateModelVersionAsync(
            version, Domain.Registry.Lineage.Empty, new Domain.Registry.AuditContext(Domain.Registry.RegistryValidation.AnonymousActor, version.CreatedAt),
            files: null, cancellationToken);
    }

    /// <summary>Inserts a version unless its id exists, in the caller's write transaction; returns what is stored and whether it was inserted.</summary>
    private async Task<(ModelVersion Stored, bool Inserted)> InsertModelVersionAsync(
        SqliteConnection connection, SqliteTransaction transaction, ModelVersion version, CancellationToken cancellationToken)
    {
        var model = await GetDeletionAsync(connection, transaction, "models", version.ModelId, cancellationToken).ConfigureAwait(false);
        if (model is null || model.DeletedAt is not null)
        {
            throw ModelBoxException.NotFound("model", version.ModelId);
        }

        var inserted = await connection.ExecuteAsync(Command(
            """
            INSERT INTO model_versions (id, model_id, name, version, description, framework, unique_tags, created_at, updated_at, deleted_at)
            VALUES (@Id, @ModelId, @Name, @Version, @Description, @Framework, @UniqueTags, @CreatedAt, @UpdatedAt, NULL)
            ON CONFLICT (id) DO NOTHING
            """,
            new
            {
                version.Id,
                version.ModelId,
                version.Name,
                version.Version,
                version.Description,
                Framework = (int)version.Framework,
                UniqueTags = TagsToJson(version.UniqueTags),
                CreatedAt = ToMicros(version.CreatedAt),
                UpdatedAt = ToMicros(version.UpdatedAt),
            },
            transaction,
            cancellationToken)).ConfigureAwait(false) == 1;
        if (inserted)
        {
            await InsertMetadataAsync(connection, transaction, version.Id, version.Metadata, version.CreatedAt, cancellationToken).ConfigureAwait(false);
        }

        var stored = await ReadModelVersionAsync(connection, transaction, version.Id, cancellationToken).ConfigureAwait(false);
        if (inserted)
        {
            await AppendModelVersionChangeAsync(connection, transaction, stored!, ChangeType.Created, stored!.CreatedAt, cancellationToken)
                .ConfigureAwait(false);
        }

        return (stored!, inserted);
    }

    public Task<ModelVersion?> GetModelVersionAsync(string id, CancellationToken cancellationToken = default) =>
        ReadAsync((connection, transaction) => ReadModelVersionAsync(connection, transaction, id, cancellationToken), cancellationToken);

    public async Task<Page<ModelVersion>> ListModelVersionsAsync(string modelId, PageRequest page, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(page);
        var after = DecodeToken(page, 2);
        var sql = $"SELECT {ModelVersionColumns} FROM model_versions WHERE model_id = @ModelId AND deleted_at IS NULL"
            + (after is null ? string.Empty : " AND (created_at, id) > (@AfterCreatedAt, @AfterId)")
            + " ORDER BY created_at, id LIMIT @Take";
        var parameters = new
        {
            ModelId = modelId,
            AfterCreatedAt = after is null ? 0 : ParseKey(after[0]),
            AfterId = after?[1],
            Take = Take(page),
        };
        return await ReadAsync(
            async (connection, transaction) =>
            {
                var rows = (await connection.QueryAsync<ModelVersionRow>(Command(sql, parameters, transaction, cancellationToken)).ConfigureAwait(false)).AsList();
                var items = ToPage(rows, page, row => row, row => [Key(row.CreatedAt), row.Id]);
                var metadata = await LoadMetadataAsync(connection, transaction, items.Items.Select(row => row.Id).ToList(), cancellationToken)
                    .ConfigureAwait(false);
                return new Page<ModelVersion>(items.Items.Select(row => row.ToModelVersion(MetadataOf(metadata, row.Id))).ToList(), items.NextPageToken);
            },
            cancellationToken).ConfigureAwait(false);
    }

    public Task<DateTimeOffset?> DeleteModelVersionAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync(
            async (connection, transaction) =>
            {
                var deletion = await SoftDeleteAsync(connection, transaction, "model_versions", id, now, children: null, cancellationToken)
                    .ConfigureAwait(false);
                if (deletion is { Changed: true })
                {
                    var stored = await ReadModelVersionAsync(connection, transaction, id, cancellationToken).ConfigureAwait(false);
                    await AppendModelVersionChangeAsync(connection, transaction, stored!, ChangeType.Deleted, now, cancellationToken).ConfigureAwait(false);
                }

                return deletion?.DeletedAt;
            },
            cancellationToken);

    public Task<ModelVersion?> RestoreModelVersionAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync(
            async (connection, transaction) =>
            {
                var version = await connection.QuerySingleOrDefaultAsync<ModelVersionParentRow>(Command(
                    "SELECT model_id AS ModelId FROM model_versions WHERE id = @Id", new { Id = id }, transaction, cancellationToken)).ConfigureAwait(false);
                if (version is null)
                {
                    return null;
                }

                var model = await GetDeletionAsync(connection, transaction, "models", version.ModelId, cancellationToken).ConfigureAwait(false);
                if (model?.DeletedAt is not null)
                {
                    throw ModelBoxException.FailedPrecondition(
                        $"model version '{id}' belongs to model '{version.ModelId}', which is deleted; restore the model first");
                }

                var restoration = await RestoreAsync(connection, transaction, "model_versions", id, now, children: null, cancellationToken)
                    .ConfigureAwait(false);
                var stored = await ReadModelVersionAsync(connection, transaction, id, cancellationToken).ConfigureAwait(false);
                if (restoration is { Changed: true })
                {
                    await AppendModelVersionChangeAsync(connection, transaction, stored!, ChangeType.Updated, now, cancellationToken).ConfigureAwait(false);
                }

                return stored;
            },
            cancellationToken);

    private async Task AppendModelVersionChangeAsync(
        SqliteConnection connection, SqliteTransaction transaction, ModelVersion version, ChangeType change, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var @namespace = await connection.ExecuteScalarAsync<string>(Command(
            "SELECT namespace FROM models WHERE id = @Id", new { Id = version.ModelId }, transaction, cancellationToken)).ConfigureAwait(false);
        await AppendChangeAsync(
            connection, transaction, @namespace!, ChangeObjectKinds.ModelVersion, version.Id, change, at,
            ChangeStateJson.ModelVersion(version, @namespace!), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One change record for the model and one for each version that went (or came back) with it.</summary>
    private async Task AppendModelTreeChangesAsync(
        SqliteConnection connection,
        SqliteTransaction transaction,
        string id,
        IReadOnlyList<string> versionIds,
        ChangeType change,
        DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var model = (await ReadModelAsync(connection, transaction, id, cancellationToken).ConfigureAwait(false))!;
        await AppendChangeAsync(
            connection, transaction, model.Namespace, ChangeObjectKinds.Model, model.Id, change, now, ChangeStateJson.Model(model), cancellationToken)
            .ConfigureAwait(false);
        foreach (var versionId in versionIds)
        {
            var version = (await ReadModelVersionAsync(connection, transaction, versionId, cancellationToken).ConfigureAwait(false))!;
            await AppendChangeAsync(
                connection, transaction, model.Namespace, ChangeObjectKinds.ModelVersion, version.Id, change, now,
                ChangeStateJson.ModelVersion(version, model.Namespace), cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<Model?> ReadModelAsync(
        SqliteConnection connection, SqliteTransaction transaction, string id, CancellationToken cancellationToken)
    {
        var rows = await QueryPreparedAsync<ModelRow>(
            connection, transaction, $"SELECT {ModelColumns} FROM models WHERE id = @Id", "@Id", id, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0
            ? null
            : rows[0].ToModel(await LoadMetadataAsync(connection, transaction, id, cancellationToken).ConfigureAwait(false));
    }

    private static async Task<ModelVersion?> ReadModelVersionAsync(
        SqliteConnection connection, SqliteTransaction transaction, string id, CancellationToken cancellationToken)
    {
        var rows = await QueryPreparedAsync<ModelVersionRow>(
            connection, transaction, $"SELECT {ModelVersionColumns} FROM model_versions WHERE id = @Id", "@Id", id, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0
            ? null
            : rows[0].ToModelVersion(await LoadMetadataAsync(connection, transaction, id, cancellationToken).ConfigureAwait(false));
    }

    private sealed class ModelRow
    {
        public string Id { get; set; } = string.Empty;
        public string Namespace { get; set; } = string.Empty;
        public string Name { get; set; } = string.Empty;
        public string Owner { get; set; } = string.Empty;
        public string Task { get; set; } = string.Empty;
        public string Description { get; set; } = string.Empty;
        public long CreatedAt { get; set; }
        public long UpdatedAt { get; set; }
        public long? DeletedAt { get; set; }

        public Model ToModel(IReadOnlyDictionary<string, string> metadata) => new(
            Id, Namespace, Name, Owner, Task, Description, metadata, FromMicros(CreatedAt), FromMicros(UpdatedAt), FromMicros(DeletedAt));
    }

    private sealed class ModelVersionRow
    {
        public string Id { get; set; } = string.Empty;
        public string ModelId { get; set; } = string.Empty;
        public string Name { get; set; } = string.Empty;
        public string Version { get; set; } = string.Empty;
        public string Description { get; set; } = string.Empty;
        public long Framework { get; set; }
        public string UniqueTags { get; set; } = "[]";
        public long CreatedAt { get; set; }
        public long UpdatedAt { get; set; }
        public long? DeletedAt { get; set; }

        public ModelVersion ToModelVersion(IReadOnlyDictionary<string, string> metadata) => new(
            Id,
            ModelId,
            Name,
            Version,
            Description,
            (Framework)Framework,
            TagsFromJson(UniqueTags),
            metadata,
            FromMicros(CreatedAt),
            FromMicros(UpdatedAt),
            FromMicros(DeletedAt));
    }

    private sealed class ModelVersionParentRow
    {
        public string ModelId { get; set; } = string.Empty;
    }
}
