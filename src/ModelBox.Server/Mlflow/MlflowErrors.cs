using ModelBox.Domain;

namespace ModelBox.Server.Mlflow;

/// <summary>MLflow's error codes (databricks.proto) as this adapter answers them, with the HTTP status MLflow's server gives each.</summary>
public static class MlflowErrorCodes
{
    public const string InvalidParameterValue = "INVALID_PARAMETER_VALUE";
    public const string ResourceDoesNotExist = "RESOURCE_DOES_NOT_EXIST";
    public const string ResourceAlreadyExists = "RESOURCE_ALREADY_EXISTS";
    public const string InvalidState = "INVALID_STATE";
    public const string RequestLimitExceeded = "REQUEST_LIMIT_EXCEEDED";
    public const string TemporarilyUnavailable = "TEMPORARILY_UNAVAILABLE";
    public const string EndpointNotFound = "ENDPOINT_NOT_FOUND";
    public const string BadRequest = "BAD_REQUEST";
    public const string InternalError = "INTERNAL_ERROR";
    public const string NotImplemented = "NOT_IMPLEMENTED";
    public const string Unauthenticated = "UNAUTHENTICATED";
    public const string PermissionDenied = "PERMISSION_DENIED";

    public static int HttpStatus(string code) => code switch
    {
        InvalidParameterValue or ResourceAlreadyExists or BadRequest => StatusCodes.Status400BadRequest,
        ResourceDoesNotExist or EndpointNotFound => StatusCodes.Status404NotFound,
        RequestLimitExceeded => StatusCodes.Status429TooManyRequests,
        TemporarilyUnavailable => StatusCodes.Status503ServiceUnavailable,
        NotImplemented => StatusCodes.Status501NotImplemented,
        Unauthenticated => StatusCodes.Status401Unauthorized,
        PermissionDenied => StatusCodes.Status403Forbidden,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>The MLflow code of a domain failure (the one place the adapter maps them).</summary>
    public static string Of(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidArgument or ErrorKind.FailedPrecondition => InvalidParameterValue,
        ErrorKind.NotFound => ResourceDoesNotExist,
        ErrorKind.AlreadyExists => ResourceAlreadyExists,
        ErrorKind.ResourceExhausted => RequestLimitExceeded,
        ErrorKind.Unavailable or ErrorKind.Aborted => TemporarilyUnavailable,
        ErrorKind.Unimplemented => NotImplemented,
        ErrorKind.DataLoss => InvalidParameterValue,
        ErrorKind.Unauthenticated => Unauthenticated,
        ErrorKind.PermissionDenied => PermissionDenied,
        _ => InternalError,
    };
}

/// <summary>A failure answered in MLflow's shape: <c>{"error_code": ..., "message": ...}</c> with the code's HTTP status.</summary>
public sealed class MlflowException(string errorCode, string message) : Exception(message)
{
    public string ErrorCode { get; } = errorCode;

    public static MlflowException Invalid(string message) => new(MlflowErrorCodes.InvalidParameterValue, message);

    public static MlflowException Missing(string field) =>
        new(MlflowErrorCodes.InvalidParameterValue, $"Missing value for required parameter '{field}'.");

    public static MlflowException NotFound(string message) => new(MlflowErrorCodes.ResourceDoesNotExist, message);
}
