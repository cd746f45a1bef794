using ModelBox.Server.Configuration;
using ModelBox.Server.Hosting;
using Proto = ModelBox.Protocol;

namespace ModelBox.Server.Services;

/// <summary>What GetServerInfo tells about this server process.</summary>
internal static class ServerMapping
{
    public static Proto.GetServerInfoResponse ToServerInfo(this ServerConfig config) => new()
    {
        Version = ModelBoxServer.Version,
        MetadataStorage = config.MetadataStorage,
        ArtifactStorage = config.ArtifactStorage,
        StartedAt = ModelBoxServer.ProcessStartedAt.ToTimestamp(),
        HostName = Environment.MachineName,
    };
}
