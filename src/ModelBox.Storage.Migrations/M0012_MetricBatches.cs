using FluentMigrator;

namespace ModelBox.Storage.Migrations;

/// <summary>
/// Batch ids of metric appends: a client that tags a batch with an id (an SDK replaying its journal after a lost answer)
/// has it stored once. The row goes in with the batch's points, in their transaction; <c>point_count</c> is what a
/// repeated id is answered.
/// </summary>
[Migration(12, "metric batch ids")]
public sealed class M0012_MetricBatches : Migration
{
    public override void Up()
    {
        Create.Table("metric_batches")
            .WithColumn("batch_id").AsAnsiString(Lengths.Id).NotNullable().PrimaryKey()
            .WithColumn("point_count").AsInt64().NotNullable()
            .WithColumn("created_at").AsInt64().NotNullable();
        Dialects.BinaryText(this, "metric_batches", ("batch_id", Lengths.Id));
    }

    public override void Down() => Delete.Table("metric_batches");
}
