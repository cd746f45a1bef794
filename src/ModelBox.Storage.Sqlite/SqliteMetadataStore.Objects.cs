using Dapper;
using ModelBox.Domain;

namespace ModelBox.Storage.Sqlite;

public sealed partial class SqliteMetadataStore
{
    public async Task<ObjectRef?> FindObjectAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (!ObjectIds.TryGetKind(id, out var kind))
        {
            return null;
        }

        // Children live in their parent's namespace and are hidden when the parent is deleted.
        var sql = kind switch
        {
            ObjectKind.Experiment => "SELECT namespace AS Namespace, deleted_at AS DeletedAt FROM experiments WHERE id = @Id",
            ObjectKind.Model => "SELECT namespace AS Namespace, deleted_at AS DeletedAt FROM models WHERE id = @Id",
            ObjectKind.Checkpoint => "SELECT e.namespace AS Namespace, COALESCE(c.deleted_at, e.deleted_at) AS DeletedAt "
                + "FROM checkpoints c JOIN experiments e ON e.id = c.experiment_id WHERE c.id = @Id",
            ObjectKind.ModelVersion => "SELECT m.namespace AS Namespace, COALESCE(v.deleted_at, m.deleted_at) AS DeletedAt "
                + "FROM model_versions v JOIN models m ON m.id = v.model_id WHERE v.id = @Id",
            _ => null,
        };
        if (sql is null)
        {
            return null;
        }

        var row = await ReadAsync(
            (connection, transaction) => connection.QuerySingleOrDefaultAsync<ObjectRow>(Command(sql, new { Id = id }, transaction, cancellationToken)),
            cancellationToken).ConfigureAwait(false);
        return row is null ? null : new ObjectRef(id, kind, row.Namespace, row.DeletedAt is not null);
    }

    private sealed class ObjectRow
    {
        public string Namespace { get; set; } = string.Empty;
        public long? DeletedAt { get; set; }
    }
}
