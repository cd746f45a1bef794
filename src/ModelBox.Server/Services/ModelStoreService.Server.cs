using Grpc.Core;
using ModelBox.Protocol;
using ModelBox.Server.Configuration;
using ModelBox.Server.Hosting;

namespace ModelBox.Server.Services;

public sealed partial class ModelStoreService
{
    private readonly ServerConfig _serverConfig = services.GetRequiredService<ServerConfig>();

    public override Task<GetServerInfoResponse> GetServerInfo(GetServerInfoRequest request, ServerCallContext context) =>
        Task.FromResult(new GetServerInfoResponse
        {
            Version = ModelBoxServer.Version,
            MetadataStorage = _serverConfig.MetadataStorage,
            ArtifactStorage = _serverConfig.ArtifactStorage,
            StartedAt = ModelBoxServer.ProcessStartedAt.ToTimestamp(),
            HostName = Environment.MachineName,
        });
}
