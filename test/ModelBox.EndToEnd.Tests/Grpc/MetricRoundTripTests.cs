using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Grpc;

/// <summary>The metric RPCs over real HTTP/2 with raw generated stubs, as any gRPC client sees them.</summary>
[Collection(ServerCollection.Name)]
public sealed class MetricRoundTripTests(ModelBoxServerFixture server) : IAsyncLifetime
{
    private GrpcChannel _channel = null!;
    private ModelStore.ModelStoreClient _client = null!;

    public Task InitializeAsync()
    {
        _client = server.CreateGrpcClient(out _channel);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        _channel.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Every_value_kind_and_non_finite_numbers_round_trip_through_log_and_get()
    {
        var parent = await NewExperimentAsync();
        MetricsValue[] values =
        [
            new() { Step = 1, WallclockTime = 100, FVal = float.NaN },
            new() { Step = 2, WallclockTime = 100, FVal = float.PositiveInfinity },
            new() { Step = 3, WallclockTime = 100, DVal = double.NegativeInfinity },
            new() { Step = 4, WallclockTime = 100, DVal = double.NaN },
            new() { Step = 5, WallclockTime = 100, DVal = 0.1 },
            new() { Step = 6, WallclockTime = 100, STensor = "[1, 2]" },
            new() { Step = 7, WallclockTime = 100, BTensor = ByteString.CopyFrom(1, 2, 3) },
        ];
        foreach (var value in values)
        {
            await _client.LogMetricsAsync(new LogMetricsRequest { ParentId = parent, Key = "diverging", Value = value });
        }

        var metrics = Assert.Single((await _client.GetMetricsAsync(new GetMetricsRequest { ParentId = parent })).Metrics);

        Assert.Equal("diverging", metrics.Key);
        Assert.Equal(values, metrics.Values);
    }

    [Fact]
    public async Task A_batch_sent_again_with_its_batch_id_is_stored_once_and_answered_with_the_first_count()
    {
        var parent = await NewExperimentAsync();
        LogMetricsBatchRequest Batch(string batchId, int first) => new()
        {
            BatchId = batchId,
            Series =
            {
                new MetricSeriesPoints
                {
                    ParentId = parent, Key = "loss",
                    Values = { Enumerable.Range(first, 3).Select(i => new MetricsValue { Step = (ulong)i, WallclockTime = 100, DVal = i }) },
                },
            },
        };

        var journal = "journal-" + Guid.NewGuid().ToString("N");
        var first = await _client.LogMetricsBatchAsync(Batch(journal + ":1", 0));
        // The same id again (a retry after a lost answer), concurrently twice, and once with other points: nothing stored.
        var repeats = await Task.WhenAll(
            _client.LogMetricsBatchAsync(Batch(journal + ":1", 0)).ResponseAsync,
            _client.LogMetricsBatchAsync(Batch(journal + ":1", 0)).ResponseAsync,
            _client.LogMetricsBatchAsync(Batch(journal + ":1", 50)).ResponseAsync);
        var next = await _client.LogMetricsBatchAsync(Batch(journal + ":2", 3));

        Assert.Equal(3UL, first.NumPointsWritten);
        Assert.All(repeats, response => Assert.Equal(3UL, response.NumPointsWritten));
        Assert.Equal(3UL, next.NumPointsWritten);
        var series = Assert.Single((await _client.GetMetricsAsync(new GetMetricsRequest { ParentId = parent })).Metrics);
        Assert.Equal(Enumerable.Range(0, 6).Select(i => (ulong)i), series.Values.Select(v => v.Step));
    }

    [Fact]
    public async Task A_point_without_wallclock_time_gets_the_server_time()
    {
        var parent = await NewExperimentAsync();
        var before = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        await _client.LogMetricsAsync(new LogMetricsRequest { ParentId = parent, Key = "loss", Value = new MetricsValue { Step = 1, FVal = 1 } });

        var point = Assert.Single(Assert.Single((await _client.GetMetricsAsync(new GetMetricsRequest { ParentId = parent })).Metrics).Values);
        Assert.InRange(point.WallclockTime, before, (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds());
    }

    [Fact]
    public async Task Metrics_attach_to_checkpoints_models_and_model_versions_too()
    {
        var experiment = await NewExperimentAsync();
        var checkpoint = (await _client.CreateCheckpointAsync(new CreateCheckpointRequest { ExperimentId = experiment, Epoch = 1 })).CheckpointId;
        var model = (await _client.CreateModelAsync(new CreateModelRequest { Name = "m-" + Guid.NewGuid().ToString("N"), Namespace = "metrics-rt" })).Id;
        var version = (await _client.CreateModelVersionAsync(new CreateModelVersionRequest { Model = model, Version = "1" })).ModelVersion;

        foreach (var parent in new[] { checkpoint, model, version })
        {
            await _client.LogMetricsAsync(new LogMetricsRequest { ParentId = parent, Key = "accuracy", Value = new MetricsValue { Step = 1, DVal = 0.9 } });
            Assert.Equal(0.9, Assert.Single(Assert.Single((await _client.GetMetricsAsync(new GetMetricsRequest { ParentId = parent })).Metrics).Values).DVal);
        }
    }

    [Fact]
    public async Task A_client_stream_of_batches_reports_every_stored_point()
    {
        var parent = await NewExperimentAsync();
        using var call = _client.LogMetricsStream();
        for (var b = 0; b < 10; b++)
        {
            var batch = new LogMetricsBatchRequest();
            foreach (var key in new[] { "loss", "lr" })
            {
                var series = new MetricSeriesPoints { ParentId = parent, Key = key };
                series.Values.Add(Enumerable.Range(0, 100).Select(i => new MetricsValue { Step = (ulong)((b * 100) + i), WallclockTime = 1, FVal = i }));
                batch.Series.Add(series);
            }

            await call.RequestStream.WriteAsync(batch);
        }

        await call.RequestStream.CompleteAsync();
        var response = await call;

        Assert.Equal(2000UL, response.NumPointsWritten);
        var metrics = (await _client.GetMetricsAsync(new GetMetricsRequest { ParentId = parent })).Metrics;
        Assert.Equal(["loss", "lr"], metrics.Select(m => m.Key));
        Assert.All(metrics, m => Assert.Equal(Enumerable.Range(0, 1000).Select(i => (ulong)i), m.Values.Select(v => v.Step)));
    }

    [Fact]
    public async Task A_stream_with_a_bad_batch_fails_and_says_how_much_was_stored()
    {
        var parent = await NewExperimentAsync();
        using var call = _client.LogMetricsStream();
        var good = new LogMetricsBatchRequest();
        good.Series.Add(new MetricSeriesPoints { ParentId = parent, Key = "loss", Values = { new MetricsValue { Step = 1, FVal = 1 } } });
        await call.RequestStream.WriteAsync(good);
        var bad = new LogMetricsBatchRequest();
        bad.Series.Add(new MetricSeriesPoints { ParentId = parent, Key = "", Values = { new MetricsValue { Step = 2, FVal = 2 } } });
        try
        {
            await call.RequestStream.WriteAsync(bad);
            await call.RequestStream.CompleteAsync();
        }
        catch (RpcException)
        {
            // The server may end the call before the client finishes writing; the status below is what counts.
        }
        catch (InvalidOperationException)
        {
        }

        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("series[0].key", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("1 points of this stream were stored", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Series_downsampling_keeps_first_last_and_spikes_and_export_pages_every_point()
    {
        var parent = await NewExperimentAsync();
        var batch = new LogMetricsBatchRequest();
        var series = new MetricSeriesPoints { ParentId = parent, Key = "loss" };
        series.Values.Add(Enumerable.Range(0, 5000).Select(i => new MetricsValue { Step = (ulong)i, WallclockTime = 1, DVal = i == 2500 ? double.NaN : i == 1234 ? 1e9 : 1.0 / (i + 1) }));
        batch.Series.Add(series);
        Assert.Equal(5000UL, (await _client.LogMetricsBatchAsync(batch)).NumPointsWritten);

        var view = await _client.GetMetricSeriesAsync(new GetMetricSeriesRequest { ParentId = parent, Key = "loss", MaxPoints = 100 });
        var range = await _client.GetMetricSeriesAsync(new GetMetricSeriesRequest { ParentId = parent, Key = "loss", StartStep = 10, EndStep = 19 });

        Assert.True(view.Downsampled);
        Assert.Equal(5000UL, view.TotalPoints);
        Assert.InRange(view.Values.Count, 2, 100);
        Assert.Equal(0UL, view.Values[0].Step);
        Assert.Equal(4999UL, view.Values[^1].Step);
        Assert.Contains(view.Values, v => v.Step == 1234);
        Assert.Contains(view.Values, v => double.IsNaN(v.DVal));
        Assert.Equal(view.Values.OrderBy(v => v.Step).Select(v => v.Step), view.Values.Select(v => v.Step));
        Assert.False(range.Downsampled);
        Assert.Equal(Enumerable.Range(10, 10).Select(i => (ulong)i), range.Values.Select(v => v.Step));

        var exported = new List<MetricsValue>();
        var token = "";
        do
        {
            var page = await _client.ExportMetricPointsAsync(new ExportMetricPointsRequest { ParentId = parent, Key = "loss", PageSize = 1500, PageToken = token });
            exported.AddRange(page.Values);
            token = page.NextPageToken;
        }
        while (token.Length > 0);

        Assert.Equal(series.Values, exported);
    }

    private async Task<string> NewExperimentAsync() =>
        (await _client.CreateExperimentAsync(new CreateExperimentRequest { Name = "metrics-" + Guid.NewGuid().ToString("N"), Namespace = "metrics-rt" })).ExperimentId;
}
