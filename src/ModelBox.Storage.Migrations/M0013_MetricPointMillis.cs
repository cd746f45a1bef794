using FluentMigrator;

namespace ModelBox.Storage.Migrations;

/// <summary>
/// Milliseconds of metric points: <c>millis</c> (0 to 999) is the part of a point's wall-clock time past the second
/// in <c>time</c>, so clients that log milliseconds (MLflow) read back what they logged, while <c>time</c> keeps whole
/// seconds for the primary key, the summaries and the wire's <c>wallclock_time</c>. Existing points get 0, which is what
/// they were read as; adding a column with a constant default rewrites no row on PostgreSQL 11+, MariaDB 10.3+ or SQLite.
/// </summary>
[Migration(13, "milliseconds of metric points")]
public sealed class M0013_MetricPointMillis : Migration
{
    public override void Up()
    {
        IfDatabase(Dialects.IsSqlite).Execute.Sql("ALTER TABLE metric_points ADD COLUMN millis INTEGER NOT NULL DEFAULT 0;");
        IfDatabase(type => !Dialects.IsSqlite(type)).Alter.Table("metric_points")
            .AddColumn("millis").AsInt16().NotNullable().WithDefaultValue(0);
    }

    public override void Down() => Delete.Column("millis").FromTable("metric_points");
}
