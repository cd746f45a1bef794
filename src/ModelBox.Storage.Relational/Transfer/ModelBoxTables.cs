using System.Data.Common;
using Dapper;

namespace ModelBox.Storage.Relational.Transfer;

/// <summary>A table whose rows backup, restore and copy-data carry, with the key they read it in order of.</summary>
/// <param name="Name">The table name as the migrations create it.</param>
/// <param name="Key">The primary key columns: rows are read in this order and resumed after the last one copied.</param>
/// <param name="Identity">A column the database numbers itself, whose counter must move past the copied values.</param>
public sealed record TransferTable(string Name, IReadOnlyList<string> Key, string? Identity = null);

/// <summary>
/// The one list of ModelBox's tables that backup, restore, copy-data and verify know. A migration that adds a table must
/// add it here too: every tool compares this list with the migrated schema and refuses to run (naming the table) when the
/// database has a table that is in neither list, so a new table is never silently left behind.
/// </summary>
public static class ModelBoxTables
{
    /// <summary>The data tables in foreign-key order: each comes after every table it references.</summary>
    public static IReadOnlyList<TransferTable> Data { get; } =
    [
        new("namespaces", ["name"]),
        new("experiments", ["id"]),
        new("checkpoints", ["id"]),
        new("models", ["id"]),
        new("model_versions", ["id"]),
        new("object_metadata", ["object_id", "key"]),
        new("changes", ["sequence"]),
        new("events", ["id"]),
        new("files", ["id"]),
        new("metric_series", ["id"], Identity: "id"),
        new("metric_points", ["series_id", "step", "time", "seq"]),
        new("metric_summaries", ["series_id", "step_shift", "bucket"]),
        new("metric_summary_backlog", ["series_id"]),
        new("metric_batches", ["batch_id"]),
        new("object_labels", ["object_id", "label_key"]),
        new("model_aliases", ["model_id", "alias"]),
        new("datasets", ["id"]),
        new("dataset_versions", ["id"]),
        new("lineage_edges", ["subject_id", "relation", "target_id", "role"]),
        new("mlflow_experiments", ["number"]),
        new("principals", ["id"]),
        new("group_members", ["group_id", "member_id"]),
        new("api_tokens", ["prefix"]),
        new("access_grants", ["principal_id", "namespace"]),
    ];

    /// <summary>The table copy-data keeps its progress in, in the target, while a copy runs (dropped when it finishes).</summary>
    public const string CopyProgressTable = "modelbox_copy_progress";

    /// <summary>
    /// Tables that hold no data of their own: FluentMigrator's version table (the target's own migrations write it), the
    /// change counter (set from the copied change log), the access version (a cache-invalidation counter the target's own
    /// migration starts), the blob reference locks (rows taken on demand), copy-data's
    /// progress, and SQLite's internal tables.
    /// </summary>
    private static readonly HashSet<string> NotData = new(StringComparer.OrdinalIgnoreCase)
    {
        "VersionInfo", "change_counter", "access_version", "blob_locks", CopyProgressTable, "sqlite_sequence", "sqlite_stat1", "sqlite_stat4",
    };

    /// <summary>The data table named <paramref name="name"/>.</summary>
    public static TransferTable Get(string name) =>
        Data.FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.Ordinal))
        ?? throw new UnknownTableException($"table '{name}' is not one of ModelBox's data tables");

    /// <summary>The base tables of the database <paramref name="connection"/> is in.</summary>
    public static async Task<IReadOnlyList<string>> ListAsync(
        SqlDialect dialect, DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dialect);
        var tables = await connection.QueryAsync<string>(
            new CommandDefinition(dialect.ListTablesSql, transaction: transaction, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return tables.ToList();
    }

    /// <summary>
    /// Throws <see cref="UnknownTableException"/> when the database has a table this list does not know (a migration added
    /// it without adding it here) or lacks one of <see cref="Data"/> (a schema older or newer than this build).
    /// </summary>
    public static async Task RequireKnownSchemaAsync(
        SqlDialect dialect, DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        var tables = await ListAsync(dialect, connection, transaction, cancellationToken).ConfigureAwait(false);
        var unknown = tables.Where(t => !NotData.Contains(t) && !Data.Any(d => string.Equals(d.Name, t, StringComparison.Ordinal))).ToList();
        if (unknown.Count > 0)
        {
            throw new UnknownTableException(
                $"the {dialect.Name} database has table(s) this build does not know how to copy: {string.Join(", ", unknown)} "
                + "(add them to ModelBoxTables.Data, or use the ModelBox build that created them)");
        }

        var missing = Data.Where(d => !tables.Contains(d.Name, StringComparer.Ordinal)).Select(d => d.Name).ToList();
        if (missing.Count > 0)
        {
            throw new UnknownTableException(
                $"the {dialect.Name} database lacks table(s) {string.Join(", ", missing)}: run `modelbox server migrate` on it first");
        }
    }

    /// <summary>A double-quoted identifier (the dialect translates the quotes where it needs others).</summary>
    internal static string Quote(string identifier) => "\"" + identifier + "\"";
}

/// <summary>The database's tables differ from the ones this build knows.</summary>
public sealed class UnknownTableException(string message) : Exception(message);
