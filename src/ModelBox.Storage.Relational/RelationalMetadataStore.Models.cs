using Dapper;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using static ModelBox.Storage.Relational.RelationalValues;

namespace ModelBox.Storage.Relational;

// Models and their versions.
public sealed partial class RelationalMetadataStore
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
            async session =>
            {
                await RecordNamespaceAsync(session, model.Namespace, model.CreatedAt, cancellationToken).ConfigureAwait(false);
                var inserted = await session.ExecuteAsync(
                    _dialect.InsertIfAbsent(
                        "models",
                        "id, namespace, name, owner, task, description, created_at, updated_at, deleted_at",
                        "@Id, @Namespace, @Name, @Owner, @Task, @Description, @CreatedAt, @UpdatedAt, NULL",
                        "id"),
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
                    }, cancellationToken).ConfigureAwait(false) == 1;
                if (inserted)
                {
                    await InsertMetadataAsync(session, model.Id, model.Metadata, model.CreatedAt, cancellationToken).ConfigureAwait(false);
                }

                var stored = await ReadModelAsync(session, model.Id, cancellationToken).ConfigureAwait(false);
                if (inserted)
                {
                    await AppendChangeAsync(
            session, stored!.Namespace, ChangeObjectKinds.Model, stored.Id, ChangeType.Created, stored.CreatedAt,
                        ChangeStateJson.Model(stored), cancellationToken).ConfigureAwait(false);
                    await InsertFilesOfNewObjectAsync(session, stored.Id, files, cancellationToken).ConfigureAwait(false);
                }

                return new CreateResult<Model>(stored!, Existed: !inserted);
            },
            cancellationToken);
    }

    public Task<Model?> GetModelAsync(string id, CancellationToken cancellationToken = default) =>
        ReadAsync(session => ReadModelAsync(session, id, cancellationToken), cancellationToken);

    public async Task<Page<Model>> ListModelsAsync(NamespaceScope @namespace, PageRequest page, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(page);
        var after = DecodeToken(page, 2);
        var sql = $"SELECT {ModelColumns} FROM models WHERE " + InScope("namespace", @namespace) + " AND deleted_at IS NULL"
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
                var rows = (await session.QueryAsync<ModelRow>(sql, parameters, cancellationToken).ConfigureAwait(false)).AsList();
                var items = ToPage(rows, page, row => row, row => [Key(row.CreatedAt), row.Id]);
                var metadata = await LoadMetadataAsync(session, items.Items.Select(row => row.Id).ToList(), cancellationToken)
                    .ConfigureAwait(false);
                return new Page<Model>(items.Items.Select(row => row.ToModel(MetadataOf(metadata, row.Id))).ToList(), items.NextPageToken);
            },
            cancellationToken).ConfigureAwait(false);
    }

    public Task<DateTimeOffset?> DeleteModelAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync(session => DeleteTreeAsync(session, ModelTree, id, now, cancellationToken), cancellationToken);

    public Task<Model?> RestoreModelAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync(
            async session => await RestoreTreeAsync(session, ModelTree, id, now, cancellationToken).ConfigureAwait(false)
                ? await ReadModelAsync(session, id, cancellationToken).ConfigureAwait(false)
                : null,
            cancellationToken);

    /// <summary>A model is deleted and restored with its versions.</summary>
    private static readonly DeletionTree ModelTree = new(
        "models",
        "model_versions",
        "model_id",
        async (session, id, cancellationToken) =>
        {
            var model = (await ReadModelAsync(session, id, cancellationToken).ConfigureAwait(false))!;
            return (model.Namespace, ChangeObjectKinds.Model, ChangeStateJson.Model(model));
        },
        async (session, id, @namespace, cancellationToken) =>
        {
            var version = (await ReadModelVersionAsync(session, id, cancellationToken).ConfigureAwait(false))!;
            return (ChangeObjectKinds.ModelVersion, ChangeStateJson.ModelVersion(version, @namespace));
        });

    /// <summary>Creates the version; its unique tags move to it from the model's other versions (audited as "anonymous").</summary>
    public Task<CreateResult<ModelVersion>> CreateModelVersionAsync(ModelVersion version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(version);
        return CreateModelVersionAsync(
            version,
            Domain.Registry.Lineage.Empty,
            new Domain.Registry.AuditContext(Domain.Registry.RegistryValidation.AnonymousActor, version.CreatedAt),
            files: null,
            cancellationToken);
    }

    /// <summary>
    /// Inserts a version unless its id exists, in the caller's write transaction; returns what is stored and whether it was
    /// inserted. The model's row stays locked until the transaction ends: versions of one model are created (and take
    /// unique tags from each other) one at a time across replicas, and a concurrent delete of the model waits.
    /// </summary>
    private async Task<(ModelVersion Stored, bool Inserted)> InsertModelVersionAsync(
        DbSession session, ModelVersion version, CancellationToken cancellationToken)
    {
        var model = await GetDeletionAsync(session, "models", version.ModelId, cancellationToken, forUpdate: true).ConfigureAwait(false);
        if (model is null || model.DeletedAt is not null)
        {
            throw ModelBoxException.NotFound("model", version.ModelId);
        }

        var inserted = await session.ExecuteAsync(
            _dialect.InsertIfAbsent(
                "model_versions",
                "id, model_id, name, version, description, framework, unique_tags, created_at, updated_at, deleted_at",
                "@Id, @ModelId, @Name, @Version, @Description, @Framework, @UniqueTags, @CreatedAt, @UpdatedAt, NULL",
                "id"),
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
            }, cancellationToken).ConfigureAwait(false) == 1;
        if (inserted)
        {
            await InsertMetadataAsync(session, version.Id, version.Metadata, version.CreatedAt, cancellationToken).ConfigureAwait(false);
        }

        var stored = await ReadModelVersionAsync(session, version.Id, cancellationToken).ConfigureAwait(false);
        if (inserted)
        {
            await AppendModelVersionChangeAsync(session, stored!, ChangeType.Created, stored!.CreatedAt, cancellationToken)
                .ConfigureAwait(false);
        }

        return (stored!, inserted);
    }

    public Task<ModelVersion?> GetModelVersionAsync(string id, CancellationToken cancellationToken = default) =>
        ReadAsync(session => ReadModelVersionAsync(session, id, cancellationToken), cancellationToken);

    public async Task<Page<ModelVersion>> ListModelVersionsAsync(string modelId, PageRequest page, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(page);
        var after = DecodeToken(page, 2);
        var sql = $"SELECT {ModelVersionColumns} FROM model_versions WHERE model_id = @ModelId AND deleted_at IS NULL"
            + (after is null ? string.Empty : " AND " + _dialect.KeysetAfter(greater: true, ("created_at", "@AfterCreatedAt"), ("id", "@AfterId")))
            + " ORDER BY created_at, id LIMIT @Take";
        var parameters = new
        {
            ModelId = modelId,
            AfterCreatedAt = after is null ? 0 : ParseKey(after[0]),
            AfterId = after?[1],
            Take = Take(page),
        };
        return await ReadAsync(
            async session =>
            {
                var rows = (await session.QueryAsync<ModelVersionRow>(sql, parameters, cancellationToken).ConfigureAwait(false)).AsList();
                var items = ToPage(rows, page, row => row, row => [Key(row.CreatedAt), row.Id]);
                var metadata = await LoadMetadataAsync(session, items.Items.Select(row => row.Id).ToList(), cancellationToken)
                    .ConfigureAwait(false);
                return new Page<ModelVersion>(items.Items.Select(row => row.ToModelVersion(MetadataOf(metadata, row.Id))).ToList(), items.NextPageToken);
            },
            cancellationToken).ConfigureAwait(false);
    }

    public Task<DateTimeOffset?> DeleteModelVersionAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync(
            async session =>
            {
                var deletion = await SoftDeleteAsync(session, "model_versions", id, now, children: null, cancellationToken)
                    .ConfigureAwait(false);
                if (deletion is { Changed: true })
                {
                    var stored = await ReadModelVersionAsync(session, id, cancellationToken).ConfigureAwait(false);
                    await AppendModelVersionChangeAsync(session, stored!, ChangeType.Deleted, now, cancellationToken).ConfigureAwait(false);
                }

                return deletion?.DeletedAt;
            },
            cancellationToken);

    public Task<ModelVersion?> RestoreModelVersionAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync(
            async session =>
            {
                var version = await session.QuerySingleOrDefaultAsync<ModelVersionParentRow>(
                    "SELECT model_id AS ModelId FROM model_versions WHERE id = @Id", new { Id = id }, cancellationToken).ConfigureAwait(false);
                if (version is null)
                {
                    return null;
                }

                var model = await GetDeletionAsync(session, "models", version.ModelId, cancellationToken).ConfigureAwait(false);
                if (model?.DeletedAt is not null)
                {
                    throw ModelBoxException.FailedPrecondition(
                        $"model version '{id}' belongs to model '{version.ModelId}', which is deleted; restore the model first");
                }

                var restoration = await RestoreAsync(session, "model_versions", id, now, children: null, cancellationToken)
                    .ConfigureAwait(false);
                var stored = await ReadModelVersionAsync(session, id, cancellationToken).ConfigureAwait(false);
                if (restoration is { Changed: true })
                {
                    await AppendModelVersionChangeAsync(session, stored!, ChangeType.Updated, now, cancellationToken).ConfigureAwait(false);
                }

                return stored;
            },
            cancellationToken);

    private async Task AppendModelVersionChangeAsync(
        DbSession session, ModelVersion version, ChangeType change, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var @namespace = await session.ScalarAsync<string>(
            "SELECT namespace FROM models WHERE id = @Id", new { Id = version.ModelId }, cancellationToken).ConfigureAwait(false);
        await AppendChangeAsync(
            session, @namespace!, ChangeObjectKinds.ModelVersion, version.Id, change, at,
            ChangeStateJson.ModelVersion(version, @namespace!), cancellationToken).ConfigureAwait(false);
    }

    private static async Task<Model?> ReadModelAsync(
        DbSession session, string id, CancellationToken cancellationToken)
    {
        var rows = await session.QueryByKeyAsync<ModelRow>($"SELECT {ModelColumns} FROM models WHERE id = @Id", "@Id", id, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0
            ? null
            : rows[0].ToModel(await LoadMetadataAsync(session, id, cancellationToken).ConfigureAwait(false));
    }

    private static async Task<ModelVersion?> ReadModelVersionAsync(
        DbSession session, string id, CancellationToken cancellationToken)
    {
        var rows = await session.QueryByKeyAsync<ModelVersionRow>($"SELECT {ModelVersionColumns} FROM model_versions WHERE id = @Id", "@Id", id, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0
            ? null
            : rows[0].ToModelVersion(await LoadMetadataAsync(session, id, cancellationToken).ConfigureAwait(false));
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
