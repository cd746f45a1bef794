using FluentMigrator;

namespace ModelBox.Storage.Sqlite.Migrations;

/// <summary>
/// Namespaces, experiments, checkpoints, models, model versions and their metadata.
/// Timestamps are INTEGER Unix microseconds; deleted_at is null for live rows.
/// </summary>
[Migration(1, "initial schema")]
public sealed class M0001_InitialSchema : Migration
{
    public override void Up()
    {
        Create.Table("namespaces")
            .WithColumn("name").AsString().NotNullable().PrimaryKey()
            .WithColumn("created_at").AsInt64().NotNullable();

        Create.Table("experiments")
            .WithColumn("id").AsString().NotNullable().PrimaryKey()
            .WithColumn("namespace").AsString().NotNullable().ForeignKey("fk_experiments_namespace", "namespaces", "name")
            .WithColumn("name").AsString().NotNullable()
            .WithColumn("owner").AsString().NotNullable()
            .WithColumn("framework").AsInt32().NotNullable()
            .WithColumn("task").AsString().NotNullable()
            .WithColumn("external_id").AsString().NotNullable()
            .WithColumn("description").AsString().NotNullable()
            .WithColumn("status").AsInt32().NotNullable()
            .WithColumn("ended_at").AsInt64().Nullable()
            .WithColumn("created_at").AsInt64().NotNullable()
            .WithColumn("updated_at").AsInt64().NotNullable()
            .WithColumn("deleted_at").AsInt64().Nullable();

        Create.Table("checkpoints")
            .WithColumn("id").AsString().NotNullable().PrimaryKey()
            .WithColumn("experiment_id").AsString().NotNullable().ForeignKey("fk_checkpoints_experiment", "experiments", "id")
            .WithColumn("epoch").AsInt64().NotNullable()
            .WithColumn("metrics").AsString().NotNullable()
            .WithColumn("created_at").AsInt64().NotNullable()
            .WithColumn("updated_at").AsInt64().NotNullable()
            .WithColumn("deleted_at").AsInt64().Nullable();

        Create.Table("models")
            .WithColumn("id").AsString().NotNullable().PrimaryKey()
            .WithColumn("namespace").AsString().NotNullable().ForeignKey("fk_models_namespace", "namespaces", "name")
            .WithColumn("name").AsString().NotNullable()
            .WithColumn("owner").AsString().NotNullable()
            .WithColumn("task").AsString().NotNullable()
            .WithColumn("description").AsString().NotNullable()
            .WithColumn("created_at").AsInt64().NotNullable()
            .WithColumn("updated_at").AsInt64().NotNullable()
            .WithColumn("deleted_at").AsInt64().Nullable();

        Create.Table("model_versions")
            .WithColumn("id").AsString().NotNullable().PrimaryKey()
            .WithColumn("model_id").AsString().NotNullable().ForeignKey("fk_model_versions_model", "models", "id")
            .WithColumn("name").AsString().NotNullable()
            .WithColumn("version").AsString().NotNullable()
            .WithColumn("description").AsString().NotNullable()
            .WithColumn("framework").AsInt32().NotNullable()
            .WithColumn("unique_tags").AsString().NotNullable()
            .WithColumn("created_at").AsInt64().NotNullable()
            .WithColumn("updated_at").AsInt64().NotNullable()
            .WithColumn("deleted_at").AsInt64().Nullable();

        // One table for the metadata of every kind: ids carry their kind, so they never collide.
        Create.Table("object_metadata")
            .WithColumn("object_id").AsString().NotNullable().PrimaryKey()
            .WithColumn("key").AsString().NotNullable().PrimaryKey()
            .WithColumn("value_json").AsString().NotNullable()
            .WithColumn("updated_at").AsInt64().NotNullable();

        // The keyset orders of the listings. Lists only ever show live rows, so the partial indexes
        // stay as small as the live set; the fluent API cannot say WHERE for SQLite.
        Execute.Sql(
            "CREATE INDEX ix_experiments_live_by_created ON experiments (namespace, created_at DESC, id DESC) WHERE deleted_at IS NULL;");
        Execute.Sql(
            "CREATE INDEX ix_models_live_by_created ON models (namespace, created_at DESC, id DESC) WHERE deleted_at IS NULL;");
        Execute.Sql(
            "CREATE INDEX ix_model_versions_live_by_created ON model_versions (model_id, created_at, id) WHERE deleted_at IS NULL;");

        // Unique because a checkpoint id is derived from (experiment, epoch), and the checkpoint keyset seeks on epoch alone.
        // Not partial: the cascades look up all checkpoints of an experiment, live or deleted.
        Create.Index("ux_checkpoints_experiment_epoch").OnTable("checkpoints")
            .OnColumn("experiment_id").Ascending()
            .OnColumn("epoch").Ascending()
            .WithOptions().Unique();

        // The delete and restore cascades find all versions of a model, live or not.
        Create.Index("ix_model_versions_model").OnTable("model_versions")
            .OnColumn("model_id").Ascending();
    }

    public override void Down()
    {
        Delete.Table("object_metadata");
        Delete.Table("model_versions");
        Delete.Table("models");
        Delete.Table("checkpoints");
        Delete.Table("experiments");
        Delete.Table("namespaces");
    }
}
