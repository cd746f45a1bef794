using FluentMigrator;

namespace ModelBox.Storage.Migrations;

/// <summary>
/// Access control (issue 18): principals (users, service accounts, groups), group memberships, API tokens (a public prefix
/// and the SHA-256 of the secret, never the secret), grants of a role on a namespace subtree, and the access version every
/// change bumps (replicas compare it to know their caches are stale). A database from before starts with no principal and
/// the server keeps running with <c>[auth] mode = "none"</c> until an operator changes it.
/// </summary>
[Migration(11, "Access control")]
public sealed class M0011_AccessControl : Migration
{
    /// <summary>A principal id: its kind, ':' and a name of up to 256 characters.</summary>
    private const int PrincipalId = Lengths.Name + 16;

    public override void Up()
    {
        Create.Table("principals")
            .WithColumn("id").AsAnsiString(PrincipalId).NotNullable().PrimaryKey()
            .WithColumn("kind").AsInt32().NotNullable()
            .WithColumn("name").AsAnsiString(Lengths.Name).NotNullable()
            .WithColumn("admin").AsInt32().NotNullable()
            .WithColumn("created_at").AsInt64().NotNullable()
            .WithColumn("created_by").AsAnsiString(PrincipalId).NotNullable();
        Create.Table("group_members")
            .WithColumn("group_id").AsAnsiString(PrincipalId).NotNullable().PrimaryKey()
                .ForeignKey("fk_group_members_group", "principals", "id").OnDelete(System.Data.Rule.Cascade)
            .WithColumn("member_id").AsAnsiString(PrincipalId).NotNullable().PrimaryKey()
                .ForeignKey("fk_group_members_member", "principals", "id").OnDelete(System.Data.Rule.Cascade);
        Create.Index("ix_group_members_member").OnTable("group_members").OnColumn("member_id");
        Create.Table("api_tokens")
            .WithColumn("prefix").AsAnsiString(Lengths.Tag).NotNullable().PrimaryKey()
            .WithColumn("principal_id").AsAnsiString(PrincipalId).NotNullable()
                .ForeignKey("fk_api_tokens_principal", "principals", "id").OnDelete(System.Data.Rule.Cascade)
            .WithColumn("secret_hash").AsAnsiString(Lengths.Hash).NotNullable()
            .WithColumn("description").AsAnsiString(Lengths.Text).NotNullable()
            .WithColumn("created_at").AsInt64().NotNullable()
            .WithColumn("expires_at").AsInt64().Nullable()
            .WithColumn("revoked_at").AsInt64().Nullable()
            .WithColumn("last_used_at").AsInt64().Nullable();
        Create.Index("ix_api_tokens_principal").OnTable("api_tokens").OnColumn("principal_id");
        Create.Table("access_grants")
            .WithColumn("principal_id").AsAnsiString(PrincipalId).NotNullable().PrimaryKey()
            .WithColumn("namespace").AsAnsiString(Lengths.Name).NotNullable().PrimaryKey()
            .WithColumn("role").AsInt32().NotNullable()
            .WithColumn("created_at").AsInt64().NotNullable()
            .WithColumn("granted_by").AsAnsiString(PrincipalId).NotNullable();
        Create.Table("access_version")
            .WithColumn("id").AsInt32().NotNullable().PrimaryKey()
            .WithColumn("version").AsInt64().NotNullable();
        Insert.IntoTable("access_version").Row(new { id = 1, version = 0L });
        Dialects.BinaryText(this, "principals", ("id", PrincipalId), ("name", Lengths.Name));
        Dialects.BinaryText(this, "group_members", ("group_id", PrincipalId), ("member_id", PrincipalId));
        Dialects.BinaryText(this, "api_tokens", ("prefix", Lengths.Tag), ("principal_id", PrincipalId));
        Dialects.BinaryText(this, "access_grants", ("principal_id", PrincipalId), ("namespace", Lengths.Name));
    }

    public override void Down()
    {
        Delete.Table("access_version");
        Delete.Table("access_grants");
        Delete.Table("api_tokens");
        Delete.Table("group_members");
        Delete.Table("principals");
    }
}
