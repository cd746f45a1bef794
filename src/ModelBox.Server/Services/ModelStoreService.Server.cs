using Grpc.Core;
using ModelBox.Protocol;

namespace ModelBox.Server.Services;

// What this server is.
public sealed partial class ModelStoreService
{
    public override Task<GetServerInfoResponse> GetServerInfo(GetServerInfoRequest request, ServerCallContext context) =>
        Task.FromResult(config.ToServerInfo());
}
