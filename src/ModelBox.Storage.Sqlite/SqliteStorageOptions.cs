namespace ModelBox.Storage.Sqlite;

/// <summary>Where the embedded metadata database lives and how long a writer waits for another process's lock.</summary>
public sealed class SqliteStorageOptions
{
    /// <summary>The database file; its directory is created when missing.</summary>
    public string DatabasePath { get; set; } = string.Empty;

    /// <summary>How long a statement waits on a lock held by another process before the store reports the database as
    /// unavailable.</summary>
    public int BusyTimeoutMilliseconds { get; set; } = 5000;
}
