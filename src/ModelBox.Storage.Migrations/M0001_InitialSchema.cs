using FluentMigrator;

namespace ModelBox.Storage.Migrations;

/// <summary>
/// Namespaces, experiments, checkpoints, models, model versions and their metadata.
/// Timestamps are INTEGER Unix microseconds; deleted_at is null for live rows. Indexed text columns have explicit lengths
/// (MySQL indexes only bounded VARCHARs); the rest is unbounded text.
/// </summary>
[Migration(1, "initial schema")]
public sealed class M0001_InitialSchema : Migration
{
    public override void Up()
    {
        Dialects.BinaryTextByDefault(this);

        Create.Table("namespaces")
            .WithColumn("name").AsString(Lengths.Name).NotNullable().PrimaryKey()
            .WithColumn("created_at").AsInt64().NotNullable();

        Create.Table("experiments")
            .WithColumn("id").AsString(Lengths.Id).NotNullable().PrimaryKey()
            .WithColumn("namespace").AsString(Lengths.Name).NotNullable().ForeignKey("fk_experiments_namespace", "namespaces", "name")
            .WithColumn("name").AsString(Lengths.Text).NotNullable()
            .WithColumn("owner").AsString(Lengths.Text).NotNullable()
            .WithColumn("framework").AsInt32().NotNullable()
            .WithColumn("task").AsString(Lengths.Text).NotNullable()
            .WithColumn("external_id").AsString(Lengths.Text).NotNullable()
            .WithColumn("description").AsString(Lengths.Text).NotNullable()
            .WithColumn("status").AsInt32().NotNullable()
            .WithColumn("ended_at").AsInt64().Nullable()
            .WithColumn("created_at").AsInt64().NotNullable()
            .WithColumn("updated_at").AsInt64().NotNullable()
            .WithColumn("deleted_at").AsInt64().Nullable();

        Create.Table("checkpoints")
            .WithColumn("id").AsString(Lengths.Id).NotNullable().PrimaryKey()
            .WithColumn("experiment_id").AsString(Lengths.Id).NotNullable().ForeignKey("fk_checkpoints_experiment", "experiments", "id")
            .WithColumn("epoch").AsInt64().NotNullable()
            .WithColumn("metrics").AsString(Lengths.Text).NotNullable()
            .WithColumn("created_at").AsInt64().NotNullable()
            .WithColumn("updated_at").AsInt64().NotNullable()
            .WithColumn("deleted_at").AsInt64().Nullable();

        Create.Table("models")
            .WithColumn("id").AsString(Lengths.Id).NotNullable().PrimaryKey()
            .WithColumn("namespace").AsString(Lengths.Name).NotNullable().ForeignKey("fk_models_namespace", "namespaces", "name")
            .WithColumn("name").AsString(Lengths.Text).NotNullable()
            .WithColumn("owner").AsString(Lengths.Text).NotNullable()
            .WithColumn("task").AsString(Lengths.Text).NotNullable()
            .WithColumn("description").AsString(Lengths.Text).NotNullable()
            .WithColumn("created_at").AsInt64().NotNullable()
            .WithColumn("updated_at").AsInt64().NotNullable()
            .WithColumn("deleted_at").AsInt64().Nullable();

        Create.Table("model_versions")
            .WithColumn("id").AsString(Lengths.Id).NotNullable().PrimaryKey()
            .WithColumn("model_id").AsString(Lengths.Id).NotNullable().ForeignKey("fk_model_versions_model", "models", "id")
            .WithColumn("name").AsString(Lengths.Text).NotNullable()
            .WithColumn("version").AsString(Lengths.Text).NotNullable()
            .WithColumn("description").AsString(Lengths.Text).NotNullable()
            .WithColumn("framework").AsInt32().NotNullable()
            .WithColumn("unique_tags").AsString(Lengths.Text).NotNullable()
            .WithColumn("created_at").AsInt64().NotNullable()
            .WithColumn("updated_at").AsInt64().NotNullable()
            .WithColumn("deleted_at").AsInt64().Nullable();

        // One table for the metadata of every kind: ids carry their kind, so they never collide.
        Create.Table("object_metadata")
            .WithColumn("object_id").AsString(Lengths.Id).NotNullable().PrimaryKey()
            .WithColumn("key").AsString(Lengths.Name).NotNullable().PrimaryKey()
            .WithColumn("value_json").AsString(Lengths.Text).NotNullable()
            .WithColumn("updated_at").AsInt64().NotNullable();

        // The keyset orders of the listings. Lists only ever show live rows, so where the database has partial indexes
        // (SQLite, PostgreSQL) they stay as small as the live set; MySQL indexes every row.
        foreach (var (name, table, columns) in new[]
        {
            ("ix_experiments_live_by_created", "experiments", "namespace, created_at DESC, id DESC"),
            ("ix_models_live_by_created", "models", "namespace, created_at DESC, id DESC"),
            ("ix_model_versions_live_by_created", "model_versions", "model_id, created_at, id"),
        })
        {
            IfDatabase(type => !Dialects.IsMySql(type)).Execute.Sql($"CREATE INDEX {name} ON {table} ({columns}) WHERE deleted_at IS NULL;");
            IfDatabase(Dialects.IsMySql).Execute.Sql($"CREATE INDEX {name} ON {table} ({columns});");
        }

        // Unique because a checkpoint id is derived from (experiment, epoch), and the checkpoint keyset seeks on epoch alone.
        // Not partial: the cascades look up all checkpoints of an experiment, live or deleted.
        Create.Index("ux_checkpoints_experiment_epoch").OnTable("checkpoints")
            .OnColumn("experiment_id").Ascending()
            .OnColumn("epoch").Ascending()
            .WithOptions().Unique();

        // The delete and restore cascades find all versions of a model, live or not.
        Create.Index("ix_model_versions_model").OnTable("model_versions")
            .OnColumn("model_id").Ascending();

        Dialects.BinaryText(this, "namespaces", ("name", Lengths.Name));
        Dialects.BinaryText(this, "experiments", ("id", Lengths.Id), ("namespace", Lengths.Name));
        Dialects.BinaryText(this, "checkpoints", ("id", Lengths.Id), ("experiment_id", Lengths.Id));
        Dialects.BinaryText(this, "models", ("id", Lengths.Id), ("namespace", Lengths.Name));
        Dialects.BinaryText(this, "model_versions", ("id", Lengths.Id), ("model_id", Lengths.Id));
        Dialects.BinaryText(this, "object_metadata", ("object_id", Lengths.Id), ("key", Lengths.Name));
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
