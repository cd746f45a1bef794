using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Registry;
using ModelBox.Domain.Storage;
using static ModelBox.Storage.Relational.RelationalValues;

namespace ModelBox.Storage.Relational;

// Labels, aliases and unique tags: each write appends its change record and its audit events in its own transaction.
// Replicas share the database, so every read-modify-write first locks the row it is about (SELECT ... FOR UPDATE):
// the object for labels, the model for aliases and unique tags. Locks are taken parent first (model, then version),
// the order the delete cascades use, and the change counter last.
public sealed partial class RelationalMetadataStore : IRegistryStore
{
    private const string AliasColumns = "model_id AS ModelId, alias AS Alias, version_id AS VersionId, updated_at AS UpdatedAt";

    public Task<LabelWriteResult?> SetLabelsAsync(
        string objectId, IReadOnlyDictionary<string, string> labels, AuditContext audit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(audit);
        return WriteAsync<LabelWriteResult?>(
            async session =>
            {
                var location = await LockAndLocateAsync(session, objectId, cancellationToken).ConfigureAwait(false);
                if (location is null || location.Deleted)
                {
                    return null;
                }

                var current = await LoadLabelsAsync(session, objectId, cancellationToken).ConfigureAwait(false);
                var written = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var (key, value) in labels.OrderBy(l => l.Key, StringComparer.Ordinal))
                {
                    current.TryGetValue(key, out var old);
                    if (string.Equals(old, value, StringComparison.Ordinal))
                    {
                        continue;
                    }

                    await session.ExecuteAsync(
                        _dialect.Upsert(
                            "object_labels", "object_id, label_key, label_value, updated_at", "@ObjectId, @Key, @Value, @Now", "object_id, label_key",
                            "label_value", "updated_at"),
                        new { ObjectId = objectId, Key = key, Value = value, Now = ToMicros(audit.At) },
                        cancellationToken).ConfigureAwait(false);
                    current[key] = value;
                    written[key] = value;
                    await AuditAsync(session, location.Namespace, objectId, "audit.label_set", audit,
                        new() { ["key"] = key, ["old"] = old, ["new"] = value }, cancellationToken).ConfigureAwait(false);
                }

                if (current.Count > RegistryValidation.MaxLabelsPerObject)
                {
                    throw ModelBoxException.InvalidArgument(
                        $"labels: '{objectId}' would have {current.Count} labels; an object holds at most {RegistryValidation.MaxLabelsPerObject}");
                }

                if (written.Count > 0)
                {
                    await AppendChangeAsync(
                        session, location.Namespace, ChangeObjectKinds.Labels, objectId, ChangeType.Updated, audit.At,
                        RegistryRecords.LabelsState(objectId, ChangeObjectKinds.Of(location.Kind), current, written, [], audit), cancellationToken)
                        .ConfigureAwait(false);
                }

                return new LabelWriteResult(current, written.Count, audit.At);
            },
            cancellationToken);
    }

    public Task<LabelWriteResult?> RemoveLabelsAsync(
        string objectId, IReadOnlyCollection<string> keys, AuditContext audit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(audit);
        return WriteAsync<LabelWriteResult?>(
            async session =>
            {
                var location = await LockAndLocateAsync(session, objectId, cancellationToken).ConfigureAwait(false);
                if (location is null || location.Deleted)
                {
                    return null;
                }

                var current = await LoadLabelsAsync(session, objectId, cancellationToken).ConfigureAwait(false);
                var removed = new List<string>();
                foreach (var key in keys.Order(StringComparer.Ordinal))
                {
                    if (!current.Remove(key, out var old))
                    {
                        continue;
                    }

                    await session.ExecuteAsync(
                        "DELETE FROM object_labels WHERE object_id = @ObjectId AND label_key = @Key",
                        new { ObjectId = objectId, Key = key },
                        cancellationToken).ConfigureAwait(false);
                    removed.Add(key);
                    await AuditAsync(session, location.Namespace, objectId, "audit.label_removed", audit,
                        new() { ["key"] = key, ["old"] = old, ["new"] = null }, cancellationToken).ConfigureAwait(false);
                }

                if (removed.Count > 0)
                {
                    await AppendChangeAsync(
                        session, location.Namespace, ChangeObjectKinds.Labels, objectId, ChangeType.Updated, audit.At,
                        RegistryRecords.LabelsState(objectId, ChangeObjectKinds.Of(location.Kind), current, new Dictionary<string, string>(), removed, audit),
                        cancellationToken).ConfigureAwait(false);
                }

                return new LabelWriteResult(current, removed.Count, audit.At);
            },
            cancellationToken);
    }

    public Task<IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>> GetLabelsAsync(
        IReadOnlyCollection<string> objectIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(objectIds);
        var ids = objectIds.Distinct(StringComparer.Ordinal).ToArray();
        if (ids.Length == 0)
        {
            return Task.FromResult<IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>>(
                new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal));
        }

        return ReadAsync<IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>>(
            async session =>
            {
                var rows = await session.QueryAsync<LabelRow>(
                    "SELECT object_id AS ObjectId, label_key AS \"Key\", label_value AS Value FROM object_labels WHERE "
                    + _dialect.InList("object_id", "@Ids"),
                    new { Ids = ids },
                    cancellationToken).ConfigureAwait(false);
                var result = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
                foreach (var group in rows.GroupBy(row => row.ObjectId, StringComparer.Ordinal))
                {
                    result[group.Key] = group.ToDictionary(row => row.Key, row => row.Value, StringComparer.Ordinal);
                }

                return result;
            },
            cancellationToken);
    }

    public Task<(ModelAlias Alias, string? PreviousVersionId)> SetAliasAsync(
        string modelId, string alias, string versionId, AuditContext audit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(audit);
        return WriteAsync(
            async session =>
            {
                // The model's lock makes moves of its aliases take turns across replicas; the version's keeps it from being
                // deleted between the check and the move.
                await LockRowAsync(session, "models", modelId, cancellationToken).ConfigureAwait(false);
                var model = await ReadModelAsync(session, modelId, cancellationToken).ConfigureAwait(false);
                if (model is null || model.DeletedAt is not null)
                {
                    throw ModelBoxException.NotFound("model", modelId);
                }

                await LockRowAsync(session, "model_versions", versionId, cancellationToken).ConfigureAwait(false);
                var version = await ReadModelVersionAsync(session, versionId, cancellationToken).ConfigureAwait(false);
                if (version is null || version.DeletedAt is not null)
                {
                    throw ModelBoxException.NotFound("model version", versionId);
                }

                if (!string.Equals(version.ModelId, modelId, StringComparison.Ordinal))
                {
                    throw ModelBoxException.FailedPrecondition(
                        $"model version '{versionId}' belongs to model '{version.ModelId}', not to model '{modelId}'; an alias points at a version of its own model");
                }

                var previous = await ReadAliasAsync(session, modelId, alias, cancellationToken).ConfigureAwait(false);
                if (previous is not null && string.Equals(previous.VersionId, versionId, StringComparison.Ordinal))
                {
                    return (previous, (string?)versionId);
                }

                await session.ExecuteAsync(
                    _dialect.Upsert(
                        "model_aliases", "model_id, alias, version_id, updated_at", "@ModelId, @Alias, @VersionId, @Now", "model_id, alias",
                        "version_id", "updated_at"),
                    new { ModelId = modelId, Alias = alias, VersionId = versionId, Now = ToMicros(audit.At) },
                    cancellationToken).ConfigureAwait(false);
                await AppendChangeAsync(
                    session, model.Namespace, ChangeObjectKinds.Alias, modelId, previous is null ? ChangeType.Created : ChangeType.Updated,
                    audit.At, RegistryRecords.AliasState(model.Namespace, modelId, alias, versionId, previous?.VersionId, audit), cancellationToken)
                    .ConfigureAwait(false);
                await AuditAsync(session, model.Namespace, modelId, "audit.alias_set", audit,
                    new() { ["alias"] = alias, ["old"] = previous?.VersionId, ["new"] = versionId }, cancellationToken).ConfigureAwait(false);
                return (new ModelAlias(modelId, alias, versionId, audit.At), previous?.VersionId);
            },
            cancellationToken);
    }

    public Task<ModelAlias?> GetAliasAsync(string modelId, string alias, CancellationToken cancellationToken = default) =>
        ReadAsync(
            async session =>
            {
                var model = await GetDeletionAsync(session, "models", modelId, cancellationToken).ConfigureAwait(false);
                return model is null || model.DeletedAt is not null
                    ? null
                    : await ReadAliasAsync(session, modelId, alias, cancellationToken).ConfigureAwait(false);
            },
            cancellationToken);

    public Task<IReadOnlyList<ModelAlias>> ListAliasesAsync(string modelId, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<ModelAlias>>(
            async session =>
            {
                var rows = await session.QueryAsync<AliasRow>(
                    $"SELECT {AliasColumns} FROM model_aliases WHERE model_id = @ModelId ORDER BY alias",
                    new { ModelId = modelId },
                    cancellationToken).ConfigureAwait(false);
                return rows.ConvertAll(row => row.ToAlias());
            },
            cancellationToken);

    public Task<ModelAlias?> DeleteAliasAsync(string modelId, string alias, AuditContext audit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(audit);
        return WriteAsync(
            async session =>
            {
                await LockRowAsync(session, "models", modelId, cancellationToken).ConfigureAwait(false);
                var model = await ReadModelAsync(session, modelId, cancellationToken).ConfigureAwait(false);
                if (model is null || model.DeletedAt is not null)
                {
                    throw ModelBoxException.NotFound("model", modelId);
                }

                var previous = await ReadAliasAsync(session, modelId, alias, cancellationToken).ConfigureAwait(false);
                if (previous is null)
                {
                    return null;
                }

                await session.ExecuteAsync(
                    "DELETE FROM model_aliases WHERE model_id = @ModelId AND alias = @Alias",
                    new { ModelId = modelId, Alias = alias },
                    cancellationToken).ConfigureAwait(false);
                await AppendChangeAsync(
                    session, model.Namespace, ChangeObjectKinds.Alias, modelId, ChangeType.Deleted, audit.At,
                    RegistryRecords.AliasState(model.Namespace, modelId, alias, null, previous.VersionId, audit), cancellationToken).ConfigureAwait(false);
                await AuditAsync(session, model.Namespace, modelId, "audit.alias_deleted", audit,
                    new() { ["alias"] = alias, ["old"] = previous.VersionId, ["new"] = null }, cancellationToken).ConfigureAwait(false);
                return previous;
            },
            cancellationToken);
    }

    public Task<CreateResult<ModelVersion>> CreateModelVersionAsync(
        ModelVersion version,
        Lineage lineage,
        AuditContext audit,
        IReadOnlyList<FileRecord>? files = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(version);
        ArgumentNullException.ThrowIfNull(lineage);
        ArgumentNullException.ThrowIfNull(audit);
        return WriteAsync(
            async session =>
            {
                var (stored, inserted) = await InsertModelVersionAsync(session, version, cancellationToken).ConfigureAwait(false);
                if (!inserted)
                {
                    return new CreateResult<ModelVersion>(stored, Existed: true);
                }

                var @namespace = await ModelNamespaceAsync(session, stored.ModelId, cancellationToken).ConfigureAwait(false);
                // A tag given on create is part of the created record; only the tags taken from other versions get audit events.
                await MoveTagsToAsync(session, stored, stored.UniqueTags, @namespace, audit, auditUnmoved: false, cancellationToken).ConfigureAwait(false);
                if (!lineage.IsEmpty)
                {
                    await WriteLineageAsync(session, stored.Id, @namespace, lineage, audit, cancellationToken).ConfigureAwait(false);
                }

                await InsertFilesOfNewObjectAsync(session, stored.Id, files, cancellationToken).ConfigureAwait(false);
                return new CreateResult<ModelVersion>(stored, Existed: false);
            },
            cancellationToken);
    }

    public Task<ModelVersion?> UpdateUniqueTagsAsync(
        string versionId, IReadOnlyCollection<string> add, IReadOnlyCollection<string> remove, AuditContext audit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(add);
        ArgumentNullException.ThrowIfNull(remove);
        ArgumentNullException.ThrowIfNull(audit);
        return WriteAsync(
            async session =>
            {
                // A version never changes its model, so reading the model id before taking the locks is safe.
                var modelId = await session.ScalarAsync<string>(
                    "SELECT model_id FROM model_versions WHERE id = @Id", new { Id = versionId }, cancellationToken).ConfigureAwait(false);
                if (modelId is null)
                {
                    return null;
                }

                await LockRowAsync(session, "models", modelId, cancellationToken).ConfigureAwait(false);
                var location = await LockAndLocateAsync(session, versionId, cancellationToken).ConfigureAwait(false);
                if (location is null || location.Deleted)
                {
                    return null;
                }

                var version = (await ReadModelVersionAsync(session, versionId, cancellationToken).ConfigureAwait(false))!;
                var added = add.Where(tag => !version.UniqueTags.Contains(tag, StringComparer.Ordinal)).ToList();
                var removed = remove.Where(tag => version.UniqueTags.Contains(tag, StringComparer.Ordinal)).ToList();
                if (added.Count == 0 && removed.Count == 0)
                {
                    return version;
                }

                var tags = version.UniqueTags.Except(removed, StringComparer.Ordinal).Concat(added).ToList();
                await session.ExecuteAsync(
                    "UPDATE model_versions SET unique_tags = @Tags, updated_at = @Now WHERE id = @Id",
                    new { Tags = TagsToJson(tags), Now = ToMicros(audit.At), Id = versionId },
                    cancellationToken).ConfigureAwait(false);
                foreach (var tag in removed)
                {
                    await AuditAsync(session, location.Namespace, versionId, "audit.unique_tag_removed", audit,
                        new() { ["tag"] = tag, ["old"] = versionId, ["new"] = null }, cancellationToken).ConfigureAwait(false);
                }

                var updated = (await ReadModelVersionAsync(session, versionId, cancellationToken).ConfigureAwait(false))!;
                await MoveTagsToAsync(session, updated, added, location.Namespace, audit, auditUnmoved: true, cancellationToken).ConfigureAwait(false);
                await AppendChangeAsync(
                    session, location.Namespace, ChangeObjectKinds.ModelVersion, versionId, ChangeType.Updated, audit.At,
                    ChangeStateJson.ModelVersion(updated, location.Namespace), cancellationToken).ConfigureAwait(false);
                return updated;
            },
            cancellationToken);
    }

    /// <summary>
    /// Takes each tag away from every other version of the model that holds it (live or deleted, so a restore cannot bring
    /// back a second holder), with a change record per version that lost one, and an audit event per tag (old holder → new;
    /// tags that had no holder only when <paramref name="auditUnmoved"/>). The caller holds the model's row lock, so no other
    /// replica moves tags of this model at the same time.
    /// </summary>
    private async Task MoveTagsToAsync(
        DbSession session,
        ModelVersion holder,
        IReadOnlyCollection<string> tags,
        string @namespace,
        AuditContext audit,
        bool auditUnmoved,
        CancellationToken cancellationToken)
    {
        if (tags.Count == 0)
        {
            return;
        }

        var others = await session.QueryAsync<TagRow>(
            "SELECT id AS Id, unique_tags AS UniqueTags FROM model_versions WHERE model_id = @ModelId AND id <> @Id AND unique_tags <> '[]' ORDER BY id",
            new { holder.ModelId, holder.Id },
            cancellationToken).ConfigureAwait(false);
        var previousHolders = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var other in others)
        {
            var otherTags = TagsFromJson(other.UniqueTags);
            var lost = otherTags.Where(tag => tags.Contains(tag, StringComparer.Ordinal)).ToList();
            if (lost.Count == 0)
            {
                continue;
            }

            foreach (var tag in lost)
            {
                previousHolders[tag] = other.Id;
            }

            await session.ExecuteAsync(
                "UPDATE model_versions SET unique_tags = @Tags, updated_at = @Now WHERE id = @Id",
                new { Tags = TagsToJson(otherTags.Except(lost, StringComparer.Ordinal).ToList()), Now = ToMicros(audit.At), other.Id },
                cancellationToken).ConfigureAwait(false);
            var changed = (await ReadModelVersionAsync(session, other.Id, cancellationToken).ConfigureAwait(false))!;
            await AppendChangeAsync(
                session, @namespace, ChangeObjectKinds.ModelVersion, other.Id, ChangeType.Updated, audit.At,
                ChangeStateJson.ModelVersion(changed, @namespace), cancellationToken).ConfigureAwait(false);
        }

        foreach (var tag in tags)
        {
            if (!previousHolders.TryGetValue(tag, out var old) && !auditUnmoved)
            {
                continue;
            }

            await AuditAsync(session, @namespace, holder.Id, "audit.unique_tag_set", audit,
                new() { ["tag"] = tag, ["old"] = old, ["new"] = holder.Id }, cancellationToken).ConfigureAwait(false);
        }
    }

    private static Task AuditAsync(
        DbSession session,
        string @namespace,
        string objectId,
        string name,
        AuditContext audit,
        Dictionary<string, string?> details,
        CancellationToken cancellationToken) =>
        InsertEventAsync(session, RegistryRecords.AuditEvent(objectId, name, audit, details), @namespace, cancellationToken);

    /// <summary>Locks the row of an object (when its kind has a table of its own) and then locates it.</summary>
    private static async Task<ObjectRef?> LockAndLocateAsync(DbSession session, string id, CancellationToken cancellationToken)
    {
        if (ObjectIds.TryGetKind(id, out var kind) && TableOf(kind) is { } table)
        {
            await LockRowAsync(session, table, id, cancellationToken).ConfigureAwait(false);
        }

        return await LocateAsync(session, id, cancellationToken).ConfigureAwait(false);
    }

    private static string? TableOf(ObjectKind kind) => kind switch
    {
        ObjectKind.Experiment => "experiments",
        ObjectKind.Checkpoint => "checkpoints",
        ObjectKind.Model => "models",
        ObjectKind.ModelVersion => "model_versions",
        ObjectKind.Dataset => "datasets",
        ObjectKind.DatasetVersion => "dataset_versions",
        _ => null,
    };

    private static async Task<Dictionary<string, string>> LoadLabelsAsync(DbSession session, string objectId, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<LabelRow>(
            "SELECT object_id AS ObjectId, label_key AS \"Key\", label_value AS Value FROM object_labels WHERE object_id = @ObjectId",
            new { ObjectId = objectId },
            cancellationToken).ConfigureAwait(false);
        return rows.ToDictionary(row => row.Key, row => row.Value, StringComparer.Ordinal);
    }

    private static async Task<ModelAlias?> ReadAliasAsync(DbSession session, string modelId, string alias, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<AliasRow>(
            $"SELECT {AliasColumns} FROM model_aliases WHERE model_id = @ModelId AND alias = @Alias",
            new { ModelId = modelId, Alias = alias },
            cancellationToken).ConfigureAwait(false);
        return row?.ToAlias();
    }

    private static async Task<string> ModelNamespaceAsync(DbSession session, string modelId, CancellationToken cancellationToken) =>
        (await session.ScalarAsync<string>("SELECT namespace FROM models WHERE id = @Id", new { Id = modelId }, cancellationToken).ConfigureAwait(false))!;

    private sealed class LabelRow
    {
        public string ObjectId { get; set; } = string.Empty;
        public string Key { get; set; } = string.Empty;
        public string Value { get; set; } = string.Empty;
    }

    private sealed class AliasRow
    {
        public string ModelId { get; set; } = string.Empty;
        public string Alias { get; set; } = string.Empty;
        public string VersionId { get; set; } = string.Empty;
        public long UpdatedAt { get; set; }

        public ModelAlias ToAlias() => new(ModelId, Alias, VersionId, FromMicros(UpdatedAt));
    }

    private sealed class TagRow
    {
        public string Id { get; set; } = string.Empty;
        public string UniqueTags { get; set; } = "[]";
    }
}
