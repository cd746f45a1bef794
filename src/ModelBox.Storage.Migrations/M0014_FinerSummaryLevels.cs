using FluentMigrator;

namespace ModelBox.Storage.Migrations;

/// <summary>
/// Metric summaries at every fourth power of two: the store now keeps buckets of 2^6, 2^8, 2^10, 2^12, 2^14, 2^16 and
/// 2^18 steps (before: 2^6, 2^10, 2^14, 2^18), so a chart read never reads more than four stored buckets per bucket it
/// returns (before: sixteen). Every series enters <c>metric_summary_backlog</c>; at start-up the store rebuilds each one's
/// summaries from its finest buckets (2^6, which it already has: a 64th of its points), or from its points when it has
/// none yet, and reads its points until then.
/// </summary>
[Migration(14, "finer metric summary levels")]
public sealed class M0014_FinerSummaryLevels : Migration
{
    public override void Up() =>
        Execute.Sql("INSERT INTO metric_summary_backlog (series_id) SELECT id FROM metric_series "
            + "WHERE id NOT IN (SELECT series_id FROM metric_summary_backlog)");

    public override void Down() => Execute.Sql("DELETE FROM metric_summary_backlog");
}
