using ModelBox.Domain;

namespace ModelBox.Storage.Relational;

// Where any object is: its kind and namespace from its id, for the writes that accept any object as parent (metadata,
// events, files, lineage) and for the domain's lookups.
public sealed partial class RelationalMetadataStore
{
    /// <summary>Where an object is (its kind and namespace, and whether it or an ancestor is deleted); null when unknown.</summary>
    internal static async Task<ObjectRef?> LocateAsync(DbSession session, string id, CancellationToken cancellationToken)
    {
        if (!ObjectIds.TryGetKind(id, out var kind))
        {
            return null;
        }

        var sql = kind switch
        {
            ObjectKind.Experiment => "SELECT namespace AS Namespace, deleted_at AS DeletedAt, NULL AS ParentId FROM experiments WHERE id = @Id",
            ObjectKind.Model => "SELECT namespace AS Namespace, deleted_at AS DeletedAt, NULL AS ParentId FROM models WHERE id = @Id",
            ObjectKind.Checkpoint =>
                "SELECT e.namespace AS Namespace, COALESCE(c.deleted_at, e.deleted_at) AS DeletedAt, NULL AS ParentId "
                + "FROM checkpoints c JOIN experiments e ON e.id = c.experiment_id WHERE c.id = @Id",
            ObjectKind.ModelVersion =>
                "SELECT m.namespace AS Namespace, COALESCE(v.deleted_at, m.deleted_at) AS DeletedAt, NULL AS ParentId "
                + "FROM model_versions v JOIN models m ON m.id = v.model_id WHERE v.id = @Id",
            ObjectKind.Event => "SELECT namespace AS Namespace, NULL AS DeletedAt, parent_id AS ParentId FROM events WHERE id = @Id",
            ObjectKind.Dataset => "SELECT namespace AS Namespace, deleted_at AS DeletedAt, NULL AS ParentId FROM datasets WHERE id = @Id",
            ObjectKind.DatasetVersion =>
                "SELECT d.namespace AS Namespace, d.deleted_at AS DeletedAt, NULL AS ParentId "
                + "FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id WHERE v.id = @Id",
            _ => null,
        };
        if (sql is null)
        {
            return null;
        }

        var row = await session.QuerySingleOrDefaultAsync<LocationRow>(sql, new { Id = id }, cancellationToken).ConfigureAwait(false);
        if (row is null)
        {
            return null;
        }

        var deleted = row.DeletedAt is not null;
        if (row.ParentId is not null)
        {
            // An event is hidden with the object it belongs to.
            var parent = await LocateAsync(session, row.ParentId, cancellationToken).ConfigureAwait(false);
            deleted = parent is null || parent.Deleted;
        }

        return new ObjectRef(id, kind, row.Namespace, deleted);
    }

    public Task<ObjectRef?> FindObjectAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return ReadAsync(session => LocateAsync(session, id, cancellationToken), cancellationToken);
    }

    private sealed class LocationRow
    {
        public string Namespace { get; set; } = string.Empty;
        public long? DeletedAt { get; set; }
        public string? ParentId { get; set; }
    }
}
