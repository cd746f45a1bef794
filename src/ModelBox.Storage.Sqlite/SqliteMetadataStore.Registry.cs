using Dapper;
using Microsoft.Data.Sqlite;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Registry;
using ModelBox.Domain.Storage;
using static ModelBox.Storage.Sqlite.SqliteValues;

namespace ModelBox.Storage.Sqlite;

// Labels, aliases and unique tags: each write appends its change record and its audit events in its own transaction.
public sealed partial class SqliteMetadataStore : IRegistryStore
{
    public Task<LabelWriteResult?> SetLabelsAsync(
        string objectId, IReadOnlyDictionary<string, string> labels, AuditContext audit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(audit);
        return WriteAsync(
            async (connection, transaction) =>
            {
                var location = await LocateAsync(connection, transaction, objectId, cancellationToken).ConfigureAwait(false);
                if (location is null || location.Deleted)
                {
                    return null;
                }

                var current = await LoadLabelsAsync(connection, transaction, objectId, cancellationToken).ConfigureAwait(false);
                var written = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var (key, value) in labels.OrderBy(l => l.Key, StringComparer.Ordinal))
                {
                    current.TryGetValue(key, out var old);
                    if (string.Equals(old, value, StringComparison.Ordinal))
                    {
                        continue;
                    }

                    await connection.ExecuteAsync(Command(
                        """
                        INSERT INTO object_labels (object_id, label_key, label_value, updated_at) VALUES (@ObjectId, @Key, @Value, @Now)
                        ON CONFLICT (object_id, label_key) DO UPDATE SET label_value = excluded.label_value, updated_at = excluded.updated_at
                        """,
                        new { ObjectId = objectId, Key = key, Value = value, Now = ToMicros(audit.At) },
                        transaction,
                        cancellationToken)).ConfigureAwait(false);
                    current[key] = value;
                    written[key] = value;
                    await AuditAsync(connection, transaction, location.Namespace, objectId, "audit.label_set", audit,
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
                        connection, transaction, location.Namespace, ChangeObjectKinds.Labels, objectId, ChangeType.Updated, audit.At,
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
        return WriteAsync(
            async (connection, transaction) =>
            {
                var location = await LocateAsync(connection, transaction, objectId, cancellationToken).ConfigureAwait(false);
                if (location is null || location.Deleted)
                {
                    return null;
                }

                var current = await LoadLabelsAsync(connection, transaction, objectId, cancellationToken).ConfigureAwait(false);
                var removed = new List<string>();
                foreach (var key in keys.Order(StringComparer.Ordinal))
                {
                    if (!current.Remove(key, out var old))
                    {
                        continue;
                    }

                    await connection.ExecuteAsync(Command(
                        "DELETE FROM object_labels WHERE object_id = @ObjectId AND label_key = @Key",
                        new { ObjectId = objectId, Key = key },
                        transaction,
                        cancellationToken)).ConfigureAwait(false);
                    removed.Add(key);
                    await AuditAsync(connection, transaction, location.Namespace, objectId, "audit.label_removed", audit,
                        new() { ["key"] = key, ["old"] = old, ["new"] = null }, cancellationToken).ConfigureAwait(false);
                }

                if (removed.Count > 0)
                {
                    await AppendChangeAsync(
                        connection, transaction, location.Namespace, ChangeObjectKinds.Labels, objectId, ChangeType.Updated, audit.At,
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
        return ReadAsync<IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>>(
            async (connection, transaction) =>
            {
                var result = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
                var rows = await connection.QueryAsync<LabelRow>(Command(
                    "SELECT object_id AS ObjectId, label_key AS Key, label_value AS Value FROM object_labels WHERE object_id IN @Ids",
                    new { Ids = objectIds.Distinct(StringComparer.Ordinal).ToList() },
                    transaction,
                    cancellationToken)).ConfigureAwait(false);
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
            async (connection, transaction) =>
            {
                var model = await ReadModelAsync(connection, transaction, modelId, cancellationToken).ConfigureAwait(false);
                if (model is null || model.DeletedAt is not null)
                {
                    throw ModelBoxException.NotFound("model", modelId);
                }

                var version = await ReadModelVersionAsync(connection, transaction, versionId, cancellationToken).ConfigureAwait(false);
                if (version is null || version.DeletedAt is not null)
                {
                    throw ModelBoxException.NotFound("model version", versionId);
                }

                if (!string.Equals(version.ModelId, modelId, StringComparison.Ordinal))
                {
                    throw ModelBoxException.FailedPrecondition(
                        $"model version '{versionId}' belongs to model '{version.ModelId}', not to model '{modelId}'; an alias points at a version of its own model");
                }

                var previous = await ReadAliasAsync(connection, transaction, modelId, alias, cancellationToken).ConfigureAwait(false);
                if (previous is not null && string.Equals(previous.VersionId, versionId, StringComparison.Ordinal))
                {
                    return (previous, (string?)versionId);
                }

                await connection.ExecuteAsync(Command(
                    """
                    INSERT INTO model_aliases (model_id, alias, version_id, updated_at) VALUES (@ModelId, @Alias, @VersionId, @Now)
                    ON CONFLICT (model_id, alias) DO UPDATE SET version_id = excluded.version_id, updated_at = excluded.updated_at
                    """,
                    new { ModelId = modelId, Alias = alias, VersionId = versionId, Now = ToMicros(audit.At) },
                    transaction,
                    cancellationToken)).ConfigureAwait(false);
                await AppendChangeAsync(
                    connection, transaction, model.Namespace, ChangeObjectKinds.Alias, modelId, previous is null ? ChangeType.Created : ChangeType.Updated,
                    audit.At, RegistryRecords.AliasState(model.Namespace, modelId, alias, versionId, previous?.VersionId, audit), cancellationToken)
                    .ConfigureAwait(false);
                await AuditAsync(connection, transaction, model.Namespace, modelId, "audit.alias_set", audit,
                    new() { ["alias"] = alias, ["old"] = previous?.VersionId, ["new"] = versionId }, cancellationToken).ConfigureAwait(false);
                return (new ModelAlias(modelId, alias, versionId, audit.At), previous?.VersionId);
            },
            cancellationToken);
    }

    public Task<ModelAlias?> GetAliasAsync(string modelId, string alias, CancellationToken cancellationToken = default) =>
        ReadAsync(
            async (connection, transaction) =>
            {
                var model = await GetDeletionAsync(connection, transaction, "models", modelId, cancellationToken).ConfigureAwait(false);
                return model is null || model.DeletedAt is not null
                    ? null
                    : await ReadAliasAsync(connection, transaction, modelId, alias, cancellationToken).ConfigureAwait(false);
            },
            cancellationToken);

    public Task<IReadOnlyList<ModelAlias>> ListAliasesAsync(string modelId, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<ModelAlias>>(
            async (connection, transaction) =>
            {
                var rows = await connection.QueryAsync<AliasRow>(Command(
                    $"SELECT {AliasColumns} FROM model_aliases WHERE model_id = @ModelId ORDER BY alias",
                    new { ModelId = modelId },
                    transaction,
                    cancellationToken)).ConfigureAwait(false);
                return rows.Select(row => row.ToAlias()).ToList();
            },
            cancellationToken);

    public Task<ModelAlias?> DeleteAliasAsync(string modelId, string alias, AuditContext audit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(audit);
        return WriteAsync(
            async (connection, transaction) =>
            {
                var model = await ReadModelAsync(connection, transaction, modelId, cancellationToken).ConfigureAwait(false);
                if (model is null || model.DeletedAt is not null)
                {
                    throw ModelBoxException.NotFound("model", modelId);
                }

                var previous = await ReadAliasAsync(connection, transaction, modelId, alias, cancellationToken).ConfigureAwait(false);
                if (previous is null)
                {
                    return null;
                }

                await connection.ExecuteAsync(Command(
                    "DELETE FROM model_aliases WHERE model_id = @ModelId AND alias = @Alias",
                    new { ModelId = modelId, Alias = alias },
                    transaction,
                    cancellationToken)).ConfigureAwait(false);
                await AppendChangeAsync(
                    connection, transaction, model.Namespace, ChangeObjectKinds.Alias, modelId, ChangeType.Deleted, audit.At,
                    RegistryRecords.AliasState(model.Namespace, modelId, alias, null, previous.VersionId, audit), cancellationToken).ConfigureAwait(false);
                await AuditAsync(connection, transaction, model.Namespace, modelId, "audit.alias_deleted", audit,
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
            async (connection, transaction) =>
            {
                var (stored, inserted) = await InsertModelVersionAsync(connection, transaction, version, cancellationToken).ConfigureAwait(false);
                if (!inserted)
                {
                    return new CreateResult<ModelVersion>(stored, Existed: true);
                }

                var @namespace = await ModelNamespaceAsync(connection, transaction, stored.ModelId, cancellationToken).ConfigureAwait(false);
                // A tag given on create is part of the created record; only the tags taken from other versions get audit events.
                await MoveTagsToAsync(connection, transaction, stored, stored.UniqueTags, @namespace, audit, auditUnmoved: false, cancellationToken).ConfigureAwait(false);
                if (!lineage.IsEmpty)
                {
                    await WriteLineageAsync(connection, transaction, stored.Id, @namespace, lineage, audit, cancellationToken).ConfigureAwait(false);
                }

                await InsertFilesOfNewObjectAsync(connection, transaction, stored.Id, files, cancellationToken).ConfigureAwait(false);
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
            async (connection, transaction) =>
            {
                var location = await LocateAsync(connection, transaction, versionId, cancellationToken).ConfigureAwait(false);
                if (location is null || location.Deleted)
                {
                    return null;
                }

                var version = (await ReadModelVersionAsync(connection, transaction, versionId, cancellationToken).ConfigureAwait(false))!;
                var added = add.Where(tag => !version.UniqueTags.Contains(tag, StringComparer.Ordinal)).ToList();
                var removed = remove.Where(tag => version.UniqueTags.Contains(tag, StringComparer.Ordinal)).ToList();
                if (added.Count == 0 && removed.Count == 0)
                {
                    return version;
                }

                var tags = version.UniqueTags.Except(removed, StringComparer.Ordinal).Concat(added).ToList();
                await connection.ExecuteAsync(Command(
                    "UPDATE model_versions SET unique_tags = @Tags, updated_at = @Now WHERE id = @Id",
                    new { Tags = TagsToJson(tags), Now = ToMicros(audit.At), Id = versionId },
                    transaction,
                    cancellationToken)).ConfigureAwait(false);
                foreach (var tag in removed)
                {
                    await AuditAsync(connection, transaction, location.Namespace, versionId, "audit.unique_tag_removed", audit,
                        new() { ["tag"] = tag, ["old"] = versionId, ["new"] = null }, cancellationToken).ConfigureAwait(false);
                }

                var updated = (await ReadModelVersionAsync(connection, transaction, versionId, cancellationToken).ConfigureAwait(false))!;
                await MoveTagsToAsync(connection, transaction, updated, added, location.Namespace, audit, auditUnmoved: true, cancellationToken).ConfigureAwait(false);
                await AppendChangeAsync(
                    connection, transaction, location.Namespace, ChangeObjectKinds.ModelVersion, versionId, ChangeType.Updated, audit.At,
                    ChangeStateJson.ModelVersion(updated, location.Namespace), cancellationToken).ConfigureAwait(false);
                return updated;
            },
            cancellationToken);
    }

    /// <summary>
    /// Takes each tag away from every other version of the model that holds it (live or deleted, so a restore cannot bring
    /// back a second holder), with a change record per version that lost one, and an audit event per tag (old holder → new; tags
    /// that had no holder only when <paramref name="auditUnmoved"/>).
    /// </summary>
    private async Task MoveTagsToAsync(
        SqliteConnection connection,
        SqliteTransaction transaction,
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

        var others = await connection.QueryAsync<TagRow>(Command(
            "SELECT id AS Id, unique_tags AS UniqueTags FROM model_versions WHERE model_id = @ModelId AND id <> @Id AND unique_tags <> '[]'",
            new { holder.ModelId, holder.Id },
            transaction,
            cancellationToken)).ConfigureAwait(false);
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

            await connection.ExecuteAsync(Command(
                "UPDATE model_versions SET unique_tags = @Tags, updated_at = @Now WHERE id = @Id",
                new { Tags = TagsToJson(otherTags.Except(lost, StringComparer.Ordinal).ToList()), Now = ToMicros(audit.At), other.Id },
                transaction,
                cancellationToken)).ConfigureAwait(false);
            var changed = (await ReadModelVersionAsync(connection, transaction, other.Id, cancellationToken).ConfigureAwait(false))!;
            await AppendChangeAsync(
                connection, transaction, @namespace, ChangeObjectKinds.ModelVersion, other.Id, ChangeType.Updated, audit.At,
                ChangeStateJson.ModelVersion(changed, @namespace), cancellationToken).ConfigureAwait(false);
        }

        foreach (var tag in tags)
        {
            if (!previousHolders.TryGetValue(tag, out var old) && !auditUnmoved)
            {
                continue;
            }

            await AuditAsync(connection, transaction, @namespace, holder.Id, "audit.unique_tag_set", audit,
                new() { ["tag"] = tag, ["old"] = old, ["new"] = holder.Id }, cancellationToken).ConfigureAwait(false);
        }
    }

    private Task AuditAsync(
        SqliteConnection connection,
        SqliteTransaction transaction,
        string @namespace,
        string objectId,
        string name,
        AuditContext audit,
        Dictionary<string, string?> details,
        CancellationToken cancellationToken) =>
        InsertEventAsync(connection, transaction, RegistryRecords.AuditEvent(objectId, name, audit, details), @namespace, cancellationToken);

    private static async Task<Dictionary<string, string>> LoadLabelsAsync(
        SqliteConnection connection, SqliteTransaction transaction, string objectId, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync<LabelRow>(Command(
            "SELECT object_id AS ObjectId, label_key AS Key, label_value AS Value FROM object_labels WHERE object_id = @ObjectId",
            new { ObjectId = objectId },
            transaction,
            cancellationToken)).ConfigureAwait(false);
        return rows.ToDictionary(row => row.Key, row => row.Value, StringComparer.Ordinal);
    }

    private const string AliasColumns = "model_id AS ModelId, alias AS Alias, version_id AS VersionId, updated_at AS UpdatedAt";

    private static async Task<ModelAlias?> ReadAliasAsync(
        SqliteConnection connection, SqliteTransaction transaction, string modelId, string alias, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<AliasRow>(Command(
            $"SELECT {AliasColumns} FROM model_aliases WHERE model_id = @ModelId AND alias = @Alias",
            new { ModelId = modelId, Alias = alias },
            transaction,
            cancellationToken)).ConfigureAwait(false);
        return row?.ToAlias();
    }

    private static async Task<string> ModelNamespaceAsync(
        SqliteConnection connection, SqliteTransaction transaction, string modelId, CancellationToken cancellationToken) =>
        (await connection.ExecuteScalarAsync<string>(Command(
            "SELECT namespace FROM models WHERE id = @Id", new { Id = modelId }, transaction, cancellationToken)).ConfigureAwait(false))!;

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
