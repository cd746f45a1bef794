namespace ModelBox.Server.WebUi;

/// <summary>Source-generated log messages of the web UI's endpoints.</summary>
internal static partial class WebUiLog
{
    [LoggerMessage(EventId = 301, EventName = "ChangeEventsEnded", Level = LogLevel.Debug, Message = "Change events of namespace {Namespace} ended: {Reason}")]
    public static partial void ChangeEventsEnded(ILogger logger, string @namespace, string reason);

    [LoggerMessage(EventId = 302, EventName = "DownloadAborted", Level = LogLevel.Debug, Message = "Download of {FileId} ended early: {Reason}")]
    public static partial void DownloadAborted(ILogger logger, string fileId, string reason);
}
