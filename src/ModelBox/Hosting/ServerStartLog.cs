using Microsoft.Extensions.Logging;

namespace ModelBox.Cli.Hosting;

/// <summary>Source-generated log messages of `modelbox server start` itself (the server library logs the rest).</summary>
internal static partial class ServerStartLog
{
    [LoggerMessage(EventId = 100, EventName = "FirstStart", Level = LogLevel.Information,
        Message = "First start: created the data folder {Folder}; creating the embedded SQLite database {Database} and the artifact folder {Blobs}")]
    public static partial void FirstStart(ILogger logger, string folder, string database, string blobs);

    [LoggerMessage(EventId = 101, EventName = "DataFolderLocked", Level = LogLevel.Information,
        Message = "Data folder {Folder} locked by this server (PID {ProcessId})")]
    public static partial void DataFolderLocked(ILogger logger, string folder, int processId);
}
