using FluentMigrator;

namespace ModelBox.Storage.Migrations;

/// <summary>
/// Metric series and their points. (object, key) maps once to an integer series id; points are keyed by
/// (series, step, time, seq) so a series is one contiguous key range, read in order by a range seek. On SQLite the
/// points table is WITHOUT ROWID: the primary key is the table, no second b-tree and no rowid to maintain (measured
/// in bench/ModelBox.Benchmarks metrics-layout: 1.6x the insert rate of text keys and a quarter of the file size).
/// <c>point_count</c> counts a series' points; it also hands out <c>seq</c>, which tells apart points logged with the
/// same step and time. Values: <c>kind</c> 1 float, 2 double (in <c>num</c>; a non-finite value is NULL there and spelled
/// in <c>txt</c>, see migration 8), 3 string tensor (<c>txt</c>), 4 bytes tensor (<c>bin</c>).
/// </summary>
[Migration(4, "metric series and points")]
public sealed class M0004_MetricSeries : Migration
{
    public override void Up()
    {
        Create.Table("metric_series")
            .WithColumn("id").AsInt64().NotNullable().PrimaryKey().Identity()
            .WithColumn("parent_id").AsAnsiString(Lengths.Id).NotNullable()
            .WithColumn("key").AsAnsiString(Lengths.Name).NotNullable()
            .WithColumn("point_count").AsInt64().NotNullable();
        Create.Index("ux_metric_series_parent_key").OnTable("metric_series")
            .OnColumn("parent_id").Ascending()
            .OnColumn("key").Ascending()
            .WithOptions().Unique();

        IfDatabase("SQLite").Execute.Sql(
            "CREATE TABLE metric_points (series_id INTEGER NOT NULL, step INTEGER NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL, "
            + "kind INTEGER NOT NULL, num REAL, txt TEXT, bin BLOB, PRIMARY KEY (series_id, step, time, seq)) WITHOUT ROWID;");
        IfDatabase(type => !Dialects.IsSqlite(type)).Create.Table("metric_points")
            .WithColumn("series_id").AsInt64().NotNullable().PrimaryKey()
            .WithColumn("step").AsInt64().NotNullable().PrimaryKey()
            .WithColumn("time").AsInt64().NotNullable().PrimaryKey()
            .WithColumn("seq").AsInt64().NotNullable().PrimaryKey()
            .WithColumn("kind").AsInt16().NotNullable()
            .WithColumn("num").AsDouble().Nullable()
            .WithColumn("txt").AsAnsiString(int.MaxValue).Nullable()
            .WithColumn("bin").AsBinary(int.MaxValue).Nullable();

        Dialects.BinaryText(this, "metric_series", ("parent_id", Lengths.Id), ("key", Lengths.Name));
    }

    public override void Down()
    {
        Delete.Table("metric_points");
        Delete.Table("metric_series");
    }
}
