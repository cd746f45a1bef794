using ModelBox.Domain.Operations;
using ModelBox.Domain.Storage;
using ModelBox.Server.Configuration;
using ModelBox.Server.Mlflow;

namespace ModelBox.Server.Hosting;

/// <summary>
/// Runs the <see cref="BlobCollector"/> in the background: once right after start-up, then every
/// <see cref="ServerConfig.ArtifactSweepIntervalSeconds"/>. It removes committed blobs that no file record uses (each
/// under its reference lock in the metadata database, so replicas sweeping at once and uploads of the same bytes stay
/// safe), temporary uploads idle for longer than the grace age, kept partial uploads not resumed within
/// <see cref="ServerConfig.ResumableUploadKeepSeconds"/>, and MLflow multipart uploads abandoned for a week; and it
/// forgets metric batch ids older than <see cref="ServerConfig.MetricBatchIdRetentionHours"/>. A failed sweep is logged and
/// tried again next time.
/// </summary>
internal sealed class ArtifactSweeper(
    BlobCollector collector, MlflowMultipartUploads multipart, IMetricStore metrics, ServerConfig config, TimeProvider time,
    ILogger<ArtifactSweeper> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Off the start-up path: listing a large store takes a while.
        await Task.Yield();
        var grace = TimeSpan.FromSeconds(config.ArtifactSweepGraceSeconds);

        // Temporaries were swept before the server started listening; the first pass here does the committed blobs.
        await SweepAsync(grace, temporariesToo: false, stoppingToken);
        if (config.ArtifactSweepIntervalSeconds == 0)
        {
            return;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(config.ArtifactSweepIntervalSeconds), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await SweepAsync(grace, temporariesToo: true, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private async Task SweepAsync(TimeSpan grace, bool temporariesToo, CancellationToken stoppingToken)
    {
        try
        {
            var temporaries = (temporariesToo ? await collector.CollectTemporariesAsync(grace, stoppingToken) : 0)
                + await collector.CollectPartialsAsync(TimeSpan.FromSeconds(config.ResumableUploadKeepSeconds), stoppingToken)
                + multipart.RemoveAbandoned(time.GetUtcNow());
            var blobs = await collector.CollectUnreferencedAsync(grace, stoppingToken);
            if (blobs + temporaries > 0)
            {
                ServerLog.ArtifactStoreSwept(logger, blobs, temporaries);
            }

            if (config.MetricBatchIdRetentionHours > 0)
            {
                var forgotten = await metrics.ForgetBatchIdsAsync(time.GetUtcNow().AddHours(-config.MetricBatchIdRetentionHours), stoppingToken);
                if (forgotten > 0)
                {
                    ServerLog.MetricBatchIdsForgotten(logger, forgotten, config.MetricBatchIdRetentionHours);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down mid-sweep: every step is safe to stop at, the next start sweeps again.
        }
        catch (Exception exception)
        {
            ServerLog.ArtifactSweepFailed(logger, exception);
        }
    }
}
