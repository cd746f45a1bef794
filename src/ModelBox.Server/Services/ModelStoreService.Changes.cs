using Grpc.Core;
using ModelBox.Domain;
using ModelBox.Domain.Access;
using ModelBox.Protocol;
using ModelBox.Server.Security;

namespace ModelBox.Server.Services;

// The change stream of a namespace.
public sealed partial class ModelStoreService
{
    public override async Task WatchNamespace(
        WatchNamespaceRequest request, IServerStreamWriter<WatchNamespaceResponse> responseStream, ServerCallContext context)
    {
        // With auth enforced a watcher sees only changes in namespaces it may read, judged change by change against its
        // current grants: a revoked grant stops the flow, a revoked token ends the stream, within the access refresh interval.
        var session = CallerSession.Of(context);
        if (session is not null)
        {
            RequireSomethingReadable(session.Current, NamespaceScope.From(request.Namespace, request.Recursive));
        }

        await foreach (var change in changes.WatchAsync(request.Namespace, request.Recursive, request.Since, context.CancellationToken))
        {
            if (session is not null && !(await session.RefreshAsync(context.CancellationToken)).CanRead(change.Namespace))
            {
                continue;
            }

            await responseStream.WriteAsync(change.ToResponse(), context.CancellationToken);
        }
    }

    /// <summary>The caller must be able to read the scope's root, or (a subtree) something below it.</summary>
    private static void RequireSomethingReadable(CallerAccess caller, NamespaceScope scope)
    {
        if (caller.CanRead(scope.Root)
            || (scope.Recursive && caller.ReadableScopes is { } readable && readable.Any(r => NamespaceScope.IsBelow(r.Root, scope.Root))))
        {
            return;
        }

        throw caller.IsAnonymous
            ? new ModelBoxException(ErrorKind.Unauthenticated, "watching this namespace needs credentials: send 'authorization: Bearer <token>'")
            : new ModelBoxException(ErrorKind.PermissionDenied, $"{caller.PrincipalId} may not read namespace '{scope.Root}'" + (scope.Recursive ? " or any below it" : string.Empty));
    }

    /// <summary>The subtrees the caller may read when auth is enforced; null when everything is readable.</summary>
    private static IReadOnlyList<NamespaceScope>? Readable(ServerCallContext context) => CallerSession.Of(context)?.Current.ReadableScopes;
}
