using System.Runtime.CompilerServices;
using ModelBox.Domain;
using ModelBox.Domain.Access;
using ModelBox.Domain.Changes;

namespace ModelBox.Server.Security;

/// <summary>
/// What a watcher may see of the change stream when auth is enforced, for the WatchNamespace RPC and the web UI's
/// server-sent events alike: it must be able to read the namespace it watches (or, watching a subtree, something below
/// it), and each change is judged against its current grants, so a revoked grant stops the flow and a revoked token ends
/// the stream (UNAUTHENTICATED) within the access refresh interval.
/// </summary>
internal static class ChangeStreamAccess
{
    /// <summary>The caller must be able to read the scope's root, or (a subtree) something below it.</summary>
    public static void RequireSomethingReadable(CallerAccess caller, NamespaceScope scope)
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

    /// <summary>
    /// The changes the caller of <paramref name="session"/> may read (all of them when auth is off: a null session),
    /// checking its grants again before each one.
    /// </summary>
    public static async IAsyncEnumerable<ChangeRecord> ReadableBy(
        this IAsyncEnumerable<ChangeRecord> changes, CallerSession? session, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var change in changes.WithCancellation(cancellationToken))
        {
            if (session is not null && !(await session.RefreshAsync(cancellationToken)).CanRead(change.Namespace))
            {
                continue;
            }

            yield return change;
        }
    }
}
