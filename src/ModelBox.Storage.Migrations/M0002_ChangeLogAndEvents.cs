using FluentMigrator;

namespace ModelBox.Storage.Migrations;

/// <summary>
/// The change log (the transactional outbox behind WatchNamespace) and logged events.
/// <para>
/// <c>changes.sequence</c> must become visible in commit order, or a watcher reading <c>sequence &gt; last</c> could
/// skip a record that commits late. On SQLite the column is the rowid (INTEGER PRIMARY KEY) and writers are serialised
/// by the database lock, so the order sequences are assigned in is the order transactions commit in. PostgreSQL and
/// MySQL must not use an identity/auto-increment column for it (transaction A takes 10, B takes 11 and commits first, a
/// reader sees 11 and never sees 10): their backends will keep a one-row counter table and, inside every transaction
/// that appends changes, run <c>UPDATE change_counter SET value = value + n RETURNING value</c> (MySQL:
/// <c>SELECT ... FOR UPDATE</c>) and insert explicit sequences. The row lock serialises change-producing commits in
/// sequence order; those transactions are short. The column is therefore a plain 64-bit primary key here.
/// </para>
/// </summary>
[Migration(2, "change log and events")]
public sealed class M0002_ChangeLogAndEvents : Migration
{
    public override void Up()
    {
        Create.Table("changes")
            .WithColumn("sequence").AsInt64().NotNullable().PrimaryKey()
            .WithColumn("namespace").AsString(Lengths.Name).NotNullable()
            .WithColumn("object_kind").AsString(Lengths.Tag).NotNullable()
            .WithColumn("object_id").AsString(Lengths.Id).NotNullable()
            // created | updated | deleted
            .WithColumn("change").AsString(Lengths.Tag).NotNullable()
            .WithColumn("changed_at").AsInt64().NotNullable()
            .WithColumn("state_json").AsString(Lengths.Text).NotNullable();

        // Watchers read one namespace from a sequence on.
        Create.Index("ix_changes_namespace_sequence").OnTable("changes")
            .OnColumn("namespace").Ascending()
            .OnColumn("sequence").Ascending();

        // Events hang off any object; their metadata lives in object_metadata like every object's.
        Create.Table("events")
            .WithColumn("id").AsString(Lengths.Id).NotNullable().PrimaryKey()
            .WithColumn("parent_id").AsString(Lengths.Id).NotNullable()
            .WithColumn("namespace").AsString(Lengths.Name).NotNullable()
            .WithColumn("name").AsString(Lengths.Text).NotNullable()
            .WithColumn("source").AsString(Lengths.Text).NotNullable()
            // Unix nanoseconds: the full precision of the wire's Timestamp.
            .WithColumn("wallclock_ns").AsInt64().NotNullable()
            .WithColumn("created_at").AsInt64().NotNullable();

        // ListEvents: one parent, oldest first, keyset on (wallclock, id).
        Create.Index("ix_events_parent_wallclock").OnTable("events")
            .OnColumn("parent_id").Ascending()
            .OnColumn("wallclock_ns").Ascending()
            .OnColumn("id").Ascending();

        // The change counter of the server databases (see above). One row; SQLite orders by its rowid instead.
        IfDatabase(type => !Dialects.IsSqlite(type)).Create.Table("change_counter")
            .WithColumn("id").AsInt32().NotNullable().PrimaryKey()
            .WithColumn("value").AsInt64().NotNullable();
        IfDatabase(type => !Dialects.IsSqlite(type)).Insert.IntoTable("change_counter").Row(new { id = 1, value = 0L });

        Dialects.BinaryText(this, "changes", ("namespace", Lengths.Name), ("object_id", Lengths.Id));
        Dialects.BinaryText(this, "events", ("id", Lengths.Id), ("parent_id", Lengths.Id));
    }

    public override void Down()
    {
        Delete.Table("events");
        Delete.Table("changes");
        IfDatabase(type => !Dialects.IsSqlite(type)).Delete.Table("change_counter");
    }
}
