using System.Reflection;
using FluentMigrator;

namespace ModelBox.Storage.Migrations;

/// <summary>Where the migrations are and the newest schema version this build knows.</summary>
public static class SchemaMigrations
{
    /// <summary>The assembly a migration runner scans.</summary>
    public static Assembly Assembly { get; } = typeof(SchemaMigrations).Assembly;

    /// <summary>The versions of every migration in <see cref="Assembly"/>, ascending.</summary>
    public static IReadOnlyList<long> Versions { get; } = [.. Assembly.GetTypes()
        .Select(type => type.GetCustomAttribute<MigrationAttribute>()?.Version)
        .OfType<long>()
        .Order()];

    /// <summary>The version of the newest migration in <see cref="Assembly"/>.</summary>
    public static long LatestVersion => Versions[^1];

    /// <summary>The table FluentMigrator records applied versions in (its default name).</summary>
    public const string VersionTable = "VersionInfo";

    /// <summary>
    /// Whether <paramref name="migration"/> changes anything on <paramref name="backend"/> (a dialect name: sqlite,
    /// postgres, mysql); a migration without <see cref="ChangesOnlyAttribute"/> changes every backend.
    /// </summary>
    public static bool Changes(Type migration, string backend)
    {
        ArgumentNullException.ThrowIfNull(migration);
        return migration.GetCustomAttribute<ChangesOnlyAttribute>() is not { } only
            || only.Backends.Contains(backend, StringComparer.Ordinal);
    }
}

/// <summary>
/// The backends a migration changes anything on; on the others it only records its version (so operators are not told
/// that a MySQL collation was applied to their SQLite file).
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class ChangesOnlyAttribute(params string[] backends) : Attribute
{
    /// <summary>Dialect names: sqlite, postgres, mysql.</summary>
    public IReadOnlyList<string> Backends { get; } = backends;
}

/// <summary>
/// Column lengths of the indexed text columns (MySQL needs bounded VARCHARs to index them). Text columns are declared
/// with AsAnsiString: on MySQL AsString means NVARCHAR, which pins the 3-byte utf8 character set and a case-insensitive
/// collation; VARCHAR takes the database default set in migration 1 (utf8mb4, binary). SQLite and PostgreSQL store both
/// the same way (TEXT, varchar), in UTF-8.
/// </summary>
internal static class Lengths
{
    /// <summary>Object ids: a kind prefix and 32 hex digits, or an event id; far below this.</summary>
    public const int Id = 64;

    /// <summary>Namespaces, names and keys (Validation.MaxNameLength, Validation.MaxMetadataKeyLength).</summary>
    public const int Name = 256;

    /// <summary>A SHA-256 in hex, or a longer digest spelling.</summary>
    public const int Hash = 128;

    /// <summary>Short enumerations spelled as text (change kinds, object kinds).</summary>
    public const int Tag = 32;

    /// <summary>Unbounded text (JSON, descriptions): TEXT on SQLite and PostgreSQL, LONGTEXT on MySQL.</summary>
    public const int Text = int.MaxValue;
}

/// <summary>Dialect differences the fluent API cannot say by itself.</summary>
internal static class Dialects
{
    public static bool IsSqlite(string databaseType) => databaseType.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase);

    public static bool IsPostgres(string databaseType) => databaseType.StartsWith("Postgres", StringComparison.OrdinalIgnoreCase);

    public static bool IsMySql(string databaseType) =>
        databaseType.StartsWith("MySql", StringComparison.OrdinalIgnoreCase) || databaseType.StartsWith("MariaDB", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// MySQL: every table created from here on stores UTF-8 and compares it byte by byte, as SQLite does. Ids and names
    /// are case-sensitive keys (MySQL's default collations are case-insensitive: "Run" and "run" would collide), and
    /// listings order the same on every backend. Set on the database before the first table, so that foreign keys
    /// join columns of one collation.
    /// </summary>
    public static void BinaryTextByDefault(Migration migration) =>
        migration.IfDatabase(IsMySql).Execute.Sql("ALTER DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");

    /// <summary>PostgreSQL: the key columns of a table compare byte by byte (collation "C"), whatever the database's locale.</summary>
    public static void BinaryText(Migration migration, string table, params (string Column, int Length)[] keyColumns)
    {
        foreach (var (column, length) in keyColumns)
        {
            migration.IfDatabase(IsPostgres).Execute.Sql(
                $"ALTER TABLE \"{table}\" ALTER COLUMN \"{column}\" TYPE varchar({length}) COLLATE \"C\"");
        }
    }
}
