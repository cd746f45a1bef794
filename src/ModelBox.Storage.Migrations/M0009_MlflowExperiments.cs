using FluentMigrator;

namespace ModelBox.Storage.Migrations;

/// <summary>
/// MLflow experiments: the MLflow name, numeric id and tags of a namespace, for the MLflow-compatible REST API. The number
/// is derived from the namespace (stable across replicas without a counter); the name is unique and may be renamed.
/// </summary>
[Migration(9, "MLflow experiments")]
public sealed class M0009_MlflowExperiments : Migration
{
    public override void Up()
    {
        Create.Table("mlflow_experiments")
            .WithColumn("number").AsInt64().NotNullable().PrimaryKey()
            .WithColumn("name").AsAnsiString(Lengths.Name).NotNullable().Unique("ux_mlflow_experiments_name")
            .WithColumn("namespace").AsAnsiString(Lengths.Name).NotNullable().Unique("ux_mlflow_experiments_namespace")
            .WithColumn("artifact_location").AsAnsiString(Lengths.Text).NotNullable()
            .WithColumn("tags").AsAnsiString(Lengths.Text).NotNullable()
            .WithColumn("created_at").AsInt64().NotNullable()
            .WithColumn("updated_at").AsInt64().NotNullable()
            .WithColumn("deleted_at").AsInt64().Nullable();
        Dialects.BinaryText(this, "mlflow_experiments", ("name", Lengths.Name), ("namespace", Lengths.Name));
    }

    public override void Down() => Delete.Table("mlflow_experiments");
}
