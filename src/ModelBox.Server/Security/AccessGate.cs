using Google.Protobuf;
using ModelBox.Domain;
using ModelBox.Domain.Access;
using ModelBox.Server.Configuration;

namespace ModelBox.Server.Security;

/// <summary>
/// The one access check of the server, for every way in: gRPC calls and their transcoded REST routes (through the
/// <see cref="AccessInterceptor"/>), the web UI's plain HTTP endpoints and the MLflow API. It authenticates the caller
/// from its bearer token (<see cref="BearerAuthenticator"/>), keeps it on the request as a <see cref="CallerSession"/>,
/// and checks a rule of <see cref="RpcAccessTable"/> or a role on namespaces and objects. A caller without credentials
/// that may not do something is told to authenticate (UNAUTHENTICATED, HTTP 401); a known caller without the role gets
/// PERMISSION_DENIED (HTTP 403).
/// </summary>
public sealed class AccessGate(
    ServerConfig config, BearerAuthenticator authenticator, ObjectNamespaces objects, IServiceProvider services, ILogger<AccessGate> logger)
{
    /// <summary>Whether calls are checked (<c>[auth] mode = "enforced"</c>).</summary>
    public bool Enforced => config.AuthEnforced;

    /// <summary>
    /// Authenticates the request and keeps the caller on it (<see cref="CallerSession.Of(HttpContext)"/>); a long call
    /// refreshes it. <paramref name="operation"/> names the call in logs (an RPC's full name or a route).
    /// </summary>
    public async ValueTask<CallerSession> AuthenticateAsync(HttpContext http, string operation, CancellationToken cancellationToken)
    {
        var caller = await authenticator.AuthenticateAsync(http, operation, cancellationToken);
        var session = new CallerSession(caller, token => authenticator.AuthenticateAsync(http, operation, token));
        session.AttachTo(http);
        return session;
    }

    /// <summary>
    /// Authenticates a plain HTTP request and checks it against the rule of the RPC that does the same
    /// (<paramref name="rpcMethod"/>, e.g. <c>/modelbox.ModelStore/DownloadFile</c>) for <paramref name="request"/>.
    /// Null when auth is off.
    /// </summary>
    public async ValueTask<CallerSession?> AuthorizeLikeAsync(HttpContext http, string rpcMethod, IMessage request)
    {
        if (!Enforced)
        {
            return null;
        }

        var rule = RuleOf(rpcMethod);
        var session = await AuthenticateAsync(http, http.Request.Path.Value ?? rpcMethod, http.RequestAborted);
        await AuthorizeAsync(session.Current, rule, request, rpcMethod, http.RequestAborted);
        return session;
    }

    /// <summary>The rule of an RPC; an RPC without one is refused (a test checks every RPC has one).</summary>
    internal static RpcAccess RuleOf(string method) =>
        RpcAccessTable.Rules.TryGetValue(method, out var rule)
            ? rule
            : throw new ModelBoxException(ErrorKind.PermissionDenied, $"{method} has no access rule; it is refused while auth is enforced");

    internal async ValueTask AuthorizeAsync(CallerAccess caller, RpcAccess rule, IMessage request, string operation, CancellationToken cancellationToken)
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
                    throw Denied(caller, operation, $"{operation} is for admins only");
                }

                return;
            case RpcAccess.OnTargets onTargets:
                await RequireAsync(caller, onTargets.Role, onTargets.Targets(request), operation, cancellationToken);
                return;
            case RpcAccess.OnResolvedTargets resolved:
                IEnumerable<AccessTarget> targets;
                try
                {
                    targets = await resolved.Resolve(request, services, cancellationToken);
                }
                catch (ModelBoxException exception) when (exception.Kind == ErrorKind.NotFound && !caller.Admin)
                {
                    throw Denied(caller, operation, "it names an object that does not exist or that the caller may not see");
                }

                await RequireAsync(caller, resolved.Role, targets, operation, cancellationToken);
                return;
            default:
                throw new InvalidOperationException($"unknown access rule {rule.GetType().Name}");
        }
    }

    /// <summary>
    /// The caller needs <paramref name="role"/> on every target: a namespace, or an object whose namespace is looked up.
    /// An object that does not exist is refused like one the caller may not see, except to an admin (who then gets the
    /// operation's own NOT_FOUND).
    /// </summary>
    internal async ValueTask RequireAsync(CallerAccess caller, Role role, IEnumerable<AccessTarget> targets, string operation, CancellationToken cancellationToken)
    {
        // The objects a call names are looked up together: a batch call naming a thousand objects is one read, not a thousand.
        var named = targets.ToList();
        var namespaces = await objects.OfManyAsync(
            named.Where(t => t.Namespace is null && !string.IsNullOrEmpty(t.ObjectId)).Select(t => t.ObjectId!), cancellationToken);
        foreach (var target in named)
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
                @namespace = namespaces.GetValueOrDefault(target.ObjectId);
                if (@namespace is null)
                {
                    if (caller.Admin)
                    {
                        continue;
                    }

                    throw Denied(caller, operation, $"object '{target.ObjectId}' does not exist or the caller may not see it");
                }
            }

            if (caller.RoleOn(@namespace) < role)
            {
                throw Denied(
                    caller, operation, $"{caller.PrincipalId} needs the {Principals.RoleName(role)} role on namespace '{@namespace}' (or one above it)");
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

    /// <summary>PERMISSION_DENIED for a known caller (logged), UNAUTHENTICATED for one without credentials.</summary>
    internal ModelBoxException Denied(CallerAccess caller, string operation, string reason)
    {
        if (caller.IsAnonymous)
        {
            return NeedsToken();
        }

        SecurityLog.PermissionDenied(logger, operation, caller.PrincipalId, reason);
        return new ModelBoxException(ErrorKind.PermissionDenied, reason);
    }

    internal static ModelBoxException NeedsToken() => new(
        ErrorKind.Unauthenticated,
        "this call needs credentials: send 'authorization: Bearer <token>' (an API token from `modelbox client tokens create`, or an SSO JWT)");
}
