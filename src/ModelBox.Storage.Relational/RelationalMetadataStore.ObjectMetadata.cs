using Dapper;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using static ModelBox.Storage.Relational.RelationalValues;

namespace ModelBox.Storage.Relational;

// Metadata of any object (JSON per key) and events logged against any object.
public sealed partial class RelationalMetadataStore
{
    private const string EventColumns =
        "id AS Id, parent_id AS ParentId, name AS Name, source AS Source, wallclock_ns AS WallclockNs, created_at AS CreatedAt";

    public Task<MetadataWriteResult?> UpdateMetadataAsync(
        string objectId, IReadOnlyDictionary<string, string> values, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        return WriteAsync<MetadataWriteResult?>(
            async session =>
            {
                // The row lock serialises writers of one object, so the per-object totals below cannot be raced past.
                var location = await LockAndLocateAsync(session, objectId, cancellationToken).ConfigureAwait(false);
                if (location is null || location.Deleted)
                {
                    return null;
                }

                if (values.Count == 0)
                {
                    return new MetadataWriteResult(0, now);
                }

                var merged = await LoadMetadataAsync(session, objectId, cancellationToken).ConfigureAwait(false);
                foreach (var (key, json) in values)
                {
                    merged[key] = json;
                }

                Validation.MetadataTotals(merged.Count, Validation.MetadataBytes(merged));
                var updatedAt = ToMicros(now);
                await session.ExecuteAsync(
                    _dialect.Upsert(
                        "object_metadata", "object_id, \"key\", value_json, updated_at", "@ObjectId, @Key, @Json, @UpdatedAt", "object_id, \"key\"",
                        "value_json", "updated_at"),
                    values.Select(entry => new { ObjectId = objectId, entry.Key, Json = entry.Value, UpdatedAt = updatedAt }), cancellationToken).ConfigureAwait(false);
                await AppendChangeAsync(
            session, location.Namespace, ChangeObjectKinds.Metadata, objectId, ChangeType.Updated, now,
                    ChangeStateJson.Metadata(objectId, ChangeObjectKinds.Of(location.Kind), values, [], now), cancellationToken).ConfigureAwait(false);
                return new MetadataWriteResult(values.Count, now);
            },
            cancellationToken);
    }

    public Task<IReadOnlyDictionary<string, string>?> ListMetadataAsync(string objectId, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyDictionary<string, string>?>(
            async session =>
            {
                var location = await LocateAsync(session, objectId, cancellationToken).ConfigureAwait(false);
                return location is null || location.Deleted
                    ? null
                    : await LoadMetadataAsync(session, objectId, cancellationToken).ConfigureAwait(false);
            },
            cancellationToken);

    public Task<MetadataWriteResult?> DeleteMetadataAsync(
        string objectId, IReadOnlyCollection<string> keys, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return WriteAsync<MetadataWriteResult?>(
            async session =>
            {
                var location = await LocateAsync(session, objectId, cancellationToken).ConfigureAwait(false);
                if (location is null || location.Deleted)
                {
                    return null;
                }

                if (keys.Count == 0)
                {
                    return new MetadataWriteResult(0, now);
                }

                var parameters = new { ObjectId = objectId, Keys = keys.ToArray() };
                var deleted = (await session.QueryAsync<string>(
                    "SELECT \"key\" FROM object_metadata WHERE object_id = @ObjectId AND " + _dialect.InList("\"key\"", "@Keys") + _dialect.ForUpdate, parameters, cancellationToken)
                    .ConfigureAwait(false)).Order(StringComparer.Ordinal).ToList();
                if (deleted.Count > 0)
                {
                    await session.ExecuteAsync("DELETE FROM object_metadata WHERE object_id = @ObjectId AND " + _dialect.InList("\"key\"", "@Keys"), parameters, cancellationToken)
                        .ConfigureAwait(false);
                }

                if (deleted.Count > 0)
                {
                    await AppendChangeAsync(
            session, location.Namespace, ChangeObjectKinds.Metadata, objectId, ChangeType.Updated, now,
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
            async session =>
            {
                var parent = await LocateAsync(session, loggedEvent.ParentId, cancellationToken).ConfigureAwait(false);
                if (parent is null || parent.Deleted)
                {
                    return false;
                }

                await InsertEventAsync(session, loggedEvent, parent.Namespace, cancellationToken).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    /// <summary>Stores an event and its change record in the caller's write transaction (logged events and audit events alike).</summary>
    private static async Task InsertEventAsync(DbSession session, LoggedEvent loggedEvent, string @namespace, CancellationToken cancellationToken)
    {
        await session.ExecuteAsync(
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
            }, cancellationToken).ConfigureAwait(false);
        await InsertMetadataAsync(session, loggedEvent.Id, loggedEvent.Metadata, loggedEvent.CreatedAt, cancellationToken)
            .ConfigureAwait(false);
        await AppendChangeAsync(
            session, @namespace, ChangeObjectKinds.Event, loggedEvent.Id, ChangeType.Created, loggedEvent.CreatedAt,
            ChangeStateJson.Event(loggedEvent), cancellationToken).ConfigureAwait(false);
    }

    public async Task<Page<LoggedEvent>?> ListEventsAsync(
        string parentId, long? sinceUnixNanos, PageRequest page, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(page);
        var after = DecodeToken(page, 2);
        var sql = $"SELECT {EventColumns} FROM events WHERE parent_id = @ParentId"
            + (sinceUnixNanos is null ? string.Empty : " AND wallclock_ns > @Since")
            + (after is null ? string.Empty : " AND " + _dialect.KeysetAfter(greater: true, ("wallclock_ns", "@AfterWallclock"), ("id", "@AfterId")))
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
            async session =>
            {
                var parent = await LocateAsync(session, parentId, cancellationToken).ConfigureAwait(false);
                if (parent is null || parent.Deleted)
                {
                    return null;
                }

                var rows = (await session.QueryAsync<EventRow>(sql, parameters, cancellationToken).ConfigureAwait(false)).AsList();
                var items = ToPage(rows, page, row => row, row => [Key(row.WallclockNs), row.Id]);
                var metadata = await LoadMetadataAsync(session, items.Items.Select(row => row.Id).ToList(), cancellationToken)
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
