using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using ModelBox.Domain;
using ModelBox.Domain.Access;
using ModelBox.Server.Configuration;

namespace ModelBox.Server.Security;

/// <summary>
/// Authenticates and authorises every call when <c>[auth] mode = "enforced"</c> (REST calls are transcoded to the same
/// calls, so they pass here too): the caller from its bearer token, then the rule of the RPC in <see cref="RpcAccessTable"/>.
/// A caller without credentials that may not do something is told to authenticate (UNAUTHENTICATED, HTTP 401); a known
/// caller without the role gets PERMISSION_DENIED (HTTP 403). Client streams are checked message by message. With auth
/// off it only passes calls on.
/// </summary>
public sealed class AccessInterceptor(
    ServerConfig config, BearerAuthenticator authenticator, ObjectNamespaces objects, IServiceProvider services, ILogger<AccessInterceptor> logger)
    : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        if (Enforced(context))
        {
            var (session, rule) = await AuthenticateAsync(context);
            await AuthorizeAsync(session.Current, rule, request, context);
        }

        return await continuation(request, context);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (Enforced(context))
        {
            var (session, rule) = await AuthenticateAsync(context);
            await AuthorizeAsync(session.Current, rule, request, context);
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
        return await continuation(new AuthorizingReader<TRequest>(requestStream, message => AuthorizeAsync(session.Current, rule, message, context)), context);
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
            new AuthorizingReader<TRequest>(requestStream, message => AuthorizeAsync(session.Current, rule, message, context)), responseStream, context);
    }

    /// <summary>
    /// Whether the call is checked: with auth enforced, every call of ModelBox's services. Health checks and reflection
    /// stay open (probes and tools carry no tokens; neither reveals data).
    /// </summary>
    private bool Enforced(ServerCallContext context) => config.AuthEnforced && !RpcAccessTable.IsOpenInfrastructure(context.Method);

    private async Task<(CallerSession Session, RpcAccess Rule)> AuthenticateAsync(ServerCallContext context)
    {
        // An RPC without a rule is refused: a new RPC must be given one (a test checks every RPC has one).
        if (!RpcAccessTable.Rules.TryGetValue(context.Method, out var rule))
        {
            throw new ModelBoxException(ErrorKind.PermissionDenied, $"{context.Method} has no access rule; it is refused while auth is enforced");
        }

        var http = context.GetHttpContext();
        var caller = await authenticator.AuthenticateAsync(http, context.Method, context.CancellationToken);
        var session = new CallerSession(caller, cancellationToken => authenticator.AuthenticateAsync(http, context.Method, cancellationToken));
        session.AttachTo(context);
        return (session, rule);
    }

    private async Task AuthorizeAsync<TRequest>(CallerAccess caller, RpcAccess rule, TRequest request, ServerCallContext context)
    {
        switch (rule)
        {
            case RpcAccess.AnyCaller:
                return;
            case RpcAccess.SignedIn:
                RequireSignedIn(caller);
                return;
            case RpcAccess.Filtered:
                if (caller.IsAnonymous && caller.Grants.Count == 0)
                {
                    throw NeedsToken();
                }

                return;
            case RpcAccess.AdminOnly:
                RequireSignedIn(caller);
                if (!caller.Admin)
                {
                    throw Denied(caller, context, $"{context.Method} is for admins only");
                }

                return;
            case RpcAccess.OnTargets onTargets:
                await CheckTargetsAsync(caller, onTargets.Role, onTargets.Targets((IMessage)request!), context);
                return;
            case RpcAccess.OnResolvedTargets resolved:
                IEnumerable<AccessTarget> targets;
                try
                {
                    targets = await resolved.Resolve((IMessage)request!, services, context.CancellationToken);
                }
                catch (ModelBoxException exception) when (exception.Kind == ErrorKind.NotFound && !caller.Admin)
                {
                    throw Denied(caller, context, "it names an object that does not exist or that the caller may not see");
                }

                await CheckTargetsAsync(caller, resolved.Role, targets, context);
                return;
            default:
                throw new InvalidOperationException($"unknown access rule {rule.GetType().Name}");
        }
    }

    private async Task CheckTargetsAsync(CallerAccess caller, Role role, IEnumerable<AccessTarget> targets, ServerCallContext context)
    {
        foreach (var target in targets)
        {
            string? @namespace;
            if (target.Namespace is not null)
            {
                @namespace = Validation.Namespace(target.Namespace);
            }
            else if (string.IsNullOrEmpty(target.ObjectId))
            {
                // Nothing named: the operation refuses the request for its missing id (INVALID_ARGUMENT).
                continue;
            }
            else
            {
                @namespace = await objects.OfAsync(target.ObjectId, context.CancellationToken);
                if (@namespace is null)
                {
                    // Only an admin learns that an object does not exist; anyone else cannot tell it from one it may not see.
                    if (caller.Admin)
                    {
                        continue;
                    }

                    throw Denied(caller, context, $"object '{target.ObjectId}' does not exist or the caller may not see it");
                }
            }

            if (caller.RoleOn(@namespace) < role)
            {
                throw Denied(
                    caller, context, $"{caller.PrincipalId} needs the {Principals.RoleName(role)} role on namespace '{@namespace}' (or one above it)");
            }
        }
    }

    private static void RequireSignedIn(CallerAccess caller)
    {
        if (caller.IsAnonymous)
        {
            throw NeedsToken();
        }
    }

    private ModelBoxException Denied(CallerAccess caller, ServerCallContext context, string reason)
    {
        if (caller.IsAnonymous)
        {
            return NeedsToken();
        }

        SecurityLog.PermissionDenied(logger, context.Method, caller.PrincipalId, reason);
        return new ModelBoxException(ErrorKind.PermissionDenied, reason);
    }

    private static ModelBoxException NeedsToken() => new(
        ErrorKind.Unauthenticated,
        "this call needs credentials: send 'authorization: Bearer <token>' (an API token from `modelbox client tokens create`, or an SSO JWT)");

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
