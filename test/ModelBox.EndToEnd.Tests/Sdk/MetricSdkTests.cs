using ModelBox.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Sdk;

[Collection(ServerCollection.Name)]
public sealed class MetricSdkTests(ModelBoxServerFixture server) : SdkTestBase(server)
{
    private static readonly DateTimeOffset T = DateTimeOffset.FromUnixTimeSeconds(1_714_564_800);

    [Fact]
    public async Task Logged_values_of_every_kind_come_back_from_get_metrics()
    {
        var run = await NewExperimentAsync();

        await Client.LogMetricAsync(run, "loss", 0.5f, step: 1, time: T);
        await Client.LogMetricAsync(run, "loss", float.NaN, step: 2, time: T);
        await Client.LogMetricAsync(run, "lr", 1e-300, step: 1, time: T);
        await Client.LogMetricAsync(run, "sample", MetricValue.FromString("the cat"), step: 1, time: T);
        await Client.LogMetricAsync(run, "embedding", MetricValue.FromBytes([1, 2, 3]), step: 1, time: T);

        var metrics = await Client.GetMetricsAsync(run);

        Assert.Equal(["embedding", "loss", "lr", "sample"], metrics.Select(m => m.Key));
        var loss = metrics.Single(m => m.Key == "loss").Points;
        Assert.Equal(new MetricPoint(1, T, 0.5f), loss[0]);
        Assert.Equal(MetricValueKind.Float, loss[1].Value.Kind);
        Assert.True(double.IsNaN(loss[1].Value.Number));
        Assert.Equal(1e-300, metrics.Single(m => m.Key == "lr").Points[0].Value.Number);
        Assert.Equal(MetricValueKind.Double, metrics.Single(m => m.Key == "lr").Points[0].Value.Kind);
        Assert.Equal("the cat", metrics.Single(m => m.Key == "sample").Points[0].Value.Text);
        Assert.Equal([1, 2, 3], metrics.Single(m => m.Key == "embedding").Points[0].Value.Bytes);
    }

    [Fact]
    public async Task A_batch_over_two_parents_is_stored_and_counted()
    {
        var first = await NewExperimentAsync();
        var second = await NewExperimentAsync();

        var stored = await Client.LogMetricsBatchAsync(
        [
            new MetricSeriesPoints(first, "loss", [new MetricPoint(0, T, 1.0), new MetricPoint(1, T, 0.5)]),
            new MetricSeriesPoints(second, "loss", [new MetricPoint(0, T, 2.0)]),
        ]);

        Assert.Equal(3, stored);
        Assert.Equal(2, Assert.Single(await Client.GetMetricsAsync(first)).Points.Count);
        Assert.Single(Assert.Single(await Client.GetMetricsAsync(second)).Points);
    }

    [Fact]
    public async Task The_metric_logger_stores_every_point_by_dispose_and_series_reads_downsample_it()
    {
        var run = await NewExperimentAsync();
        await using (var logger = Client.CreateMetricLogger(run, new MetricLoggerOptions { BatchSize = 700, MaxBufferedPoints = 1000 }))
        {
            for (var step = 0; step < 5000; step++)
            {
                await logger.LogAsync("loss", 1.0 / (step + 1), step, T);
                await logger.LogAsync("accuracy", step / 5000f, step, T);
            }
        }

        var view = await Client.GetMetricSeriesAsync(run, "loss", maxPoints: 500);
        var exported = await Client.ExportMetricPointsAsync(run, "accuracy", pageSize: 1234).ToListAsync();

        Assert.True(view.Downsampled);
        Assert.Equal(5000, view.TotalPoints);
        Assert.InRange(view.Points.Count, 2, 500);
        Assert.Equal(0, view.Points[0].Step);
        Assert.Equal(4999, view.Points[^1].Step);
        Assert.Equal(Enumerable.Range(0, 5000).Select(i => (long)i), exported.Select(p => p.Step));
    }

    [Fact]
    public async Task Flush_returns_once_every_earlier_point_is_readable()
    {
        var run = await NewExperimentAsync();
        await using var logger = Client.CreateMetricLogger(run, new MetricLoggerOptions { FlushInterval = TimeSpan.FromHours(1) });

        for (var step = 0; step < 10; step++)
        {
            await logger.LogAsync("loss", step, step, T);
        }

        await logger.FlushAsync();

        Assert.Equal(10, Assert.Single(await Client.GetMetricsAsync(run)).Points.Count);
        Assert.Equal(10, logger.PointsStored);
    }

    [Fact]
    public async Task A_failed_send_surfaces_from_the_next_call_instead_of_dropping_points()
    {
        var run = await NewExperimentAsync();
        var logger = Client.CreateMetricLogger(run, new MetricLoggerOptions { FlushInterval = TimeSpan.FromHours(1) });
        await logger.LogAsync("loss", 1.0, 0, T);
        await logger.FlushAsync();

        // The run disappears while the logger still has points for it.
        await Client.DeleteExperimentAsync(run);
        await logger.LogAsync("loss", 2.0, 1, T);

        var flushError = await Assert.ThrowsAsync<ModelBoxNotFoundException>(() => logger.FlushAsync());
        var logError = await Assert.ThrowsAnyAsync<ModelBoxException>(() => logger.LogAsync("loss", 3.0, 2, T).AsTask());
        var disposeError = await Assert.ThrowsAnyAsync<ModelBoxException>(() => logger.DisposeAsync().AsTask());
        Assert.Contains(run, flushError.Message, StringComparison.Ordinal);
        Assert.Contains(run, logError.Message, StringComparison.Ordinal);
        Assert.Contains(run, disposeError.Message, StringComparison.Ordinal);
        Assert.Equal(1, logger.PointsStored);
    }

    [Fact]
    public async Task Log_waits_while_the_buffer_is_full_and_resumes_as_batches_drain()
    {
        var run = await NewExperimentAsync();
        await using (var logger = Client.CreateMetricLogger(run, new MetricLoggerOptions { BatchSize = 10, MaxBufferedPoints = 10, MaxConcurrentSends = 1 }))
        {
            // Far more points than the buffer holds: each LogAsync either fits or waits for a send to free room.
            for (var step = 0; step < 2000; step++)
            {
                await logger.LogAsync("loss", step, step, T);
            }
        }

        Assert.Equal(2000, Assert.Single(await Client.GetMetricsAsync(run)).Points.Count);
    }

    [Fact]
    public async Task A_bad_key_is_refused_by_the_logger_at_once()
    {
        var run = await NewExperimentAsync();
        await using var logger = Client.CreateMetricLogger(run);

        await Assert.ThrowsAsync<ArgumentException>(() => logger.LogAsync("", 1.0, 0).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => logger.LogAsync(new string('k', 251), 1.0, 0).AsTask());
    }

    [Fact]
    public async Task The_resource_usage_logger_records_cpu_memory_and_gc_figures()
    {
        var run = await NewExperimentAsync();
        await using (var usage = Client.StartResourceUsageLogger(run, TimeSpan.FromHours(1)))
        {
            await usage.LogSampleAsync();
            await usage.LogSampleAsync();
        }

        var metrics = (await Client.GetMetricsAsync(run)).ToDictionary(m => m.Key);

        foreach (var key in new[] { "system/cpu_percent", "system/working_set_bytes", "system/gc_heap_bytes", "system/gc_gen0_collections", "system/gc_gen1_collections", "system/gc_gen2_collections" })
        {
            Assert.Equal([0L, 1L], metrics[key].Points.Select(p => p.Step));
        }

        Assert.All(metrics["system/working_set_bytes"].Points, p => Assert.True(p.Value.Number > 1_000_000));
        Assert.All(metrics["system/cpu_percent"].Points, p => Assert.InRange(p.Value.Number, 0, 100.0 * Environment.ProcessorCount));
    }

    [Fact]
    public void Nvidia_smi_lines_parse_and_not_available_lines_are_skipped()
    {
        var gpus = ResourceUsageLogger.ParseNvidiaSmi("0, 87, 10240\n1, [N/A], 5\n2, 3, 512\n");

        Assert.Equal([new ResourceUsageLogger.GpuSample(0, 87, 10240), new ResourceUsageLogger.GpuSample(2, 3, 512)], gpus);
    }

    [Fact]
    public async Task Unknown_parents_are_not_found_and_bad_keys_invalid()
    {
        var unknown = ModelBox.Domain.ObjectIds.Experiment(Namespace, "never-created");

        await Assert.ThrowsAsync<ModelBoxNotFoundException>(() => Client.GetMetricsAsync(unknown));
        await Assert.ThrowsAsync<ModelBoxNotFoundException>(() => Client.LogMetricAsync(unknown, "loss", 1.0));
        var run = await NewExperimentAsync();
        await Assert.ThrowsAsync<ModelBoxInvalidArgumentException>(() => Client.LogMetricAsync(run, new string('k', 251), 1.0));
    }

    private async Task<string> NewExperimentAsync() =>
        (await Client.CreateExperimentAsync(Unique("run"), "a@b.c", Namespace, Framework.PyTorch)).Value.Id;
}
