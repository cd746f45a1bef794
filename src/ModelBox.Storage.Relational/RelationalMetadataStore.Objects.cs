using ModelBox.Domain;

namespace ModelBox.Storage.Relational;

// Where any object is: its kind and namespace from its id, for the writes that accept any object as parent (metadata,
// events, files, lineage) and for the domain's lookups.
public sealed partial class RelationalMetadataStore
{
    /// <summary>Ids per query of <see cref="LocateManyAsync"/>: well within every database's limit on parameters.</summary>
    private const int LocateChunk = 500;

    /// <summary>Where an object is (its kind and namespace, and whether it or an ancestor is deleted); null when unknown.</summary>
    internal static async Task<ObjectRef?> LocateAsync(DbSession session, string id, CancellationToken cancellationToken) =>
        (await LocateManyAsync(session, [id], cancellationToken).ConfigureAwait(false)).GetValueOrDefault(id);

    /// <summary>Where objects are (see <see cref="LocateAsync"/>): one query per kind (and per few hundred ids), not one per id.</summary>
    internal static async Task<Dictionary<string, ObjectRef>> LocateManyAsync(
        DbSession session, IEnumerable<string> ids, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, ObjectRef>(StringComparer.Ordinal);
        var byKind = ids.Distinct(StringComparer.Ordinal)
            .Select(id => (Id: id, Kind: ObjectIds.TryGetKind(id, out var kind) ? kind : (ObjectKind?)null))
            .Where(entry => entry.Kind is { } kind && LocationSource(kind) is not null)
            .GroupBy(entry => entry.Kind!.Value, entry => entry.Id);
        var withParents = new List<(string Id, ObjectKind Kind, LocationRow Row)>();
        foreach (var group in byKind)
        {
            var source = LocationSource(group.Key)!.Value;
            var sql = $"SELECT {source.IdColumn} AS Id, {source.Columns} FROM {source.From} WHERE {session.Dialect.InList(source.IdColumn, "@Ids")}";
            foreach (var chunk in group.Chunk(LocateChunk))
            {
                foreach (var row in await session.QueryAsync<LocationRow>(sql, new { Ids = chunk }, cancellationToken).ConfigureAwait(false))
                {
                    if (row.ParentId is null)
                    {
                        found[row.Id] = new ObjectRef(row.Id, group.Key, row.Namespace, row.DeletedAt is not null);
                    }
                    else
                    {
                        withParents.Add((row.Id, group.Key, row));
                    }
                }
            }
        }

        if (withParents.Count > 0)
        {
            // An event is hidden with the object it belongs to.
            var parents = await LocateManyAsync(session, withParents.Select(e => e.Row.ParentId!), cancellationToken).ConfigureAwait(false);
            foreach (var (id, kind, row) in withParents)
            {
                var deleted = !parents.TryGetValue(row.ParentId!, out var parent) || parent.Deleted;
                found[id] = new ObjectRef(id, kind, row.Namespace, deleted);
            }
        }

        return found;
    }

    /// <summary>Where the location of an object of <paramref name="kind"/> is read from; null for kinds it is not kept for.</summary>
    private static (string Columns, string From, string IdColumn)? LocationSource(ObjectKind kind) => kind switch
    {
        ObjectKind.Experiment => ("namespace AS Namespace, deleted_at AS DeletedAt, NULL AS ParentId", "experiments", "id"),
        ObjectKind.Model => ("namespace AS Namespace, deleted_at AS DeletedAt, NULL AS ParentId", "models", "id"),
        ObjectKind.Checkpoint => (
            "e.namespace AS Namespace, COALESCE(c.deleted_at, e.deleted_at) AS DeletedAt, NULL AS ParentId",
            "checkpoints c JOIN experiments e ON e.id = c.experiment_id", "c.id"),
        ObjectKind.ModelVersion => (
            "m.namespace AS Namespace, COALESCE(v.deleted_at, m.deleted_at) AS DeletedAt, NULL AS ParentId",
            "model_versions v JOIN models m ON m.id = v.model_id", "v.id"),
        ObjectKind.Event => ("namespace AS Namespace, NULL AS DeletedAt, parent_id AS ParentId", "events", "id"),
        ObjectKind.Dataset => ("namespace AS Namespace, deleted_at AS DeletedAt, NULL AS ParentId", "datasets", "id"),
        ObjectKind.DatasetVersion => (
            "d.namespace AS Namespace, d.deleted_at AS DeletedAt, NULL AS ParentId",
            "dataset_versions v JOIN datasets d ON d.id = v.dataset_id", "v.id"),
        _ => null,
    };

    public Task<ObjectRef?> FindObjectAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return ReadAsync(session => LocateAsync(session, id, cancellationToken), cancellationToken);
    }

    public async Task<IReadOnlyDictionary<string, ObjectRef>> FindObjectsAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0)
        {
            return new Dictionary<string, ObjectRef>(StringComparer.Ordinal);
        }

        return await ReadAsync(session => LocateManyAsync(session, ids, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    private sealed class LocationRow
    {
        public string Id { get; set; } = string.Empty;
        public string Namespace { get; set; } = string.Empty;
        public long? DeletedAt { get; set; }
        public string? ParentId { get; set; }
    }
}
