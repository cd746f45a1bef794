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
            .WithColumn("id").AsAnsiString(Lengths.Id).NotNullable().PrimaryKey()
            .WithColumn("parent_id").AsAnsiString(Lengths.Id).NotNullable()
            .WithColumn("file_type").AsInt32().NotNullable()
            .WithColumn("path").AsAnsiString(Lengths.Text).NotNullable()
            .WithColumn("uri").AsAnsiString(Lengths.Text).NotNullable()
            .WithColumn("size_bytes").AsInt64().NotNullable()
            .WithColumn("md5").AsAnsiString(Lengths.Hash).NotNullable()
            .WithColumn("sha256").AsAnsiString(Lengths.Hash).NotNullable()
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

        Dialects.BinaryText(this, "files", ("id", Lengths.Id), ("parent_id", Lengths.Id), ("sha256", Lengths.Hash));
    }

    public override void Down() => Delete.Table("files");
}
