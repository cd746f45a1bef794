using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace ModelBox.Server.Security;

/// <summary>
/// Authenticates and authorises every call when <c>[auth] mode = "enforced"</c> (REST calls are transcoded to the same
/// calls, so they pass here too): the caller from its bearer token, then the rule of the RPC in <see cref="RpcAccessTable"/>,
/// both through the <see cref="AccessGate"/>. Client streams are checked message by message. With auth off it only
/// passes calls on.
/// </summary>
public sealed class AccessInterceptor(AccessGate gate) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        if (Enforced(context))
        {
            var (session, rule) = await AuthenticateAsync(context);
            await AuthorizeAsync(session, rule, request, context);
        }

        return await continuation(request, context);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (Enforced(context))
        {
            var (session, rule) = await AuthenticateAsync(context);
            await AuthorizeAsync(session, rule, request, context);
        }

        await continuation(request, responseStream, context);
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (!Enforced(context))
        {
            return await continuation(requestStream, context);
        }

        var (session, rule) = await AuthenticateAsync(context);
        return await continuation(new AuthorizingReader<TRequest>(requestStream, message => AuthorizeAsync(session, rule, message, context)), context);
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (!Enforced(context))
        {
            await continuation(requestStream, responseStream, context);
            return;
        }

        var (session, rule) = await AuthenticateAsync(context);
        await continuation(
            new AuthorizingReader<TRequest>(requestStream, message => AuthorizeAsync(session, rule, message, context)), responseStream, context);
    }

    /// <summary>
    /// Whether the call is checked: with auth enforced, every call of ModelBox's services. Health checks and reflection
    /// stay open (probes and tools carry no tokens; neither reveals data).
    /// </summary>
    private bool Enforced(ServerCallContext context) => gate.Enforced && !RpcAccessTable.IsOpenInfrastructure(context.Method);

    private async Task<(CallerSession Session, RpcAccess Rule)> AuthenticateAsync(ServerCallContext context)
    {
        var rule = AccessGate.RuleOf(context.Method);
        var session = await gate.AuthenticateAsync(context.GetHttpContext(), context.Method, context.CancellationToken);
        return (session, rule);
    }

    private Task AuthorizeAsync<TRequest>(CallerSession session, RpcAccess rule, TRequest request, ServerCallContext context) =>
        gate.AuthorizeAsync(session.Current, rule, (IMessage)request!, context.Method, context.CancellationToken).AsTask();

    /// <summary>Checks each message of a client stream before the service sees it.</summary>
    private sealed class AuthorizingReader<T>(IAsyncStreamReader<T> inner, Func<T, Task> authorize) : IAsyncStreamReader<T>
    {
        public T Current => inner.Current;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            if (!await inner.MoveNext(cancellationToken))
            {
                return false;
            }

            await authorize(inner.Current);
            return true;
        }
    }
}
