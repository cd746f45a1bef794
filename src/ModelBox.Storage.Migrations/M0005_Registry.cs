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
            .WithColumn("object_id").AsAnsiString(Lengths.Id).NotNullable().PrimaryKey()
            .WithColumn("label_key").AsAnsiString(Lengths.Name).NotNullable().PrimaryKey()
            .WithColumn("label_value").AsAnsiString(Lengths.Name).NotNullable()
            .WithColumn("updated_at").AsInt64().NotNullable();

        // Selectors look up "which objects carry key=value".
        Create.Index("ix_object_labels_key_value").OnTable("object_labels")
            .OnColumn("label_key").Ascending()
            .OnColumn("label_value").Ascending()
            .OnColumn("object_id").Ascending();

        Create.Table("model_aliases")
            .WithColumn("model_id").AsAnsiString(Lengths.Id).NotNullable().PrimaryKey().ForeignKey("fk_model_aliases_model", "models", "id")
            .WithColumn("alias").AsAnsiString(Lengths.Name).NotNullable().PrimaryKey()
            .WithColumn("version_id").AsAnsiString(Lengths.Id).NotNullable().ForeignKey("fk_model_aliases_version", "model_versions", "id")
            .WithColumn("updated_at").AsInt64().NotNullable();

        Create.Index("ix_model_aliases_version").OnTable("model_aliases").OnColumn("version_id").Ascending();

        Create.Table("datasets")
            .WithColumn("id").AsAnsiString(Lengths.Id).NotNullable().PrimaryKey()
            .WithColumn("namespace").AsAnsiString(Lengths.Name).NotNullable().ForeignKey("fk_datasets_namespace", "namespaces", "name")
            .WithColumn("name").AsAnsiString(Lengths.Name).NotNullable()
            .WithColumn("description").AsAnsiString(Lengths.Text).NotNullable()
            .WithColumn("created_at").AsInt64().NotNullable()
            .WithColumn("updated_at").AsInt64().NotNullable()
            .WithColumn("deleted_at").AsInt64().Nullable();

        Create.Index("ix_datasets_namespace_name").OnTable("datasets")
            .OnColumn("namespace").Ascending()
            .OnColumn("name").Ascending();

        Create.Table("dataset_versions")
            .WithColumn("id").AsAnsiString(Lengths.Id).NotNullable().PrimaryKey()
            .WithColumn("dataset_id").AsAnsiString(Lengths.Id).NotNullable().ForeignKey("fk_dataset_versions_dataset", "datasets", "id")
            .WithColumn("digest").AsAnsiString(Lengths.Name).NotNullable()
            .WithColumn("uri").AsAnsiString(Lengths.Text).NotNullable()
            .WithColumn("created_at").AsInt64().NotNullable();

        Create.Index("ux_dataset_versions_dataset_digest").OnTable("dataset_versions")
            .OnColumn("dataset_id").Ascending()
            .OnColumn("digest").Ascending()
            .WithOptions().Unique();

        // subject (model version or experiment) --relation--> target:
        //   experiment (target experiment id), checkpoint, dataset (role training|evaluation), parent (role = how it was derived).
        Create.Table("lineage_edges")
            .WithColumn("subject_id").AsAnsiString(Lengths.Id).NotNullable().PrimaryKey()
            .WithColumn("relation").AsAnsiString(Lengths.Tag).NotNullable().PrimaryKey()
            .WithColumn("target_id").AsAnsiString(Lengths.Id).NotNullable().PrimaryKey()
            // Part of the key: one dataset version can be used for training and for evaluation.
            .WithColumn("role").AsAnsiString(Lengths.Name).NotNullable().PrimaryKey()
            .WithColumn("created_at").AsInt64().NotNullable();

        // The reverse queries: versions trained in an experiment, users of a dataset, descendants of a version.
        Create.Index("ix_lineage_edges_target").OnTable("lineage_edges")
            .OnColumn("target_id").Ascending()
            .OnColumn("relation").Ascending();

        // Keys compare byte by byte on every backend, as they do on SQLite.
        Dialects.BinaryText(this, "object_labels", ("object_id", Lengths.Id), ("label_key", Lengths.Name), ("label_value", Lengths.Name));
        Dialects.BinaryText(this, "model_aliases", ("model_id", Lengths.Id), ("alias", Lengths.Name), ("version_id", Lengths.Id));
        Dialects.BinaryText(this, "datasets", ("id", Lengths.Id), ("namespace", Lengths.Name), ("name", Lengths.Name));
        Dialects.BinaryText(this, "dataset_versions", ("id", Lengths.Id), ("dataset_id", Lengths.Id), ("digest", Lengths.Name));
        Dialects.BinaryText(this, "lineage_edges", ("subject_id", Lengths.Id), ("relation", Lengths.Tag), ("target_id", Lengths.Id), ("role", Lengths.Name));
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
