namespace ModelBox.Storage.Sqlite;

/// <summary>Where the embedded metadata database lives and how long a writer waits for another process's lock.</summary>
public sealed class SqliteStorageOptions
{
    /// <summary>The database file; its directory is created when missing.</summary>
    public string DatabasePath { get; set; } = string.Empty;

    /// <summary>How long a statement waits on a lock held by another process before the store reports the database as
    /// unavailable.</summary>
    public int BusyTimeoutMilliseconds { get; set; } = 5000;

    /// <summary>
    /// SQLite's <c>synchronous</c> level in WAL mode: "normal" (a commit survives a crash of the process; the last commits
    /// before a power loss or an operating-system crash may be lost) or "full" (every commit is synced to disk before it is
    /// acknowledged, so it survives power loss too, at one fsync per group commit).
    /// </summary>
    public string Synchronous { get; set; } = "normal";

    /// <summary>
    /// Opens the file read-only and leaves its journal mode alone: for tools beside a running server (backup, verify) and
    /// for reading a snapshot without changing a byte of it.
    /// </summary>
    public bool ReadOnly { get; set; }
}
