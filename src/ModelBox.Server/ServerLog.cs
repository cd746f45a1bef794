namespace ModelBox.Server;

/// <summary>Source-generated log messages of the server, with stable event ids.</summary>
internal static partial class ServerLog
{
    [LoggerMessage(EventId = 1, EventName = "UnexpectedError", Level = LogLevel.Error, Message = "Unexpected error in {Method}")]
    public static partial void UnexpectedError(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 2, EventName = "SchemaReady", Level = LogLevel.Information, Message = "Metadata store '{Backend}' ready at {Location}, schema version {SchemaVersion}")]
    public static partial void SchemaReady(ILogger logger, string backend, string location, long schemaVersion);

    [LoggerMessage(EventId = 3, EventName = "Listening", Level = LogLevel.Information, Message = "ModelBox {Version} serving gRPC on {Bound}, {Address}")]
    public static partial void Listening(ILogger logger, string version, string bound, string address);

    [LoggerMessage(EventId = 4, EventName = "Stopping", Level = LogLevel.Information, Message = "ModelBox is shutting down")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(EventId = 5, EventName = "Request", Message = "{Method} {Status} {DurationMs:0.000} ms from {Peer}")]
    public static partial void Request(ILogger logger, LogLevel level, string method, Grpc.Core.StatusCode status, double durationMs, string peer);

    [LoggerMessage(EventId = 6, EventName = "ListeningHttp", Level = LogLevel.Information, Message = "Serving {What} on {Bound}, {Address}")]
    public static partial void ListeningOn(ILogger logger, string what, string bound, string address);

    [LoggerMessage(EventId = 7, EventName = "ClientAborted", Level = LogLevel.Debug, Message = "{Method}: the client closed the stream ({Reason})")]
    public static partial void ClientAborted(ILogger logger, string method, string reason);

    [LoggerMessage(EventId = 8, EventName = "ArtifactStoreReady", Level = LogLevel.Information, Message = "Artifact store '{Backend}' ready; removed {Swept} abandoned temporary uploads")]
    public static partial void ArtifactStoreReady(ILogger logger, string backend, int swept);

    [LoggerMessage(EventId = 9, EventName = "ArtifactStoreSwept", Level = LogLevel.Information, Message = "Artifact store swept: removed {Blobs} blobs no file record used and {Temporaries} abandoned temporary uploads")]
    public static partial void ArtifactStoreSwept(ILogger logger, int blobs, int temporaries);

    [LoggerMessage(EventId = 10, EventName = "ArtifactSweepFailed", Level = LogLevel.Warning, Message = "Sweeping the artifact store failed; the next sweep retries")]
    public static partial void ArtifactSweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 11, EventName = "HealthCheckFailed", Level = LogLevel.Error, Message = "Health check: the metadata store is unreachable; probes answer NOT_SERVING")]
    public static partial void HealthCheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 20, EventName = "StoreUnavailable", Level = LogLevel.Warning, Message = "{Method}: the metadata store is unavailable ({Reason})")]
    public static partial void StoreUnavailable(ILogger logger, string method, string reason);

    [LoggerMessage(EventId = 12, EventName = "Http2GuardUnavailable", Level = LogLevel.Warning,
        Message = "This ASP.NET Core's Kestrel lacks the internals the HTTP/2 stream-reuse guard reads; a rare call may hang until its deadline (docs/reliability.md)")]
    public static partial void Http2GuardUnavailable(ILogger logger);

    [LoggerMessage(EventId = 13, EventName = "MetricBatchIdsForgotten", Level = LogLevel.Information,
        Message = "Forgot {Count} metric batch ids stored more than {Hours} hours ago (metrics.batch_id_retention_hours)")]
    public static partial void MetricBatchIdsForgotten(ILogger logger, long count, int hours);

    [LoggerMessage(EventId = 90, EventName = "DownloadPhase", Level = LogLevel.Debug, Message = "DownloadFile {FileId} on {Request}: {Phase} {Bytes}")]
    public static partial void DownloadPhase(ILogger logger, string fileId, string request, string phase, long bytes);
}
