using System.Data.Common;
using Grpc.Core;
using Grpc.Core.Interceptors;
using ModelBox.Domain;

namespace ModelBox.Server.Services;

/// <summary>
/// The one place where failures become gRPC statuses. Domain errors keep their message (it names the input or id), with
/// each input called by its wire name (<see cref="WireNames"/>);
/// anything unexpected is logged with its stack trace and answered INTERNAL without one.
/// </summary>
public sealed class ErrorMappingInterceptor(ILogger<ErrorMappingInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw Map(ex, context);
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(new RequestStreamReader<TRequest>(requestStream, context, logger), context);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw Map(ex, context);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, new ResponseStreamWriter<TResponse>(responseStream, context, logger), context);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw Map(ex, context);
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(
                new RequestStreamReader<TRequest>(requestStream, context, logger), new ResponseStreamWriter<TResponse>(responseStream, context, logger), context);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw Map(ex, context);
        }
    }

    private RpcException Map(Exception exception, ServerCallContext context)
    {
        switch (exception)
        {
            case ModelBoxException domain:
                return new RpcException(new Status(ToStatusCode(domain.Kind), domain.MessageNaming(input => WireNames.Of(input, context.Method))));
            case OperationCanceledException when context.CancellationToken.IsCancellationRequested:
                return new RpcException(new Status(StatusCode.Cancelled, "the call was cancelled"));
            case not ModelBoxException when context.CancellationToken.IsCancellationRequested:
            case IOException when exception.InnerException is Microsoft.AspNetCore.Connections.ConnectionAbortedException:
                // The client went away (cancelled, deadline passed, stream reset) while the call read or wrote: whatever
                // the transport threw then (an aborted read, "the request is complete" on a write) is not a server fault.
                ServerLog.ClientAborted(logger, context.Method, exception.Message);
                return new RpcException(new Status(StatusCode.Cancelled, "the client closed the stream"));
            case DbException database when IsOutage(database):
                // A database outage or failover the backend did not translate itself: the client may retry, and
                // the server is not broken, so no stack trace and no error-level log line.
                ServerLog.StoreUnavailable(logger, context.Method, exception.Message);
                return new RpcException(new Status(StatusCode.Unavailable, "the metadata store is unavailable; retry later"));
            default:
                ServerLog.UnexpectedError(logger, context.Method, exception);
                return new RpcException(new Status(StatusCode.Internal, "internal error; the server log has the details"));
        }
    }

    /// <summary>Connection failures (SQLSTATE class 08) and server shutdown or start-up (57P01-57P03) mean the database
    /// is away, not that the request or the server is wrong; drivers mark most of them transient themselves.</summary>
    private static bool IsOutage(DbException exception) =>
        exception.IsTransient
        || exception.SqlState is { } state && (state.StartsWith("08", StringComparison.Ordinal) || state is "57P01" or "57P02" or "57P03");

    /// <summary>
    /// Kestrel reports a client that resets its request stream as an IOException from the next read, often before the
    /// call's token is cancelled: while reading the request, that is the client going away (CANCELLED), never a server
    /// fault. Only reads are translated, so an IOException of the server's own (a disk) still surfaces as INTERNAL.
    /// </summary>
    private sealed class RequestStreamReader<T>(IAsyncStreamReader<T> inner, ServerCallContext context, ILogger logger) : IAsyncStreamReader<T>
    {
        public T Current => inner.Current;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            try
            {
                return await inner.MoveNext(cancellationToken);
            }
            catch (IOException exception)
            {
                ServerLog.ClientAborted(logger, context.Method, exception.Message);
                throw new RpcException(new Status(StatusCode.Cancelled, "the client closed the request stream"));
            }
        }
    }

    /// <summary>
    /// The write side of the same race: a client that resets the stream while a message is being written makes the write
    /// fail (an IOException, or "the request is complete") possibly before the call's token is cancelled. A write fails
    /// only through the transport, so that is the client going away (CANCELLED), never a server fault.
    /// </summary>
    private sealed class ResponseStreamWriter<T>(IServerStreamWriter<T> inner, ServerCallContext context, ILogger logger) : IServerStreamWriter<T>
    {
        public WriteOptions? WriteOptions
        {
            get => inner.WriteOptions;
            set => inner.WriteOptions = value;
        }

        public Task WriteAsync(T message) => WriteAsync(message, CancellationToken.None);

        public async Task WriteAsync(T message, CancellationToken cancellationToken)
        {
            try
            {
                await inner.WriteAsync(message, cancellationToken);
            }
            catch (Exception exception) when (exception is IOException or InvalidOperationException)
            {
                ServerLog.ClientAborted(logger, context.Method, exception.Message);
                throw new RpcException(new Status(StatusCode.Cancelled, "the client closed the stream"));
            }
        }
    }

    internal static StatusCode ToStatusCode(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidArgument => StatusCode.InvalidArgument,
        ErrorKind.NotFound => StatusCode.NotFound,
        ErrorKind.AlreadyExists => StatusCode.AlreadyExists,
        ErrorKind.FailedPrecondition => StatusCode.FailedPrecondition,
        ErrorKind.ResourceExhausted => StatusCode.ResourceExhausted,
        ErrorKind.Aborted => StatusCode.Aborted,
        ErrorKind.Unavailable => StatusCode.Unavailable,
        ErrorKind.Unimplemented => StatusCode.Unimplemented,
        ErrorKind.DataLoss => StatusCode.DataLoss,
        ErrorKind.Unauthenticated => StatusCode.Unauthenticated,
        ErrorKind.PermissionDenied => StatusCode.PermissionDenied,
        _ => StatusCode.Internal,
    };
}
