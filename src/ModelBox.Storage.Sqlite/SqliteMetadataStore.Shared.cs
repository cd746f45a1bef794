using Dapper;
using Microsoft.Data.Sqlite;
using ModelBox.Domain;
using static ModelBox.Storage.Sqlite.SqliteValues;

namespace ModelBox.Storage.Sqlite;

// What the object kinds share: namespaces, metadata, soft deletion and keyset pages.
public sealed partial class SqliteMetadataStore
{
    public async Task<Page<NamespaceInfo>> ListNamespacesAsync(PageRequest page, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(page);
        var after = DecodeToken(page, 1);
        var sql = "SELECT name AS Name, created_at AS CreatedAt FROM namespaces"
            + (after is null ? string.Empty : " WHERE name > @AfterName")
            + " ORDER BY name LIMIT @Take";
        return await ReadAsync(
            async (connection, transaction) =>
            {
                var rows = (await connection.QueryAsync<NamespaceRow>(
                    Command(sql, new { AfterName = after?[0], Take = Take(page) }, transaction, cancellationToken)).ConfigureAwait(false)).AsList();
                return ToPage(rows, page, row => new NamespaceInfo(row.Name, FromMicros(row.CreatedAt)), row => [row.Name]);
            },
            cancellationToken).ConfigureAwait(false);
    }

    private static CommandDefinition Command(string sql, object? parameters, SqliteTransaction transaction, CancellationToken cancellationToken) =>
        new(sql, parameters, transaction, cancellationToken: cancellationToken);

    private static Task RecordNamespaceAsync(
        SqliteConnection connection, SqliteTransaction transaction, string @namespace, DateTimeOffset createdAt, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(Command(
            "INSERT INTO namespaces (name, created_at) VALUES (@Name, @CreatedAt) ON CONFLICT (name) DO NOTHING",
            new { Name = @namespace, CreatedAt = ToMicros(createdAt) },
            transaction,
            cancellationToken));

    private static async Task InsertMetadataAsync(
        SqliteConnection connection,
        SqliteTransaction transaction,
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
        await connection.ExecuteAsync(Command(
            "INSERT INTO object_metadata (object_id, key, value_json, updated_at) VALUES (@ObjectId, @Key, @Json, @UpdatedAt)",
            metadata.Select(entry => new { ObjectId = objectId, entry.Key, Json = entry.Value, UpdatedAt = updated }),
            transaction,
            cancellationToken)).ConfigureAwait(false);
    }

    private static async Task<Dictionary<string, string>> LoadMetadataAsync(
        SqliteConnection connection, SqliteTransaction transaction, string objectId, CancellationToken cancellationToken)
    {
        var rows = await QueryPreparedAsync<MetadataRow>(
            connection,
            transaction,
            "SELECT object_id AS ObjectId, key AS Key, value_json AS Json FROM object_metadata WHERE object_id = @ObjectId",
            "@ObjectId",
            objectId,
            cancellationToken).ConfigureAwait(false);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            metadata.Add(row.Key, row.Json);
        }

        return metadata;
    }

    /// <summary>The metadata of many objects in one query, keyed by object id; objects without metadata are absent.</summary>
    private static async Task<Dictionary<string, Dictionary<string, string>>> LoadMetadataAsync(
        SqliteConnection connection, SqliteTransaction transaction, IReadOnlyCollection<string> objectIds, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        if (objectIds.Count == 0)
        {
            return result;
        }

        var rows = await connection.QueryAsync<MetadataRow>(Command(
            "SELECT object_id AS ObjectId, key AS Key, value_json AS Json FROM object_metadata WHERE object_id IN @ObjectIds",
            new { ObjectIds = objectIds },
            transaction,
            cancellationToken)).ConfigureAwait(false);
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
        SqliteConnection connection, SqliteTransaction transaction, string table, string id, CancellationToken cancellationToken) =>
        connection.QuerySingleOrDefaultAsync<DeletionRow?>(Command(
            $"SELECT deleted_at AS DeletedAt FROM {table} WHERE id = @Id", new { Id = id }, transaction, cancellationToken));

    /// <summary>
    /// Soft-deletes a live parent and its live children with one timestamp, which is how a restore later tells the
    /// children deleted with the parent from those deleted before it. Null when there is no such row.
    /// </summary>
    private static async Task<SoftDeletion?> SoftDeleteAsync(
        SqliteConnection connection,
        SqliteTransaction transaction,
        string table,
        string id,
        DateTimeOffset now,
        (string Table, string ParentColumn)? children,
        CancellationToken cancellationToken)
    {
        var state = await GetDeletionAsync(connection, transaction, table, id, cancellationToken).ConfigureAwait(false);
        if (state is null)
        {
            return null;
        }

        if (state.DeletedAt is { } deletedAt)
        {
            return new SoftDeletion(FromMicros(deletedAt), Changed: false, []);
        }

        var parameters = new { Id = id, Now = ToMicros(now) };
        await connection.ExecuteAsync(Command(
            $"UPDATE {table} SET deleted_at = @Now, updated_at = @Now WHERE id = @Id", parameters, transaction, cancellationToken)).ConfigureAwait(false);
        List<string> childIds = [];
        if (children is var (childTable, parentColumn))
        {
            // RETURNING names the children this delete took with it: each gets its own change record.
            childIds = (await connection.QueryAsync<string>(Command(
                $"UPDATE {childTable} SET deleted_at = @Now, updated_at = @Now WHERE {parentColumn} = @Id AND deleted_at IS NULL RETURNING id",
                parameters,
                transaction,
                cancellationToken)).ConfigureAwait(false)).AsList();
        }

        return new SoftDeletion(FromMicros(parameters.Now), Changed: true, childIds);
    }

    /// <summary>Restores a deleted row and the children that carry its deletion timestamp; null when there is no such row.</summary>
    private static async Task<Restoration?> RestoreAsync(
        SqliteConnection connection,
        SqliteTransaction transaction,
        string table,
        string id,
        DateTimeOffset now,
        (string Table, string ParentColumn)? children,
        CancellationToken cancellationToken)
    {
        var state = await GetDeletionAsync(connection, transaction, table, id, cancellationToken).ConfigureAwait(false);
        if (state is null)
        {
            return null;
        }

        if (state.DeletedAt is not { } deletedAt)
        {
            return new Restoration(Changed: false, []);
        }

        var parameters = new { Id = id, Now = ToMicros(now), DeletedAt = deletedAt };
        await connection.ExecuteAsync(Command(
            $"UPDATE {table} SET deleted_at = NULL, updated_at = @Now WHERE id = @Id", parameters, transaction, cancellationToken)).ConfigureAwait(false);
        List<string> childIds = [];
        if (children is var (childTable, parentColumn))
        {
            childIds = (await connection.QueryAsync<string>(Command(
                $"UPDATE {childTable} SET deleted_at = NULL, updated_at = @Now WHERE {parentColumn} = @Id AND deleted_at = @DeletedAt RETURNING id",
                parameters,
                transaction,
                cancellationToken)).ConfigureAwait(false)).AsList();
        }

        return new Restoration(Changed: true, childIds);
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

    /// <summary>One row more than the page, to learn whether another page follows; -1 is SQLite's "no limit".</summary>
    private static long Take(PageRequest page) => page.Limit is { } limit ? (long)limit + 1 : -1;

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

    // Prepared statements of the hottest reads, kept per connection: Microsoft.Data.Sqlite prepares a command's SQL on
    // its first execution and keeps it while the command lives, so reusing the command skips SQLite's parse and plan.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<SqliteConnection, Dictionary<string, SqliteCommand>> PreparedCommands = new();

    /// <summary>Runs a read through a prepared command cached on the connection; rows map with Dapper's row parser.</summary>
    private static async Task<List<T>> QueryPreparedAsync<T>(
        SqliteConnection connection, SqliteTransaction? transaction, string sql, string parameterName, object parameterValue, CancellationToken cancellationToken)
    {
        var commands = PreparedCommands.GetOrCreateValue(connection);
        if (!commands.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.Add(new SqliteParameter(parameterName, parameterValue));
            commands.Add(sql, command);
        }

        command.Transaction = transaction;
        command.Parameters[0].Value = parameterValue;
        var rows = new List<T>();
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            var parse = reader.GetRowParser<T>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows.Add(parse(reader));
            }
        }

        return rows;
    }
}
