using FluentMigrator;

namespace ModelBox.Storage.Migrations;

/// <summary>
/// Server databases: one row per content address an upload ever published, the lock that orders the uploads, deletes and
/// sweeps of that blob across replicas (taken with an upsert, held to the end of the transaction). SQLite needs none:
/// its write transaction already excludes every other writer of the file.
/// </summary>
[Migration(6, "blob reference locks")]
[ChangesOnly("postgres", "mysql")]
public sealed class M0006_BlobLocks : Migration
{
    public override void Up()
    {
        IfDatabase(type => !Dialects.IsSqlite(type)).Create.Table("blob_locks")
            .WithColumn("sha256").AsAnsiString(Lengths.Hash).NotNullable().PrimaryKey()
            // When the lock was last taken (Unix microseconds), for an operator wondering what a row is.
            .WithColumn("locked_at").AsInt64().NotNullable();
        Dialects.BinaryText(this, "blob_locks", ("sha256", Lengths.Hash));
    }

    public override void Down() => IfDatabase(type => !Dialects.IsSqlite(type)).Delete.Table("blob_locks");
}
