using FluentMigrator;

namespace ModelBox.Storage.Migrations;

/// <summary>
/// Metric summaries, kept at ingest in the transaction of the points: per series, per resolution <c>step_shift</c> (a
/// bucket holds the 2^step_shift steps <c>bucket &lt;&lt; step_shift</c> .. <c>((bucket + 1) &lt;&lt; step_shift) - 1</c>; shift
/// 63 is the whole series in bucket 0), the count, numeric count, NaN count, finite sum, and the first, last, lowest and
/// highest point (step, time, value). Values are finite numbers; <c>nonfinite</c> holds 2 bits per value (sum, first,
/// last, min, max: 0 finite, 1 NaN, 2 +∞, 3 -∞, the value column then 0), <c>kinds</c> 4 bits per point (first, last,
/// min, max: the point kind). Buckets are step ranges, not point counts, so a late or re-logged point lands in a known
/// bucket and is folded into it without reading other points; deleting raw points leaves the summaries as they were.
/// <c>metric_summary_backlog</c> lists the series that existed before this migration: the store builds their summaries
/// from their points at start-up and reads them from points until then.
/// </summary>
[Migration(10, "metric summaries")]
public sealed class M0010_MetricSummaries : Migration
{
    private static readonly string[] IntegerColumns =
    [
        "point_count", "num_count", "nan_count", "first_step", "first_time", "last_step", "last_time",
        "min_step", "min_time", "max_step", "max_time", "kinds", "nonfinite",
    ];

    private static readonly string[] RealColumns = ["num_sum", "first_val", "last_val", "min_val", "max_val"];

    public override void Up()
    {
        IfDatabase(Dialects.IsSqlite).Execute.Sql(
            "CREATE TABLE metric_summaries (series_id INTEGER NOT NULL, step_shift INTEGER NOT NULL, bucket INTEGER NOT NULL, "
            + string.Concat(IntegerColumns.Select(column => $"{column} INTEGER NOT NULL, "))
            + string.Concat(RealColumns.Select(column => $"{column} REAL NOT NULL, "))
            + "PRIMARY KEY (series_id, step_shift, bucket)) WITHOUT ROWID;");
        var table = IfDatabase(type => !Dialects.IsSqlite(type)).Create.Table("metric_summaries")
            .WithColumn("series_id").AsInt64().NotNullable().PrimaryKey()
            .WithColumn("step_shift").AsInt64().NotNullable().PrimaryKey()
            .WithColumn("bucket").AsInt64().NotNullable().PrimaryKey();
        foreach (var column in IntegerColumns)
        {
            table = table.WithColumn(column).AsInt64().NotNullable();
        }

        foreach (var column in RealColumns)
        {
            table = table.WithColumn(column).AsDouble().NotNullable();
        }

        Create.Table("metric_summary_backlog")
            .WithColumn("series_id").AsInt64().NotNullable().PrimaryKey();
        Execute.Sql("INSERT INTO metric_summary_backlog (series_id) SELECT id FROM metric_series");
    }

    public override void Down()
    {
        Delete.Table("metric_summary_backlog");
        Delete.Table("metric_summaries");
    }
}
