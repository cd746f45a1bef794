using Grpc.Core;
using ModelBox.Domain;
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
            ChangeStreamAccess.RequireSomethingReadable(session.Current, NamespaceScope.From(request.Namespace, request.Recursive));
        }

        var stream = changes.WatchAsync(request.Namespace, request.Recursive, request.Since, context.CancellationToken);
        await foreach (var change in stream.ReadableBy(session, context.CancellationToken))
        {
            await responseStream.WriteAsync(change.ToResponse(), context.CancellationToken);
        }
    }

    /// <summary>The subtrees the caller may read when auth is enforced; null when everything is readable.</summary>
    private static IReadOnlyList<NamespaceScope>? Readable(ServerCallContext context) => CallerSession.Of(context)?.Current.ReadableScopes;
}
