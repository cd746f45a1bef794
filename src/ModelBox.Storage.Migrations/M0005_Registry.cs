using FluentMigrator;

namespace ModelBox.Storage.Migrations;

/// <summary>
/// The operational registry: labels (of experiments, models, versions), model aliases, datasets and their versions, and
/// lineage edges. Dialect-neutral (fluent API only), so the PostgreSQL and MySQL backends can run it unchanged.
/// </summary>
[Migration(5, "labels, aliases, datasets, lineage")]
public sealed class M0005_Registry : Migration
{
    public override void Up()
    {
        // Like object_metadata, one table for every kind: ids carry their kind.
        Create.Table("object_labels")
            .WithColumn("object_id").AsString(128).NotNullable().PrimaryKey()
            .WithColumn("label_key").AsString(128).NotNullable().PrimaryKey()
            .WithColumn("label_value").AsString(256).NotNullable()
            .WithColumn("updated_at").AsInt64().NotNullable();

        // Selectors look up "which objects carry key=value".
        Create.Index("ix_object_labels_key_value").OnTable("object_labels")
            .OnColumn("label_key").Ascending()
            .OnColumn("label_value").Ascending()
            .OnColumn("object_id").Ascending();

        Create.Table("model_aliases")
            .WithColumn("model_id").AsString(128).NotNullable().PrimaryKey().ForeignKey("fk_model_aliases_model", "models", "id")
            .WithColumn("alias").AsString(128).NotNullable().PrimaryKey()
            .WithColumn("version_id").AsString(128).NotNullable().ForeignKey("fk_model_aliases_version", "model_versions", "id")
            .WithColumn("updated_at").AsInt64().NotNullable();

        Create.Index("ix_model_aliases_version").OnTable("model_aliases").OnColumn("version_id").Ascending();

        Create.Table("datasets")
            .WithColumn("id").AsString(128).NotNullable().PrimaryKey()
            .WithColumn("namespace").AsString(256).NotNullable().ForeignKey("fk_datasets_namespace", "namespaces", "name")
            .WithColumn("name").AsString(256).NotNullable()
            .WithColumn("description").AsString(int.MaxValue).NotNullable()
            .WithColumn("created_at").AsInt64().NotNullable()
            .WithColumn("updated_at").AsInt64().NotNullable()
            .WithColumn("deleted_at").AsInt64().Nullable();

        Create.Index("ix_datasets_namespace_name").OnTable("datasets")
            .OnColumn("namespace").Ascending()
            .OnColumn("name").Ascending();

        Create.Table("dataset_versions")
            .WithColumn("id").AsString(128).NotNullable().PrimaryKey()
            .WithColumn("dataset_id").AsString(128).NotNullable().ForeignKey("fk_dataset_versions_dataset", "datasets", "id")
            .WithColumn("digest").AsString(256).NotNullable()
            .WithColumn("uri").AsString(int.MaxValue).NotNullable()
            .WithColumn("created_at").AsInt64().NotNullable();

        Create.Index("ux_dataset_versions_dataset_digest").OnTable("dataset_versions")
            .OnColumn("dataset_id").Ascending()
            .OnColumn("digest").Ascending()
            .WithOptions().Unique();

        // subject (model version or experiment) --relation--> target:
        //   experiment (target experiment id), checkpoint, dataset (role training|evaluation), parent (role = how it was derived).
        Create.Table("lineage_edges")
            .WithColumn("subject_id").AsString(128).NotNullable().PrimaryKey()
            .WithColumn("relation").AsString(32).NotNullable().PrimaryKey()
            .WithColumn("target_id").AsString(128).NotNullable().PrimaryKey()
            // Part of the key: one dataset version can be used for training and for evaluation.
            .WithColumn("role").AsString(256).NotNullable().PrimaryKey()
            .WithColumn("created_at").AsInt64().NotNullable();

        // The reverse queries: versions trained in an experiment, users of a dataset, descendants of a version.
        Create.Index("ix_lineage_edges_target").OnTable("lineage_edges")
            .OnColumn("target_id").Ascending()
            .OnColumn("relation").Ascending();
    }

    public override void Down()
    {
        Delete.Table("lineage_edges");
        Delete.Table("dataset_versions");
        Delete.Table("datasets");
        Delete.Table("model_aliases");
        Delete.Table("object_labels");
    }
}
