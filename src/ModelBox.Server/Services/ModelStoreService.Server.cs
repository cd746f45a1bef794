using Grpc.Core;
using ModelBox.Protocol;
using ModelBox.Server.Hosting;

namespace ModelBox.Server.Services;

public sealed partial class ModelStoreService
{
    public override Task<GetServerInfoResponse> GetServerInfo(GetServerInfoRequest request, ServerCallContext context) =>
        Task.FromResult(new GetServerInfoResponse
        {
            Version = ModelBoxServer.Version,
            MetadataStorage = config.MetadataStorage,
            ArtifactStorage = config.ArtifactStorage,
            StartedAt = ModelBoxServer.ProcessStartedAt.ToTimestamp(),
            HostName = Environment.MachineName,
        });
}
