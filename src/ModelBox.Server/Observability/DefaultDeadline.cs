using Grpc.AspNetCore.Server;
using Grpc.Core;
using ModelBox.Server.Configuration;

namespace ModelBox.Server.Observability;

/// <summary>
/// Gives unary gRPC calls that arrive without a deadline the configured one, so a stuck call cannot hold resources
/// forever. It adds the standard <c>grpc-timeout</c> header before gRPC reads it: grpc-dotnet then enforces the deadline
/// itself (the call's cancellation token fires, and the client gets DEADLINE_EXCEEDED).
/// </summary>
public static class DefaultDeadline
{
    private const string TimeoutHeader = "grpc-timeout";

    /// <summary>Adds the middleware; it must run after routing (it reads the gRPC method's type from the endpoint).</summary>
    public static IApplicationBuilder UseDefaultUnaryDeadline(this IApplicationBuilder app, ServerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.UnaryDeadlineSeconds <= 0)
        {
            return app;
        }

        var timeout = config.UnaryDeadlineSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) + "S";
        return app.Use((context, next) =>
        {
            if (!context.Request.Headers.ContainsKey(TimeoutHeader)
                && context.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>() is { Method.Type: MethodType.Unary })
            {
                context.Request.Headers[TimeoutHeader] = timeout;
            }

            return next(context);
        });
    }
}
