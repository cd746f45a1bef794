using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;
using ModelBox.Domain.Telemetry;

namespace ModelBox.Server.Observability;

/// <summary>
/// The outermost interceptor: counts every call by method and status, times it, tracks streams in flight, and writes
/// one log line per request (method, status, duration, peer).
/// </summary>
public sealed class CallTelemetryInterceptor(ILogger<CallTelemetryInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        var status = StatusCode.OK;
        try
        {
            return await continuation(request, context);
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
            Complete(context, started, status);
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        var status = StatusCode.OK;
        ModelBoxMetrics.StreamsInFlight.Add(1, Method(context));
        try
        {
            return await continuation(requestStream, context);
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
            ModelBoxMetrics.StreamsInFlight.Add(-1, Method(context));
            Complete(context, started, status);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        var status = StatusCode.OK;
        ModelBoxMetrics.StreamsInFlight.Add(1, Method(context));
        try
        {
            await continuation(request, responseStream, context);
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
            ModelBoxMetrics.StreamsInFlight.Add(-1, Method(context));
            Complete(context, started, status);
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        var status = StatusCode.OK;
        ModelBoxMetrics.StreamsInFlight.Add(1, Method(context));
        try
        {
            await continuation(requestStream, responseStream, context);
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
            ModelBoxMetrics.StreamsInFlight.Add(-1, Method(context));
            Complete(context, started, status);
        }
    }

    private static KeyValuePair<string, object?> Method(ServerCallContext context) => new("method", context.Method);

    private void Complete(ServerCallContext context, long started, StatusCode status)
    {
        var elapsed = Stopwatch.GetElapsedTime(started);
        ModelBoxMetrics.RpcCalls.Add(1, Method(context), new KeyValuePair<string, object?>("code", status.ToString()));
        ModelBoxMetrics.RpcDuration.Record(elapsed.TotalSeconds, Method(context));
        ServerLog.Request(logger, context.Method, status, elapsed.TotalMilliseconds, context.Peer);
    }
}
