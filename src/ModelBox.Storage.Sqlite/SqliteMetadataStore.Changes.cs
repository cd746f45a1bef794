using Dapper;
using Microsoft.Data.Sqlite;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using static ModelBox.Storage.Sqlite.SqliteValues;

namespace ModelBox.Storage.Sqlite;

// The change log: appended inside each write transaction (a transactional outbox), read by the change feed.
public sealed partial class SqliteMetadataStore : IChangeLog
{
    private const string ChangeColumns =
        "sequence AS Sequence, namespace AS Namespace, object_kind AS ObjectKind, object_id AS ObjectId, change AS Change, "
        + "changed_at AS ChangedAt, state_json AS StateJson";

    // Namespaces that got change records in the write transaction in progress; guarded by _writeLock, which every
    // write holds, and turned into wake-ups only after the commit (a wake-up before it would find nothing to read).
    private readonly HashSet<string> _changedNamespaces = new(StringComparer.Ordinal);

    /// <summary>The wake-up signal this store raises after each commit that appended change records.</summary>
    public IChangeSignal ChangeSignal => _changeSignal;

    public Task<IReadOnlyList<ChangeRecord>> ReadChangesAsync(
        string @namespace, long afterSequence, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        return ReadAsync<IReadOnlyList<ChangeRecord>>(
            async (connection, transaction) =>
            {
                var rows = await connection.QueryAsync<ChangeRow>(Command(
                    $"SELECT {ChangeColumns} FROM changes WHERE namespace = @Namespace AND sequence > @After ORDER BY sequence LIMIT @Limit",
                    new { Namespace = @namespace, After = afterSequence, Limit = limit },
                    transaction,
                    cancellationToken)).ConfigureAwait(false);
                return rows.Select(row => row.ToChangeRecord()).ToList();
            },
            cancellationToken);
    }

    public Task<long> ReadLastSequenceAsync(CancellationToken cancellationToken = default) =>
        ReadAsync(
            (connection, transaction) => connection.ExecuteScalarAsync<long>(Command(
                "SELECT COALESCE(MAX(sequence), 0) FROM changes", null, transaction, cancellationToken)),
            cancellationToken);

    /// <summary>
    /// Appends a change record in the caller's write transaction, so the record commits (or rolls back) with the change.
    /// Call it only from inside <see cref="WriteAsync{T}"/>: the write lock orders the sequence numbers, and the wake-up is
    /// raised after that method commits.
    /// </summary>
    internal async Task AppendChangeAsync(
        SqliteConnection connection, SqliteTransaction transaction, ChangeRecordDraft change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        // No sequence given: SQLite assigns rowid = max + 1 under the database write lock, i.e. in commit order.
        await connection.ExecuteAsync(Command(
            """
            INSERT INTO changes (namespace, object_kind, object_id, change, changed_at, state_json)
            VALUES (@Namespace, @ObjectKind, @ObjectId, @Change, @ChangedAt, @StateJson)
            """,
            new
            {
                change.Namespace,
                change.ObjectKind,
                change.ObjectId,
                Change = ChangeName(change.Change),
                ChangedAt = ToMicros(change.ChangedAt),
                change.StateJson,
            },
            transaction,
            cancellationToken)).ConfigureAwait(false);
        _changedNamespaces.Add(change.Namespace);
    }

    private Task AppendChangeAsync(
        SqliteConnection connection,
        SqliteTransaction transaction,
        string @namespace,
        string objectKind,
        string objectId,
        ChangeType change,
        DateTimeOffset changedAt,
        string stateJson,
        CancellationToken cancellationToken) =>
        AppendChangeAsync(connection, transaction, new ChangeRecordDraft(@namespace, objectKind, objectId, change, changedAt, stateJson), cancellationToken);

    /// <summary>Wakes the watchers of every namespace the committed transaction changed.</summary>
    private void PublishChanges()
    {
        foreach (var @namespace in _changedNamespaces)
        {
            _changeSignal.Notify(@namespace);
        }

        _changedNamespaces.Clear();
    }

    /// <summary>Where an object is (its kind and namespace, and whether it or an ancestor is deleted); null when unknown.</summary>
    internal static async Task<ObjectRef?> LocateAsync(
        SqliteConnection connection, SqliteTransaction transaction, string id, CancellationToken cancellationToken)
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

        var row = await connection.QuerySingleOrDefaultAsync<LocationRow>(Command(sql, new { Id = id }, transaction, cancellationToken))
            .ConfigureAwait(false);
        if (row is null)
        {
            return null;
        }

        var deleted = row.DeletedAt is not null;
        if (row.ParentId is not null)
        {
            // An event is hidden with the object it belongs to.
            var parent = await LocateAsync(connection, transaction, row.ParentId, cancellationToken).ConfigureAwait(false);
            deleted = parent is null || parent.Deleted;
        }

        return new ObjectRef(id, kind, row.Namespace, deleted);
    }

    private static string ChangeName(ChangeType change) => change switch
    {
        ChangeType.Created => "created",
        ChangeType.Updated => "updated",
        ChangeType.Deleted => "deleted",
        _ => throw new ArgumentOutOfRangeException(nameof(change)),
    };

    private static ChangeType ParseChange(string change) => change switch
    {
        "created" => ChangeType.Created,
        "updated" => ChangeType.Updated,
        "deleted" => ChangeType.Deleted,
        _ => throw new InvalidOperationException($"unknown change '{change}' in the change log"),
    };

    private sealed class ChangeRow
    {
        public long Sequence { get; set; }
        public string Namespace { get; set; } = string.Empty;
        public string ObjectKind { get; set; } = string.Empty;
        public string ObjectId { get; set; } = string.Empty;
        public string Change { get; set; } = string.Empty;
        public long ChangedAt { get; set; }
        public string StateJson { get; set; } = string.Empty;

        public ChangeRecord ToChangeRecord() =>
            new(Sequence, Namespace, ObjectKind, ObjectId, ParseChange(Change), FromMicros(ChangedAt), StateJson);
    }

    private sealed class LocationRow
    {
        public string Namespace { get; set; } = string.Empty;
        public long? DeletedAt { get; set; }
        public string? ParentId { get; set; }
    }
}
