namespace ModelBox.Domain.Storage;

/// <summary>The schema version a database is at, beside the newest version this build can migrate to.</summary>
/// <param name="CurrentVersion">The newest migration applied to the database; 0 for a database never migrated.</param>
/// <param name="LatestKnownVersion">The newest migration this build has.</param>
public sealed record SchemaStatus(long CurrentVersion, long LatestKnownVersion)
{
    /// <summary>The database was migrated by a newer ModelBox: this build must not serve it.</summary>
    public bool IsNewerThanKnown => CurrentVersion > LatestKnownVersion;

    /// <summary>Migrations are pending.</summary>
    public bool IsBehind => CurrentVersion < LatestKnownVersion;
}
