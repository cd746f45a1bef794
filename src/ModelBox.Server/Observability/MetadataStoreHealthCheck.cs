using Microsoft.Extensions.Diagnostics.HealthChecks;
using ModelBox.Domain.Storage;

namespace ModelBox.Server.Observability;

/// <summary>
/// Healthy while the metadata store answers a round trip and the server is not shutting down. A probe during shutdown
/// is unhealthy (NOT_SERVING, so that load balancers drain the server) without a log line; an unreachable store is logged.
/// </summary>
public sealed class MetadataStoreHealthCheck(IMetadataStore store, IHostApplicationLifetime lifetime, ILogger<MetadataStoreHealthCheck> logger) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("the server is shutting down");
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            await store.PingAsync(timeout.Token);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            ServerLog.HealthCheckFailed(logger, ex);
            return HealthCheckResult.Unhealthy("the metadata store is unreachable", ex);
        }
    }
}
