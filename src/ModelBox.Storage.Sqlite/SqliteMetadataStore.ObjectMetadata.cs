using Dapper;
using Microsoft.Data.Sqlite;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using static ModelBox.Storage.Sqlite.SqliteValues;

namespace ModelBox.Storage.Sqlite;

// Metadata of any object (JSON per key) and events logged against any object.
public sealed partial class SqliteMetadataStore
{
    private const string EventColumns =
        "id AS Id, parent_id AS ParentId, name AS Name, source AS Source, wallclock_ns AS WallclockNs, created_at AS CreatedAt";

    public Task<MetadataWriteResult?> UpdateMetadataAsync(
        string objectId, IReadOnlyDictionary<string, string> values, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        return WriteAsync<MetadataWriteResult?>(
            async (connection, transaction) =>
            {
                var location = await LocateAsync(connection, transaction, objectId, cancellationToken).ConfigureAwait(false);
                if (location is null || location.Deleted)
                {
                    return null;
                }

                if (values.Count == 0)
                {
                    return new MetadataWriteResult(0, now);
                }

                var updatedAt = ToMicros(now);
                await connection.ExecuteAsync(Command(
                    """
                    INSERT INTO object_metadata (object_id, key, value_json, updated_at) VALUES (@ObjectId, @Key, @Json, @UpdatedAt)
                    ON CONFLICT (object_id, key) DO UPDATE SET value_json = excluded.value_json, updated_at = excluded.updated_at
                    """,
                    values.Select(entry => new { ObjectId = objectId, entry.Key, Json = entry.Value, UpdatedAt = updatedAt }),
                    transaction,
                    cancellationToken)).ConfigureAwait(false);
                await AppendChangeAsync(
                    connection, transaction, location.Namespace, ChangeObjectKinds.Metadata, objectId, ChangeType.Updated, now,
                    ChangeStateJson.Metadata(objectId, ChangeObjectKinds.Of(location.Kind), values, [], now), cancellationToken).ConfigureAwait(false);
                return new MetadataWriteResult(values.Count, now);
            },
            cancellationToken);
    }

    public Task<IReadOnlyDictionary<string, string>?> ListMetadataAsync(string objectId, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyDictionary<string, string>?>(
            async (connection, transaction) =>
            {
                var location = await LocateAsync(connection, transaction, objectId, cancellationToken).ConfigureAwait(false);
                return location is null || location.Deleted
                    ? null
                    : await LoadMetadataAsync(connection, transaction, objectId, cancellationToken).ConfigureAwait(false);
            },
            cancellationToken);

    public Task<MetadataWriteResult?> DeleteMetadataAsync(
        string objectId, IReadOnlyCollection<string> keys, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return WriteAsync<MetadataWriteResult?>(
            async (connection, transaction) =>
            {
                var location = await LocateAsync(connection, transaction, objectId, cancellationToken).ConfigureAwait(false);
                if (location is null || location.Deleted)
                {
                    return null;
                }

                if (keys.Count == 0)
                {
                    return new MetadataWriteResult(0, now);
                }

                var deleted = (await connection.QueryAsync<string>(Command(
                    "DELETE FROM object_metadata WHERE object_id = @ObjectId AND key IN @Keys RETURNING key",
                    new { ObjectId = objectId, Keys = keys },
                    transaction,
                    cancellationToken)).ConfigureAwait(false)).Order(StringComparer.Ordinal).ToList();
                if (deleted.Count > 0)
                {
                    await AppendChangeAsync(
                        connection, transaction, location.Namespace, ChangeObjectKinds.Metadata, objectId, ChangeType.Updated, now,
                        ChangeStateJson.Metadata(objectId, ChangeObjectKinds.Of(location.Kind), new Dictionary<string, string>(), deleted, now),
                        cancellationToken).ConfigureAwait(false);
                }

                return new MetadataWriteResult(deleted.Count, now);
            },
            cancellationToken);
    }

    public Task<bool> LogEventAsync(LoggedEvent loggedEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(loggedEvent);
        return WriteAsync(
            async (connection, transaction) =>
            {
                var parent = await LocateAsync(connection, transaction, loggedEvent.ParentId, cancellationToken).ConfigureAwait(false);
                if (parent is null || parent.Deleted)
                {
                    return false;
                }

                await InsertEventAsync(connection, transaction, loggedEvent, parent.Namespace, cancellationToken).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    /// <summary>Stores an event and its change record in the caller's write transaction (logged events and audit events alike).</summary>
    private async Task InsertEventAsync(
        SqliteConnection connection, SqliteTransaction transaction, LoggedEvent loggedEvent, string @namespace, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(Command(
            """
            INSERT INTO events (id, parent_id, namespace, name, source, wallclock_ns, created_at)
            VALUES (@Id, @ParentId, @Namespace, @Name, @Source, @WallclockNs, @CreatedAt)
            """,
            new
            {
                loggedEvent.Id,
                loggedEvent.ParentId,
                Namespace = @namespace,
                loggedEvent.Name,
                loggedEvent.Source,
                WallclockNs = loggedEvent.WallclockUnixNanos,
                CreatedAt = ToMicros(loggedEvent.CreatedAt),
            },
            transaction,
            cancellationToken)).ConfigureAwait(false);
        await InsertMetadataAsync(connection, transaction, loggedEvent.Id, loggedEvent.Metadata, loggedEvent.CreatedAt, cancellationToken)
            .ConfigureAwait(false);
        await AppendChangeAsync(
            connection, transaction, @namespace, ChangeObjectKinds.Event, loggedEvent.Id, ChangeType.Created, loggedEvent.CreatedAt,
            ChangeStateJson.Event(loggedEvent), cancellationToken).ConfigureAwait(false);
    }

    public async Task<Page<LoggedEvent>?> ListEventsAsync(
        string parentId, long? sinceUnixNanos, PageRequest page, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(page);
        var after = DecodeToken(page, 2);
        var sql = $"SELECT {EventColumns} FROM events WHERE parent_id = @ParentId"
            + (sinceUnixNanos is null ? string.Empty : " AND wallclock_ns > @Since")
            + (after is null ? string.Empty : " AND (wallclock_ns, id) > (@AfterWallclock, @AfterId)")
            + " ORDER BY wallclock_ns, id LIMIT @Take";
        var parameters = new
        {
            ParentId = parentId,
            Since = sinceUnixNanos ?? 0,
            AfterWallclock = after is null ? 0 : ParseKey(after[0]),
            AfterId = after?[1],
            Take = Take(page),
        };
        return await ReadAsync<Page<LoggedEvent>?>(
            async (connection, transaction) =>
            {
                var parent = await LocateAsync(connection, transaction, parentId, cancellationToken).ConfigureAwait(false);
                if (parent is null || parent.Deleted)
                {
                    return null;
                }

                var rows = (await connection.QueryAsync<EventRow>(Command(sql, parameters, transaction, cancellationToken)).ConfigureAwait(false)).AsList();
                var items = ToPage(rows, page, row => row, row => [Key(row.WallclockNs), row.Id]);
                var metadata = await LoadMetadataAsync(connection, transaction, items.Items.Select(row => row.Id).ToList(), cancellationToken)
                    .ConfigureAwait(false);
                return new Page<LoggedEvent>(items.Items.Select(row => row.ToEvent(MetadataOf(metadata, row.Id))).ToList(), items.NextPageToken);
            },
            cancellationToken).ConfigureAwait(false);
    }

    private sealed class EventRow
    {
        public string Id { get; set; } = string.Empty;
        public string ParentId { get; set; } = string.Empty;
        public string Name { get; set; } = string.Empty;
        public string Source { get; set; } = string.Empty;
        public long WallclockNs { get; set; }
        public long CreatedAt { get; set; }

        public LoggedEvent ToEvent(IReadOnlyDictionary<string, string> metadata) =>
            new(Id, ParentId, Name, Source, WallclockNs, metadata, FromMicros(CreatedAt));
    }
}
