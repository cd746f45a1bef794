using ModelBox.Domain;
using ModelBox.Domain.Changes;
using static ModelBox.Storage.Relational.RelationalValues;

namespace ModelBox.Storage.Relational;

// What the object kinds share: namespaces, metadata, soft deletion and keyset pages.
public sealed partial class RelationalMetadataStore
{
    /// <summary>
    /// The condition that a namespace column is in a scope, over the parameters <c>@Namespace</c> and, for a subtree,
    /// <c>@NamespaceFrom</c> and <c>@NamespaceBefore</c> (<see cref="NamespaceScope.DescendantRange"/>): a range, so the
    /// namespace indexes serve it (every namespace column compares in byte order).
    /// </summary>
    private static string InScope(string column, NamespaceScope scope) =>
        scope.Recursive
            ? $"({column} = @Namespace OR ({column} >= @NamespaceFrom AND {column} < @NamespaceBefore))"
            : $"{column} = @Namespace";

    public async Task<Page<NamespaceInfo>> ListNamespacesAsync(PageRequest page, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(page);
        var after = DecodeToken(page, 1);
        var sql = "SELECT name AS Name, created_at AS CreatedAt FROM namespaces"
            + (after is null ? string.Empty : " WHERE name > @AfterName")
            + " ORDER BY name LIMIT @Take";
        return await ReadAsync(
            async session =>
            {
                var rows = await session.QueryAsync<NamespaceRow>(sql, new { AfterName = after?[0], Take = Take(page) }, cancellationToken)
                    .ConfigureAwait(false);
                return ToPage(rows, page, row => new NamespaceInfo(row.Name, FromMicros(row.CreatedAt)), row => [row.Name]);
            },
            cancellationToken).ConfigureAwait(false);
    }

    private static Task RecordNamespaceAsync(
        DbSession session, string @namespace, DateTimeOffset createdAt, CancellationToken cancellationToken) =>
        session.ExecuteAsync(
            session.Dialect.InsertIfAbsent("namespaces", "name, created_at", "@Name, @CreatedAt", "name"),
            new { Name = @namespace, CreatedAt = ToMicros(createdAt) }, cancellationToken);

    private static async Task InsertMetadataAsync(
        DbSession session,
        string objectId,
        IReadOnlyDictionary<string, string> metadata,
        DateTimeOffset updatedAt,
        CancellationToken cancellationToken)
    {
        if (metadata.Count == 0)
        {
            return;
        }

        var updated = ToMicros(updatedAt);
        await session.ExecuteAsync(
            "INSERT INTO object_metadata (object_id, \"key\", value_json, updated_at) VALUES (@ObjectId, @Key, @Json, @UpdatedAt)",
            metadata.Select(entry => new { ObjectId = objectId, entry.Key, Json = entry.Value, UpdatedAt = updated }), cancellationToken).ConfigureAwait(false);
    }

    private static async Task<Dictionary<string, string>> LoadMetadataAsync(
        DbSession session, string objectId, CancellationToken cancellationToken)
    {
        var rows = await session.QueryByKeyAsync<MetadataRow>(
            "SELECT object_id AS ObjectId, \"key\" AS \"Key\", value_json AS Json FROM object_metadata WHERE object_id = @ObjectId", "@ObjectId", objectId, cancellationToken).ConfigureAwait(false);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            metadata.Add(row.Key, row.Json);
        }

        return metadata;
    }

    /// <summary>The metadata of many objects in one query, keyed by object id; objects without metadata are absent.</summary>
    private static async Task<Dictionary<string, Dictionary<string, string>>> LoadMetadataAsync(
        DbSession session, IReadOnlyCollection<string> objectIds, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        if (objectIds.Count == 0)
        {
            return result;
        }

        var rows = await session.QueryAsync<MetadataRow>(
            "SELECT object_id AS ObjectId, \"key\" AS \"Key\", value_json AS Json FROM object_metadata WHERE "
            + session.Dialect.InList("object_id", "@ObjectIds"),
            new { ObjectIds = objectIds.ToArray() }, cancellationToken).ConfigureAwait(false);
        foreach (var row in rows)
        {
            if (!result.TryGetValue(row.ObjectId, out var metadata))
            {
                metadata = new Dictionary<string, string>(StringComparer.Ordinal);
                result.Add(row.ObjectId, metadata);
            }

            metadata.Add(row.Key, row.Json);
        }

        return result;
    }

    private static IReadOnlyDictionary<string, string> MetadataOf(Dictionary<string, Dictionary<string, string>> all, string objectId) =>
        all.TryGetValue(objectId, out var metadata) ? metadata : new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The deletion state of a row: null when there is no such row.</summary>
    private static Task<DeletionRow?> GetDeletionAsync(
        DbSession session, string table, string id, CancellationToken cancellationToken, bool forUpdate = false) =>
        session.QuerySingleOrDefaultAsync<DeletionRow?>(
            $"SELECT deleted_at AS DeletedAt FROM {table} WHERE id = @Id" + (forUpdate ? session.Dialect.ForUpdate : string.Empty), new { Id = id }, cancellationToken);

    /// <summary>Locks a row until the transaction ends, so concurrent read-modify-writes of one object take turns (nothing
    /// to do where the database serialises writers itself).</summary>
    private static Task LockRowAsync(DbSession session, string table, string id, CancellationToken cancellationToken) =>
        session.Dialect.LocksRows
            ? session.QueryAsync<string>($"SELECT id FROM {table} WHERE id = @Id FOR UPDATE", new { Id = id }, cancellationToken)
            : Task.CompletedTask;

    /// <summary>
    /// Soft-deletes a live parent and its live children with one timestamp, which is how a restore later tells the
    /// children deleted with the parent from those deleted before it. Null when there is no such row.
    /// </summary>
    private static async Task<SoftDeletion?> SoftDeleteAsync(
        DbSession session,
        string table,
        string id,
        DateTimeOffset now,
        (string Table, string ParentColumn)? children,
        CancellationToken cancellationToken)
    {
        var state = await GetDeletionAsync(session, table, id, cancellationToken, forUpdate: true).ConfigureAwait(false);
        if (state is null)
        {
            return null;
        }

        if (state.DeletedAt is { } deletedAt)
        {
            return new SoftDeletion(FromMicros(deletedAt), Changed: false, []);
        }

        var parameters = new { Id = id, Now = ToMicros(now) };
        await session.ExecuteAsync(
            $"UPDATE {table} SET deleted_at = @Now, updated_at = @Now WHERE id = @Id", parameters, cancellationToken).ConfigureAwait(false);
        List<string> childIds = [];
        if (children is var (childTable, parentColumn))
        {
            // The children this delete takes with it each get their own change record. The parent row, updated above, is
            // locked until commit, so no child can be created or restored between this read and the update.
            childIds = await session.QueryAsync<string>(
                $"SELECT id FROM {childTable} WHERE {parentColumn} = @Id AND deleted_at IS NULL ORDER BY id", parameters, cancellationToken)
                .ConfigureAwait(false);
            await session.ExecuteAsync(
                $"UPDATE {childTable} SET deleted_at = @Now, updated_at = @Now WHERE {parentColumn} = @Id AND deleted_at IS NULL",
                parameters, cancellationToken).ConfigureAwait(false);
        }

        return new SoftDeletion(FromMicros(parameters.Now), Changed: true, childIds);
    }

    /// <summary>Restores a deleted row and the children that carry its deletion timestamp; null when there is no such row.</summary>
    private static async Task<Restoration?> RestoreAsync(
        DbSession session,
        string table,
        string id,
        DateTimeOffset now,
        (string Table, string ParentColumn)? children,
        CancellationToken cancellationToken)
    {
        var state = await GetDeletionAsync(session, table, id, cancellationToken, forUpdate: true).ConfigureAwait(false);
        if (state is null)
        {
            return null;
        }

        if (state.DeletedAt is not { } deletedAt)
        {
            return new Restoration(Changed: false, []);
        }

        var parameters = new { Id = id, Now = ToMicros(now), DeletedAt = deletedAt };
        await session.ExecuteAsync(
            $"UPDATE {table} SET deleted_at = NULL, updated_at = @Now WHERE id = @Id", parameters, cancellationToken).ConfigureAwait(false);
        List<string> childIds = [];
        if (children is var (childTable, parentColumn))
        {
            childIds = await session.QueryAsync<string>(
                $"SELECT id FROM {childTable} WHERE {parentColumn} = @Id AND deleted_at = @DeletedAt ORDER BY id", parameters, cancellationToken)
                .ConfigureAwait(false);
            await session.ExecuteAsync(
                $"UPDATE {childTable} SET deleted_at = NULL, updated_at = @Now WHERE {parentColumn} = @Id AND deleted_at = @DeletedAt",
                parameters, cancellationToken).ConfigureAwait(false);
        }

        return new Restoration(Changed: true, childIds);
    }

    /// <summary>
    /// A kind that is deleted and restored with its children (experiment → checkpoints, model → versions): its table, its
    /// children's table and parent column, and how the change records of the parent and of a child read.
    /// </summary>
    private sealed record DeletionTree(
        string Table,
        string ChildTable,
        string ParentColumn,
        Func<DbSession, string, CancellationToken, Task<(string Namespace, string Kind, string State)>> Parent,
        Func<DbSession, string, string, CancellationToken, Task<(string Kind, string State)>> Child);

    /// <summary>Soft-deletes an object and its live children, with a change record for each; null when there is no such object.</summary>
    private static async Task<DateTimeOffset?> DeleteTreeAsync(
        DbSession session, DeletionTree tree, string id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var deletion = await SoftDeleteAsync(session, tree.Table, id, now, (tree.ChildTable, tree.ParentColumn), cancellationToken).ConfigureAwait(false);
        if (deletion is { Changed: true })
        {
            await AppendTreeChangesAsync(session, tree, id, deletion.ChildIds, ChangeType.Deleted, now, cancellationToken).ConfigureAwait(false);
        }

        return deletion?.DeletedAt;
    }

    /// <summary>
    /// Restores an object and the children deleted with it, with a change record for each (a restore is an update: the
    /// object existed all along, and its state now shows deleted_at cleared); false when there is no such object.
    /// </summary>
    private static async Task<bool> RestoreTreeAsync(
        DbSession session, DeletionTree tree, string id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var restoration = await RestoreAsync(session, tree.Table, id, now, (tree.ChildTable, tree.ParentColumn), cancellationToken).ConfigureAwait(false);
        if (restoration is { Changed: true })
        {
            await AppendTreeChangesAsync(session, tree, id, restoration.ChildIds, ChangeType.Updated, now, cancellationToken).ConfigureAwait(false);
        }

        return restoration is not null;
    }

    /// <summary>One change record for the object and one for each child that went (or came back) with it.</summary>
    private static async Task AppendTreeChangesAsync(
        DbSession session, DeletionTree tree, string id, IReadOnlyList<string> childIds, ChangeType change, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var (@namespace, kind, state) = await tree.Parent(session, id, cancellationToken).ConfigureAwait(false);
        await AppendChangeAsync(session, @namespace, kind, id, change, now, state, cancellationToken).ConfigureAwait(false);
        foreach (var childId in childIds)
        {
            var (childKind, childState) = await tree.Child(session, childId, @namespace, cancellationToken).ConfigureAwait(false);
            await AppendChangeAsync(session, @namespace, childKind, childId, change, now, childState, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The outcome of a soft delete: when, whether this call deleted it, and the children it deleted.</summary>
    private sealed record SoftDeletion(DateTimeOffset DeletedAt, bool Changed, IReadOnlyList<string> ChildIds);

    /// <summary>The outcome of a restore: whether this call restored it, and the children it restored.</summary>
    private sealed record Restoration(bool Changed, IReadOnlyList<string> ChildIds);

    /// <summary>The sort key of the last row of the previous page, or null for the first page.</summary>
    private static string[]? DecodeToken(PageRequest page, int parts)
    {
        if (page.Limit is <= 0)
        {
            throw PageTokens.LimitNotPositive();
        }

        if (string.IsNullOrEmpty(page.Token))
        {
            return null;
        }

        var keys = PageTokens.Decode(page.Token);
        return keys.Length == parts ? keys : throw PageTokens.Malformed();
    }

    private static long ParseKey(string text) =>
        TryParseKey(text, out var value) ? value : throw PageTokens.Malformed();

    /// <summary>One row more than the page, to learn whether another page follows; no limit is the largest one.</summary>
    private static long Take(PageRequest page) => page.Limit is { } limit ? (long)limit + 1 : long.MaxValue;

    private static Page<T> ToPage<TRow, T>(List<TRow> rows, PageRequest page, Func<TRow, T> map, Func<TRow, string[]> sortKey)
    {
        string? next = null;
        if (page.Limit is { } limit && rows.Count > limit)
        {
            rows.RemoveRange(limit, rows.Count - limit);
            next = PageTokens.Encode(sortKey(rows[^1]));
        }

        return new Page<T>(rows.ConvertAll(row => map(row)), next);
    }

    private sealed class NamespaceRow
    {
        public string Name { get; set; } = string.Empty;
        public long CreatedAt { get; set; }
    }

    private sealed class MetadataRow
    {
        public string ObjectId { get; set; } = string.Empty;
        public string Key { get; set; } = string.Empty;
        public string Json { get; set; } = string.Empty;
    }

    private sealed class DeletionRow
    {
        public long? DeletedAt { get; set; }
    }
}
