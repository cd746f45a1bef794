using Grpc.Core;

namespace ModelBox.Client;

/// <summary>A call to the ModelBox server failed.</summary>
public class ModelBoxException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="statusCode">The gRPC status the server (or the transport) answered with.</param>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The underlying <see cref="RpcException"/>.</param>
    public ModelBoxException(StatusCode statusCode, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        StatusCode = statusCode;
    }

    /// <summary>The gRPC status code of the failure.</summary>
    public StatusCode StatusCode { get; }

    /// <summary>Turns a failed gRPC call into the matching typed exception; the one place statuses are mapped.</summary>
    internal static ModelBoxException FromRpcException(RpcException exception, string serverAddress, string? token = null)
    {
        var detail = string.IsNullOrEmpty(exception.Status.Detail) ? exception.StatusCode.ToString() : exception.Status.Detail;
        if (IsHttp1Only(exception))
        {
            return new ModelBoxUnavailableException(serverAddress,
                $"{serverAddress} answers HTTP/1.1, not gRPC: it is ModelBox's REST/web port (default 8081) or the metrics port (2112), " +
                "not the gRPC port (default 8085); point the client at the gRPC listener (listen_addr)", exception);
        }

        return exception.StatusCode switch
        {
            StatusCode.Unauthenticated => new ModelBoxUnauthenticatedException(TokenDescription(token), detail, exception),
            StatusCode.NotFound => new ModelBoxNotFoundException(detail, exception),
            StatusCode.InvalidArgument or StatusCode.OutOfRange => new ModelBoxInvalidArgumentException(exception.StatusCode, detail, exception),
            StatusCode.AlreadyExists or StatusCode.FailedPrecondition => new ModelBoxConflictException(exception.StatusCode, detail, exception),
            StatusCode.Unavailable => new ModelBoxUnavailableException(serverAddress, DescribeUnavailable(exception, serverAddress), exception),
            StatusCode.DeadlineExceeded => new ModelBoxException(exception.StatusCode, $"the ModelBox server at {serverAddress} did not answer in time", exception),
            _ => new ModelBoxException(exception.StatusCode, $"{detail} ({exception.StatusCode})", exception),
        };
    }

    /// <summary>What a caller may see of the token it sent: a ModelBox token's public prefix, never a secret.</summary>
    internal static string TokenDescription(string? token)
    {
        var text = token?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return "no token";
        }

        const int PrefixLength = 16;
        return text.StartsWith("mbx_", StringComparison.Ordinal) && text.Length > PrefixLength
            ? $"token {text[..PrefixLength]}"
            : $"a token that is not a ModelBox token ({Math.Min(text.Length, 6)} characters: {text[..Math.Min(text.Length, 6)]}…)";
    }

    /// <summary>
    /// An HTTP/1.1-only listener (Kestrel's REST and metrics endpoints) answers the gRPC client's HTTP/2 preface with
    /// HTTP_1_1_REQUIRED (0xd), which would otherwise surface as a transport error of two nested exception messages; when
    /// the handler lost that code, <see cref="Http1ListenerProbe"/> found out by asking over HTTP/1.1.
    /// </summary>
    private static bool IsHttp1Only(RpcException exception)
    {
        for (var error = exception.Status.DebugException; error is not null; error = error.InnerException)
        {
            if (error is System.Net.Http.HttpProtocolException { ErrorCode: 0xd } or Http1OnlyListenerException)
            {
                return true;
            }
        }

        return false;
    }

    private static string DescribeUnavailable(RpcException exception, string serverAddress)
    {
        // A transport failure carries the socket or HTTP error; a server that answers Unavailable itself does not.
        if (exception.Status.DebugException is { } transportError)
        {
            var cause = transportError.InnerException?.Message ?? transportError.Message;
            return $"cannot reach ModelBox server at {serverAddress}: {cause} (is the server running, and is the address right?)";
        }

        return $"ModelBox server at {serverAddress} is unavailable: {exception.Status.Detail}";
    }
}

/// <summary>The object named in the call does not exist (or is deleted).</summary>
public sealed class ModelBoxNotFoundException : ModelBoxException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was not found.</param>
    /// <param name="innerException">The underlying exception.</param>
    public ModelBoxNotFoundException(string message, Exception? innerException = null)
        : base(StatusCode.NotFound, message, innerException)
    {
    }
}

/// <summary>The server rejected an argument of the call; the message names the field.</summary>
public sealed class ModelBoxInvalidArgumentException : ModelBoxException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="statusCode"><see cref="StatusCode.InvalidArgument"/> or <see cref="StatusCode.OutOfRange"/>.</param>
    /// <param name="message">What was wrong with the argument.</param>
    /// <param name="innerException">The underlying exception.</param>
    public ModelBoxInvalidArgumentException(StatusCode statusCode, string message, Exception? innerException = null)
        : base(statusCode, message, innerException)
    {
    }
}

/// <summary>The call conflicts with the stored state (the object already exists, or is in the wrong state).</summary>
public sealed class ModelBoxConflictException : ModelBoxException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="statusCode"><see cref="StatusCode.AlreadyExists"/> or <see cref="StatusCode.FailedPrecondition"/>.</param>
    /// <param name="message">What conflicted.</param>
    /// <param name="innerException">The underlying exception.</param>
    public ModelBoxConflictException(StatusCode statusCode, string message, Exception? innerException = null)
        : base(statusCode, message, innerException)
    {
    }
}

/// <summary>The server could not be reached, or said it is unavailable; the message names its address.</summary>
public sealed class ModelBoxUnavailableException : ModelBoxException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="serverAddress">The address the client tried.</param>
    /// <param name="message">What went wrong, naming the address.</param>
    /// <param name="innerException">The underlying exception.</param>
    public ModelBoxUnavailableException(string serverAddress, string message, Exception? innerException = null)
        : base(StatusCode.Unavailable, message, innerException)
    {
        ServerAddress = serverAddress;
    }

    /// <summary>The address the client tried.</summary>
    public string ServerAddress { get; }
}

/// <summary>The server did not accept the caller's credentials (none, or a token that is unknown, expired or revoked).</summary>
public sealed class ModelBoxUnauthenticatedException : ModelBoxException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="tokenSent">What was sent: <c>no token</c>, or <c>token mbx_…</c> (its public prefix only).</param>
    /// <param name="message">The server's reason.</param>
    /// <param name="innerException">The underlying <see cref="RpcException"/>.</param>
    public ModelBoxUnauthenticatedException(string tokenSent, string message, Exception? innerException = null)
        : base(StatusCode.Unauthenticated, $"{message} (sent {tokenSent})", innerException)
    {
        TokenSent = tokenSent;
    }

    /// <summary>What the client sent: <c>no token</c> or <c>token mbx_…</c> (the public prefix).</summary>
    public string TokenSent { get; }
}
