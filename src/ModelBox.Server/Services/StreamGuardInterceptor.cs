using Grpc.Core;
using Grpc.Core.Interceptors;

namespace ModelBox.Server.Services;

/// <summary>
/// Puts every streaming call under the <see cref="StreamGuard"/>'s idle timeout: a read of the client's next message or a
/// write of the server's next message that waits longer than <c>limits.stream_idle_timeout_seconds</c> ends the call with
/// DEADLINE_EXCEEDED, and whatever the call held (a partial upload, buffers, an open file) is released.
/// </summary>
public sealed class StreamGuardInterceptor(StreamGuard guard) : Interceptor
{
    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        using var progress = guard.Track(context);
        return await continuation(new GuardedReader<TRequest>(requestStream, progress, guard), context);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        using var progress = guard.Track(context);
        await continuation(request, new GuardedWriter<TResponse>(responseStream, progress, guard), context);
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        using var progress = guard.Track(context);
        await continuation(new GuardedReader<TRequest>(requestStream, progress, guard), new GuardedWriter<TResponse>(responseStream, progress, guard), context);
    }

    private static RpcException Stalled(StreamGuard guard, string what) => new(new Status(
        StatusCode.DeadlineExceeded,
        $"the client {what} for {guard.IdleTimeout.TotalSeconds:0.###} s (limits.stream_idle_timeout_seconds); the call was ended and nothing of it was kept"));

    private sealed class GuardedReader<T>(IAsyncStreamReader<T> inner, StreamProgress progress, StreamGuard guard) : IAsyncStreamReader<T>
    {
        private CancellationToken _linkedFor;
        private CancellationTokenSource? _linked;

        public T Current => inner.Current;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            var token = Link(cancellationToken);
            progress.Begin(write: false);
            try
            {
                return await inner.MoveNext(token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or IOException && progress.TimedOut && !cancellationToken.IsCancellationRequested)
            {
                throw Stalled(guard, "sent nothing");
            }
            finally
            {
                progress.Complete();
            }
        }

        /// <summary>The caller's token joined with the guard's: one linked source per distinct caller token.</summary>
        private CancellationToken Link(CancellationToken cancellationToken)
        {
            if (!cancellationToken.CanBeCanceled)
            {
                return progress.ReadsEnded;
            }

            if (_linked is null || _linkedFor != cancellationToken)
            {
                _linked?.Dispose();
                _linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, progress.ReadsEnded);
                _linkedFor = cancellationToken;
            }

            return _linked.Token;
        }
    }

    private sealed class GuardedWriter<T>(IServerStreamWriter<T> inner, StreamProgress progress, StreamGuard guard) : IServerStreamWriter<T>
    {
        public WriteOptions? WriteOptions
        {
            get => inner.WriteOptions;
            set => inner.WriteOptions = value;
        }

        public Task WriteAsync(T message) => WriteAsync(message, CancellationToken.None);

        public async Task WriteAsync(T message, CancellationToken cancellationToken)
        {
            progress.Begin(write: true);
            try
            {
                await inner.WriteAsync(message, cancellationToken);
            }
            catch (Exception) when (progress.TimedOut)
            {
                throw Stalled(guard, "read nothing");
            }
            finally
            {
                progress.Complete();
            }
        }
    }
}
