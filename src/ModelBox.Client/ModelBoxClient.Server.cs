using Grpc.Core;
using Grpc.Health.V1;
using ModelBox.Protocol;

namespace ModelBox.Client;

/// <summary>A server's health and identity.</summary>
/// <param name="Status">The gRPC health status of the server: <c>SERVING</c>, <c>NOT_SERVING</c> or <c>UNKNOWN</c>.</param>
/// <param name="Version">The ModelBox version it runs.</param>
/// <param name="MetadataStorage">Its metadata backend.</param>
/// <param name="ArtifactStorage">Its artifact backend.</param>
/// <param name="StartedAt">When its process started.</param>
/// <param name="HostName">Its host name.</param>
public sealed record ServerStatus(string Status, string Version, string MetadataStorage, string ArtifactStorage, DateTimeOffset StartedAt, string HostName)
{
    /// <summary>True when the server reports SERVING.</summary>
    public bool IsServing => Status == "SERVING";
}

public sealed partial class ModelBoxClient
{
    /// <summary>Asks the server for its health (the standard gRPC health service) and identity.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<ServerStatus> GetServerStatusAsync(CancellationToken cancellationToken = default)
    {
        var health = new Health.HealthClient(_channel);
        string status;
        try
        {
            var response = await health.CheckAsync(new HealthCheckRequest(), cancellationToken: cancellationToken).ConfigureAwait(false);
            status = response.Status switch
            {
                HealthCheckResponse.Types.ServingStatus.Serving => "SERVING",
                HealthCheckResponse.Types.ServingStatus.NotServing => "NOT_SERVING",
                _ => "UNKNOWN",
            };
        }
        catch (RpcException exception) when (exception.StatusCode != StatusCode.Unavailable)
        {
            status = "UNKNOWN";
        }
        catch (RpcException exception)
        {
            throw ModelBoxException.FromRpcException(exception, Address, _options.Token);
        }

        var info = await InvokeAsync(o => _store.GetServerInfoAsync(new GetServerInfoRequest(), o), cancellationToken).ConfigureAwait(false);
        return new ServerStatus(status, info.Version, info.MetadataStorage, info.ArtifactStorage, info.StartedAt.ToDateTimeOffset(), info.HostName);
    }
}
