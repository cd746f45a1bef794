using System.Data;
using FluentMigrator;

namespace ModelBox.Storage.Migrations;

/// <summary>
/// MySQL/MariaDB: text compares with a NO PAD binary collation. Migration 1 chose utf8mb4_bin, which is PAD SPACE on
/// MariaDB and MySQL 5.7: "loss" and "loss " compared equal, so two metric keys (or label values, metadata keys) that
/// differ only in trailing spaces collided in unique keys and matched each other in lookups. MariaDB has
/// utf8mb4_nopad_bin; MySQL 8 has utf8mb4_0900_bin. Every table is converted (which rebuilds it), and the database
/// default changes so tables created later follow. SQLite and PostgreSQL ("C" collation) never padded; nothing to do.
/// </summary>
[Migration(7, "NO PAD binary collation")]
[ChangesOnly("mysql")]
public sealed class M0007_NoPadCollation : Migration
{
    public override void Up() =>
        IfDatabase(Dialects.IsMySql).Execute.WithConnection((connection, transaction) =>
        {
            var version = Scalar(connection, transaction, "SELECT VERSION()");
            var collation = version.Contains("MariaDB", StringComparison.OrdinalIgnoreCase) ? "utf8mb4_nopad_bin" : "utf8mb4_0900_bin";
            var tables = new List<string>();
            using (var command = connection.CreateCommand())
            {
                command.Transaction = transaction;
                command.CommandText = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'";
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    tables.Add(reader.GetString(0));
                }
            }

            // MariaDB will not change the collation of a column a foreign key uses (even with the checks off): the foreign
            // keys are dropped, the tables converted, and the same foreign keys created again.
            var foreignKeys = ForeignKeys(connection, transaction);
            foreach (var key in foreignKeys)
            {
                Run(connection, transaction, $"ALTER TABLE {Quote(key.Table)} DROP FOREIGN KEY {Quote(key.Name)}");
            }

            Run(connection, transaction, $"ALTER DATABASE CHARACTER SET utf8mb4 COLLATE {collation}");
            foreach (var table in tables)
            {
                Run(connection, transaction, $"ALTER TABLE {Quote(table)} CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}");
            }

            foreach (var key in foreignKeys)
            {
                Run(connection, transaction,
                    $"ALTER TABLE {Quote(key.Table)} ADD CONSTRAINT {Quote(key.Name)} FOREIGN KEY ({string.Join(", ", key.Columns.Select(Quote))}) "
                    + $"REFERENCES {Quote(key.ReferencedTable)} ({string.Join(", ", key.ReferencedColumns.Select(Quote))}) "
                    + $"ON DELETE {key.OnDelete} ON UPDATE {key.OnUpdate}");
            }
        });

    public override void Down()
    {
        // Going back to PAD SPACE could merge distinct keys; not supported.
    }

    private sealed record ForeignKey(
        string Name, string Table, List<string> Columns, string ReferencedTable, List<string> ReferencedColumns, string OnDelete, string OnUpdate);

    private static List<ForeignKey> ForeignKeys(IDbConnection connection, IDbTransaction transaction)
    {
        var keys = new List<ForeignKey>();
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText =
            "SELECT k.constraint_name, k.table_name, k.column_name, k.referenced_table_name, k.referenced_column_name, r.delete_rule, r.update_rule "
            + "FROM information_schema.key_column_usage k JOIN information_schema.referential_constraints r "
            + "ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name AND r.table_name = k.table_name "
            + "WHERE k.table_schema = DATABASE() AND k.referenced_table_name IS NOT NULL "
            + "ORDER BY k.table_name, k.constraint_name, k.ordinal_position";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var (name, table) = (reader.GetString(0), reader.GetString(1));
            if (keys.Count == 0 || keys[^1].Name != name || keys[^1].Table != table)
            {
                keys.Add(new ForeignKey(name, table, [], reader.GetString(3), [], reader.GetString(5), reader.GetString(6)));
            }

            keys[^1].Columns.Add(reader.GetString(2));
            keys[^1].ReferencedColumns.Add(reader.GetString(4));
        }

        return keys;
    }

    private static string Quote(string identifier) => "`" + identifier.Replace("`", "``", StringComparison.Ordinal) + "`";

    private static string Scalar(IDbConnection connection, IDbTransaction transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return Convert.ToString(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty;
    }

    private static void Run(IDbConnection connection, IDbTransaction transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
