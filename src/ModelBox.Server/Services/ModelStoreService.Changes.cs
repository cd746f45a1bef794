using Grpc.Core;
using ModelBox.Protocol;

namespace ModelBox.Server.Services;

// The change stream of a namespace.
public sealed partial class ModelStoreService
{
    public override async Task WatchNamespace(
        WatchNamespaceRequest request, IServerStreamWriter<WatchNamespaceResponse> responseStream, ServerCallContext context)
    {
        await foreach (var change in changes.WatchAsync(request.Namespace, request.Recursive, request.Since, context.CancellationToken))
        {
            await responseStream.WriteAsync(change.ToResponse(), context.CancellationToken);
        }
    }
}
