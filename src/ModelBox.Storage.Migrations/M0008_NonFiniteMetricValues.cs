using FluentMigrator;

namespace ModelBox.Storage.Migrations;

/// <summary>
/// One spelling of non-finite metric values on every backend: <c>num</c> NULL and <c>txt</c> 'NaN', 'Infinity' or
/// '-Infinity' (MySQL has neither NaN nor infinity, so the server databases always spelled them this way). SQLite, which
/// once had its own store, kept NaN as a bare NULL and infinities as infinite REALs; its rows move to the common
/// spelling, and read back as the same doubles (NaN was never stored with a payload, so nothing is lost).
/// </summary>
[Migration(8, "one spelling of NaN and infinities in metric points")]
public sealed class M0008_NonFiniteMetricValues : Migration
{
    public override void Up()
    {
        // Kinds 1 and 2 are the numeric points (float, double); tensors keep their text and bytes.
        IfDatabase(Dialects.IsSqlite).Execute.Sql(
            "UPDATE metric_points SET txt = 'NaN' WHERE kind IN (1, 2) AND num IS NULL AND txt IS NULL;");
        IfDatabase(Dialects.IsSqlite).Execute.Sql(
            "UPDATE metric_points SET txt = CASE WHEN num > 0 THEN 'Infinity' ELSE '-Infinity' END, num = NULL "
            + "WHERE kind IN (1, 2) AND num IN (9e999, -9e999);");
    }

    public override void Down()
    {
        IfDatabase(Dialects.IsSqlite).Execute.Sql(
            "UPDATE metric_points SET num = CASE txt WHEN 'Infinity' THEN 9e999 ELSE -9e999 END, txt = NULL "
            + "WHERE kind IN (1, 2) AND txt IN ('Infinity', '-Infinity');");
        IfDatabase(Dialects.IsSqlite).Execute.Sql(
            "UPDATE metric_points SET txt = NULL WHERE kind IN (1, 2) AND num IS NULL AND txt = 'NaN';");
    }
}
