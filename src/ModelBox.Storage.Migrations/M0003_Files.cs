using FluentMigrator;

namespace ModelBox.Storage.Migrations;

/// <summary>
/// File records of any object (uploaded files, whose bytes are a blob addressed by sha256, and tracked files that live
/// elsewhere). No foreign key on parent_id: a parent can be of any kind, and ids carry their kind.
/// </summary>
[Migration(3, "file records")]
public sealed class M0003_Files : Migration
{
    public override void Up()
    {
        Create.Table("files")
            .WithColumn("id").AsString().NotNullable().PrimaryKey()
            .WithColumn("parent_id").AsString().NotNullable()
            .WithColumn("file_type").AsInt32().NotNullable()
            .WithColumn("path").AsString().NotNullable()
            .WithColumn("uri").AsString().NotNullable()
            .WithColumn("size_bytes").AsInt64().NotNullable()
            .WithColumn("md5").AsString().NotNullable()
            .WithColumn("sha256").AsString().NotNullable()
            // 1 when the bytes are in the blob store under sha256; tracked files may carry a sha256 they do not own.
            .WithColumn("stored").AsBoolean().NotNullable()
            .WithColumn("created_at").AsInt64().NotNullable()
            .WithColumn("updated_at").AsInt64().NotNullable();

        // The listing order of an object's files.
        Create.Index("ix_files_parent").OnTable("files")
            .OnColumn("parent_id").Ascending()
            .OnColumn("created_at").Ascending()
            .OnColumn("id").Ascending();

        // "Does another record use this blob?" on every delete.
        Create.Index("ix_files_sha256").OnTable("files")
            .OnColumn("sha256").Ascending();
    }

    public override void Down() => Delete.Table("files");
}
