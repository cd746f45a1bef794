namespace ModelBox.Server;

/// <summary>Source-generated log messages of the server, with stable event ids.</summary>
internal static partial class ServerLog
{
    [LoggerMessage(EventId = 1, EventName = "UnexpectedError", Level = LogLevel.Error, Message = "Unexpected error in {Method}")]
    public static partial void UnexpectedError(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 2, EventName = "SchemaReady", Level = LogLevel.Information, Message = "Metadata store '{Backend}' ready at {Location}")]
    public static partial void SchemaReady(ILogger logger, string backend, string location);

    [LoggerMessage(EventId = 3, EventName = "Listening", Level = LogLevel.Information, Message = "ModelBox {Version} serving gRPC on {Address}")]
    public static partial void Listening(ILogger logger, string version, string address);

    [LoggerMessage(EventId = 4, EventName = "Stopping", Level = LogLevel.Information, Message = "ModelBox is shutting down")]
    public static partial void Stopping(ILogger logger);
}
