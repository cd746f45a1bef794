namespace ModelBox.Domain;

/// <summary>What kind of failure a <see cref="ModelBoxException"/> is; the gRPC layer maps each to one status code.</summary>
public enum ErrorKind
{
    /// <summary>The request itself is wrong (a missing, malformed or oversized field).</summary>
    InvalidArgument,
    /// <summary>An object the request names does not exist (or is deleted).</summary>
    NotFound,
    /// <summary>The object already exists where that is not allowed.</summary>
    AlreadyExists,
    /// <summary>The system is not in a state that allows the operation (for example, the object is deleted).</summary>
    FailedPrecondition,
    /// <summary>A limit was exceeded.</summary>
    ResourceExhausted,
    /// <summary>The operation was ended early and should be resumed by the client (a change stream that fell behind).</summary>
    Aborted,
    /// <summary>The store is unreachable; retrying later can succeed.</summary>
    Unavailable,
    /// <summary>Data arrived damaged (a checksum did not match); nothing was kept.</summary>
    DataLoss,
    /// <summary>The operation exists but this deployment (its storage backend) does not offer it.</summary>
    Unimplemented,
}

/// <summary>A failure the client can act on; its message names the field or id concerned.</summary>
public sealed class ModelBoxException : Exception
{
    public ModelBoxException(ErrorKind kind, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
    }

    public ErrorKind Kind { get; }

    public static ModelBoxException InvalidArgument(string message) => new(ErrorKind.InvalidArgument, message);

    public static ModelBoxException NotFound(string kind, string id) => new(ErrorKind.NotFound, $"{kind} '{id}' not found");

    public static ModelBoxException FailedPrecondition(string message) => new(ErrorKind.FailedPrecondition, message);
}
