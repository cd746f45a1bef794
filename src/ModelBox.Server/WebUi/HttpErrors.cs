using Grpc.Core;
using ModelBox.Domain;
using ModelBox.Server.Services;

namespace ModelBox.Server.WebUi;

/// <summary>
/// Failures of the UI's HTTP endpoints, in the REST API's shape (<c>{"code": gRPC status, "message": ...}</c> with the
/// HTTP status JSON transcoding gives that code), so a client handles every <c>/api/v1</c> error the same way.
/// </summary>
internal static class HttpErrors
{
    public static Task WriteAsync(HttpContext context, ModelBoxException error)
    {
        var code = ErrorMappingInterceptor.ToStatusCode(error.Kind);
        context.Response.StatusCode = code switch
        {
            StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => StatusCodes.Status400BadRequest,
            StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
            StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
            StatusCode.NotFound => StatusCodes.Status404NotFound,
            StatusCode.AlreadyExists or StatusCode.Aborted => StatusCodes.Status409Conflict,
            StatusCode.ResourceExhausted => StatusCodes.Status429TooManyRequests,
            StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
            StatusCode.Unimplemented => StatusCodes.Status501NotImplemented,
            _ => StatusCodes.Status500InternalServerError,
        };
        if (code == StatusCode.Unauthenticated)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }

        return context.Response.WriteAsJsonAsync(new ErrorBody((int)code, error.Message), context.RequestAborted);
    }

    private sealed record ErrorBody(int Code, string Message);
}
