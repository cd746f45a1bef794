namespace ModelBox.Storage.Sqlite;

/// <summary>Where the embedded metadata database lives and how long a writer waits for another process's lock.</summary>
/// <param name="DatabasePath">The database file; its directory is created when missing.</param>
/// <param name="BusyTimeoutMilliseconds">How long a statement waits on a lock held by another process before
/// the store reports the database as unavailable.</param>
public sealed record SqliteStoreOptions(string DatabasePath, int BusyTimeoutMilliseconds = 5000);
