using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;
using ModelBox.Domain.Telemetry;
using ModelBox.Server.Configuration;

namespace ModelBox.Server.Observability;

/// <summary>
/// The outermost interceptor: counts every call by method and status, times it, tracks streams in flight, and writes
/// one log line per request (method, status, duration, peer): at debug level, or at info level when the call failed on
/// the server's side or a unary call was slow, so that info shows what needs attention and not the traffic.
/// </summary>
public sealed class CallTelemetryInterceptor(ILogger<CallTelemetryInterceptor> logger, ServerConfig config) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation) =>
        ObserveAsync(context, streaming: false, () => continuation(request, context));

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        ObserveAsync(context, streaming: true, () => continuation(requestStream, context));

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        ObserveAsync(context, streaming: true, async () =>
        {
            await continuation(request, responseStream, context);
            return true;
        });

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        ObserveAsync(context, streaming: true, async () =>
        {
            await continuation(requestStream, responseStream, context);
            return true;
        });

    private async Task<T> ObserveAsync<T>(ServerCallContext context, bool streaming, Func<Task<T>> call)
    {
        var started = Stopwatch.GetTimestamp();
        var method = new KeyValuePair<string, object?>("method", context.Method);
        var status = StatusCode.OK;
        if (streaming)
        {
            ModelBoxMetrics.StreamsInFlight.Add(1, method);
        }

        try
        {
            return await call();
        }
        catch (RpcException ex)
        {
            status = ex.StatusCode;
            throw;
        }
        catch (Exception)
        {
            status = StatusCode.Unknown;
            throw;
        }
        finally
        {
            if (streaming)
            {
                ModelBoxMetrics.StreamsInFlight.Add(-1, method);
            }

            var elapsed = Stopwatch.GetElapsedTime(started);
            ModelBoxMetrics.RpcCalls.Add(1, method, new KeyValuePair<string, object?>("code", status.ToString()));
            ModelBoxMetrics.RpcDuration.Record(elapsed.TotalSeconds, method);
            var level = status is StatusCode.Unknown or StatusCode.Internal or StatusCode.DataLoss or StatusCode.Unavailable
                || (!streaming && config.SlowCallMilliseconds > 0 && elapsed.TotalMilliseconds > config.SlowCallMilliseconds)
                ? LogLevel.Information
                : LogLevel.Debug;
            ServerLog.Request(logger, level, context.Method, status, elapsed.TotalMilliseconds, context.Peer);
        }
    }
}
