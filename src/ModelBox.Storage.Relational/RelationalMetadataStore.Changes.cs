using System.Collections.Concurrent;
using System.Text;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using static ModelBox.Storage.Relational.RelationalValues;

namespace ModelBox.Storage.Relational;

// The change log: appended at the end of each write transaction (a transactional outbox), read by the change feed.
public sealed partial class RelationalMetadataStore
{
    private const string ChangeColumns =
        "sequence AS Sequence, namespace AS Namespace, object_kind AS ObjectKind, object_id AS ObjectId, \"change\" AS \"Change\", "
        + "changed_at AS ChangedAt, state_json AS StateJson";

    public Task<IReadOnlyList<ChangeRecord>> ReadChangesAsync(
        NamespaceScope @namespace, long afterSequence, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        return ReadAsync<IReadOnlyList<ChangeRecord>>(
            async session =>
            {
                var rows = await session.QueryAsync<ChangeRow>(
                    $"SELECT {ChangeColumns} FROM changes WHERE " + InScope("namespace", @namespace) + " AND sequence > @After ORDER BY sequence LIMIT @Limit",
                    new
                    {
                        Namespace = @namespace.Root,
                        NamespaceFrom = @namespace.DescendantRange.From,
                        NamespaceBefore = @namespace.DescendantRange.Before,
                        After = afterSequence,
                        Limit = limit,
                    },
                    cancellationToken).ConfigureAwait(false);
                return rows.ConvertAll(row => row.ToChangeRecord());
            },
            cancellationToken);
    }

    public Task<ChangePage> ReadChangePageAsync(
        NamespaceScope @namespace, long afterSequence, int limit, long maxStateBytes, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxStateBytes, 1);
        return ReadAsync(
            async session =>
            {
                // Rows are read one at a time and the read stops at the first record that ends past the budget, so neither
                // this process nor the database materialises more than the page.
                long bytes = 0;
                var rows = await session.QueryWhileAsync<ChangeRow>(
                    $"SELECT {ChangeColumns} FROM changes WHERE " + InScope("namespace", @namespace) + " AND sequence > @After ORDER BY sequence LIMIT @Limit",
                    new
                    {
                        Namespace = @namespace.Root,
                        NamespaceFrom = @namespace.DescendantRange.From,
                        NamespaceBefore = @namespace.DescendantRange.Before,
                        After = afterSequence,
                        Limit = limit,
                    },
                    row => (bytes += row.StateJson.Length) < maxStateBytes,
                    cancellationToken).ConfigureAwait(false);
                return new ChangePage(rows.ConvertAll(row => row.ToChangeRecord()), rows.Count == limit || bytes >= maxStateBytes);
            },
            cancellationToken);
    }

    public Task<long> ReadLastSequenceAsync(CancellationToken cancellationToken = default) =>
        ReadAsync(
            async session => await session.ScalarAsync<long?>("SELECT MAX(sequence) FROM changes", null, cancellationToken).ConfigureAwait(false) ?? 0,
            cancellationToken);

    /// <summary>Queues a change record in the session; it is written with its sequence number just before the commit.</summary>
    private static Task AppendChangeAsync(
        DbSession session,
        string @namespace,
        string objectKind,
        string objectId,
        ChangeType change,
        DateTimeOffset changedAt,
        string stateJson,
        CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        session.AppendChange(new ChangeRecordDraft(@namespace, objectKind, objectId, change, changedAt, stateJson));
        return Task.CompletedTask;
    }

    /// <summary>
    /// Writes the session's change records with sequence numbers from the counter row, last thing before the commit: the
    /// counter's row lock orders the commits of change-producing transactions, and is held only from here to the commit.
    /// Returns the namespaces that changed.
    /// </summary>
    private async Task<HashSet<string>> WriteChangesAsync(DbSession session, CancellationToken cancellationToken)
    {
        var changes = session.Changes;
        var first = await _dialect.ReserveSequencesAsync(session.Connection, session.Transaction, changes.Count, cancellationToken).ConfigureAwait(false);
        var parameters = new List<(string Name, object? Value)>(changes.Count * 7);
        for (var i = 0; i < changes.Count; i++)
        {
            var change = changes[i];
            if (first is { } sequence)
            {
                parameters.Add(($"@S{i}", sequence + i));
            }

            parameters.Add(($"@N{i}", change.Namespace));
            parameters.Add(($"@K{i}", change.ObjectKind));
            parameters.Add(($"@O{i}", change.ObjectId));
            parameters.Add(($"@C{i}", ChangeName(change.Change)));
            parameters.Add(($"@T{i}", ToMicros(change.ChangedAt)));
            parameters.Add(($"@J{i}", change.StateJson));
        }

        await session.ExecuteCachedAsync(ChangeInsertSql(changes.Count, first is not null), parameters, cancellationToken).ConfigureAwait(false);
        var namespaces = changes.Select(change => change.Namespace).ToHashSet(StringComparer.Ordinal);
        await _dialect.NotifyChangesAsync(session.Connection, session.Transaction, namespaces, cancellationToken).ConfigureAwait(false);
        return namespaces;
    }

    private static readonly ConcurrentDictionary<(int Rows, bool WithSequence), string> ChangeInserts = new();

    /// <summary>The INSERT of <paramref name="rows"/> change records, with their sequence numbers or letting the insert assign them.</summary>
    private static string ChangeInsertSql(int rows, bool withSequence) => ChangeInserts.GetOrAdd((rows, withSequence), key =>
    {
        var sql = new StringBuilder("INSERT INTO changes (")
            .Append(key.WithSequence ? "sequence, " : string.Empty)
            .Append("namespace, object_kind, object_id, \"change\", changed_at, state_json) VALUES ");
        for (var i = 0; i < key.Rows; i++)
        {
            sql.Append(i == 0 ? "(" : ", (")
                .Append(key.WithSequence ? $"@S{i}, " : string.Empty)
                .Append($"@N{i}, @K{i}, @O{i}, @C{i}, @T{i}, @J{i})");
        }

        return sql.ToString();
    });

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
}
