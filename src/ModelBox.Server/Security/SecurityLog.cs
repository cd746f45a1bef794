namespace ModelBox.Server.Security;

/// <summary>Log messages of authentication and authorisation. Tokens appear by their public prefix only, never whole.</summary>
internal static partial class SecurityLog
{
    [LoggerMessage(EventId = 60, EventName = "AuthDisabledOnNetwork", Level = LogLevel.Warning,
        Message = "Access control is off ([auth] mode = \"none\") and gRPC listens on {Bound}, not only on loopback: anyone who can reach it may read, change and delete everything. Set [auth] mode = \"enforced\" (docs/security.md)")]
    public static partial void AuthDisabledOnNetwork(ILogger logger, string bound);

    [LoggerMessage(EventId = 61, EventName = "AuthenticationFailed", Level = LogLevel.Information,
        Message = "{Method}: authentication failed from {Peer}: {Reason}")]
    public static partial void AuthenticationFailed(ILogger logger, string method, string peer, string reason);

    [LoggerMessage(EventId = 62, EventName = "AuthenticationThrottled", Level = LogLevel.Warning,
        Message = "{Peer} failed to authenticate more than {Limit} times in a minute; its calls are refused until the minute is over")]
    public static partial void AuthenticationThrottled(ILogger logger, string peer, int limit);

    [LoggerMessage(EventId = 63, EventName = "PermissionDenied", Level = LogLevel.Information,
        Message = "{Method}: {Principal} was refused: {Reason}")]
    public static partial void PermissionDenied(ILogger logger, string method, string principal, string reason);

    [LoggerMessage(EventId = 64, EventName = "AdminBootstrapped", Level = LogLevel.Warning,
        Message = "Access control is enforced and no admin existed: created admin {Principal} and token {Prefix}; the token was written to the console once. Store it now")]
    public static partial void AdminBootstrapped(ILogger logger, string principal, string prefix);
}
