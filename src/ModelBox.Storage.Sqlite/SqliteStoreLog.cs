using Microsoft.Extensions.Logging;

namespace ModelBox.Storage.Sqlite;

internal static partial class SqliteStoreLog
{
    [LoggerMessage(EventId = 1, EventName = "MigrationApplied", Level = LogLevel.Information,
        Message = "Applied SQLite schema migration {Version} ({Description}) to {DatabasePath}")]
    public static partial void MigrationApplied(ILogger logger, long version, string description, string databasePath);

    [LoggerMessage(EventId = 2, EventName = "SchemaUpToDate", Level = LogLevel.Debug,
        Message = "SQLite schema of {DatabasePath} is up to date at version {Version}")]
    public static partial void SchemaUpToDate(ILogger logger, string databasePath, long version);

    [LoggerMessage(EventId = 3, EventName = "DatabaseBusy", Level = LogLevel.Warning,
        Message = "SQLite database {DatabasePath} stayed locked past the busy timeout of {BusyTimeoutMilliseconds} ms")]
    public static partial void DatabaseBusy(ILogger logger, string databasePath, int busyTimeoutMilliseconds, Exception exception);

    [LoggerMessage(EventId = 4, EventName = "MetricGroupFailed", Level = LogLevel.Error,
        Message = "Committing a group of {Requests} metric appends ({Points} points) failed")]
    public static partial void MetricGroupFailed(ILogger logger, int requests, long points, Exception exception);
}
