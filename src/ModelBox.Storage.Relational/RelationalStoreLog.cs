using Microsoft.Extensions.Logging;

namespace ModelBox.Storage.Relational;

internal static partial class RelationalStoreLog
{
    [LoggerMessage(EventId = 1, EventName = "MigrationApplied", Level = LogLevel.Information,
        Message = "Applied {Backend} schema migration {Version} ({Description}) to {Database}")]
    public static partial void MigrationApplied(ILogger logger, string backend, long version, string description, string database);

    [LoggerMessage(EventId = 2, EventName = "SchemaUpToDate", Level = LogLevel.Debug,
        Message = "{Backend} schema of {Database} is up to date at version {Version}")]
    public static partial void SchemaUpToDate(ILogger logger, string backend, string database, long version);

    [LoggerMessage(EventId = 3, EventName = "TransactionRetried", Level = LogLevel.Debug,
        Message = "{Backend} transaction attempt {Attempt} failed with a {Failure}; running it again")]
    public static partial void TransactionRetried(ILogger logger, string backend, int attempt, DbFailure failure, Exception exception);

    [LoggerMessage(EventId = 4, EventName = "DatabaseUnavailable", Level = LogLevel.Warning,
        Message = "{Backend} database {Database} is unavailable ({Failure})")]
    public static partial void DatabaseUnavailable(ILogger logger, string backend, string database, DbFailure failure, Exception exception);

    [LoggerMessage(EventId = 5, EventName = "ChangeListenerFailed", Level = LogLevel.Warning,
        Message = "The change listener on {Backend} lost its connection; reconnecting")]
    public static partial void ChangeListenerFailed(ILogger logger, string backend, Exception exception);

    [LoggerMessage(EventId = 6, EventName = "ChangePollFailed", Level = LogLevel.Debug,
        Message = "Polling the {Backend} change log failed; trying again")]
    public static partial void ChangePollFailed(ILogger logger, string backend, Exception exception);

    [LoggerMessage(EventId = 7, EventName = "MetricGroupFailed", Level = LogLevel.Error,
        Message = "Committing a group of {Requests} metric appends ({Points} points) failed")]
    public static partial void MetricGroupFailed(ILogger logger, int requests, long points, Exception exception);

    [LoggerMessage(EventId = 8, EventName = "MigrationNotApplicable", Level = LogLevel.Debug,
        Message = "Recorded {Backend} schema migration {Version} ({Description}): it changes nothing on this backend")]
    public static partial void MigrationNotApplicable(ILogger logger, string backend, long version, string description);
}
