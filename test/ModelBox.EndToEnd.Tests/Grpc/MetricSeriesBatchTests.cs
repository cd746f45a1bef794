using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Net.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;
using MetricSeriesPoints = ModelBox.Protocol.MetricSeriesPoints;

namespace ModelBox.EndToEnd.Tests.Grpc;

/// <summary>Many series in one call (GetMetricSeriesBatch) and series summaries (GetMetricSummaries), over gRPC and REST.</summary>
[Collection(ServerCollection.Name)]
public sealed class MetricSeriesBatchTests(ModelBoxServerFixture server) : IAsyncLifetime
{
    private const ulong T0 = 1_714_564_800;
    private GrpcChannel? _channel;
    private ModelStore.ModelStoreClient _client = null!;
    private readonly HttpClient _http = new() { BaseAddress = new Uri(server.HttpAddress) };

    public Task InitializeAsync()
    {
        _client = server.CreateGrpcClient(out _channel);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        _channel?.Dispose();
        _http.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_batch_read_answers_every_series_in_request_order_downsampled_like_the_single_read()
    {
        var (first, second) = (await RunAsync(), await RunAsync());
        await LogAsync(first, "loss", 20_000, spikeAt: 12_345);
        await LogAsync(second, "loss", 3_000, spikeAt: 2_000);

        var request = new GetMetricSeriesBatchRequest { MaxPoints = 200 };
        request.Series.Add(new MetricSeriesRef { ParentId = second, Key = "loss" });
        request.Series.Add(new MetricSeriesRef { ParentId = first, Key = "loss" });
        request.Series.Add(new MetricSeriesRef { ParentId = first, Key = "never-logged" });
        var batch = await _client.GetMetricSeriesBatchAsync(request);
        var single = await _client.GetMetricSeriesAsync(new GetMetricSeriesRequest { ParentId = first, Key = "loss", MaxPoints = 200 });

        Assert.Equal([(second, "loss"), (first, "loss"), (first, "never-logged")], batch.Series.Select(s => (s.ParentId, s.Key)));
        var longRun = batch.Series[1];
        Assert.True(longRun.Downsampled);
        Assert.Equal(20_000UL, longRun.TotalPoints);
        Assert.InRange(longRun.Values.Count, 2, 200);
        Assert.Equal((0UL, 19_999UL), (longRun.Values[0].Step, longRun.Values[^1].Step));
        Assert.Contains(longRun.Values, v => v.Step == 12_345 && v.DVal == 1e9);
        Assert.Contains(longRun.Values, v => double.IsNaN(v.DVal));
        Assert.Equal(single.Values, longRun.Values);
        Assert.Equal(T0, longRun.StartTime);
        Assert.Equal(3_000UL, batch.Series[0].TotalPoints);
        Assert.Empty(batch.Series[2].Values);
        Assert.Equal(0UL, batch.Series[2].TotalPoints);
    }

    [Fact]
    public async Task Time_ranges_select_the_points_logged_between_them_on_both_time_axes()
    {
        var run = await RunAsync();
        // One point a step, one second apart, starting at T0.
        await LogAsync(run, "loss", 1_000, spikeAt: -1);

        var wall = await ReadAsync(run, MetricAxis.WallTime, T0 + 100, T0 + 199);
        var relative = await ReadAsync(run, MetricAxis.RelativeTime, 100, 199);
        var steps = await ReadAsync(run, MetricAxis.Step, 100, 199);

        Assert.Equal(Enumerable.Range(100, 100).Select(i => (ulong)i), wall.Values.Select(v => v.Step));
        Assert.Equal(wall.Values, relative.Values);
        Assert.Equal(wall.Values, steps.Values);
        Assert.False(wall.Downsampled);
        Assert.Empty((await ReadAsync(run, MetricAxis.WallTime, T0 + 5_000, T0 + 6_000)).Values);
    }

    [Fact]
    public async Task Rest_routes_read_many_series_and_their_summaries()
    {
        var (first, second) = (await RunAsync(), await RunAsync());
        await LogAsync(first, "loss", 5_000, spikeAt: 10);
        await LogAsync(second, "loss", 10, spikeAt: -1);

        using var read = await _http.PostAsJsonAsync("/api/v1/metrics/series/batch-get", new
        {
            series = new[] { new { parentId = first, key = "loss" }, new { parentId = second, key = "loss" } },
            maxPoints = 100,
        });
        using var summaries = await _http.PostAsJsonAsync("/api/v1/metrics/summaries/batch-get", new { parentIds = new[] { first, second }, keys = new[] { "loss" } });
        using var invalid = await _http.PostAsJsonAsync("/api/v1/metrics/series/batch-get", new { series = Array.Empty<object>() });

        read.EnsureSuccessStatusCode();
        var body = await read.Content.ReadFromJsonAsync<JsonElement>();
        var series = body.GetProperty("series");
        Assert.Equal(first, series[0].GetProperty("parentId").GetString());
        Assert.True(series[0].GetProperty("downsampled").GetBoolean());
        Assert.InRange(series[0].GetProperty("values").GetArrayLength(), 2, 100);
        Assert.Equal(10, series[1].GetProperty("values").GetArrayLength());
        summaries.EnsureSuccessStatusCode();
        var table = (await summaries.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("summaries");
        var firstLoss = table.EnumerateArray().Single(s => s.GetProperty("parentId").GetString() == first);
        Assert.Equal(5000, Integer(firstLoss.GetProperty("count")));
        // A NaN ranks above every number, so it is what the maximum shows.
        Assert.Equal("NaN", firstLoss.GetProperty("max").GetProperty("dVal").GetString());
        Assert.Equal(1.0, firstLoss.GetProperty("first").GetProperty("dVal").GetDouble());
        Assert.Equal(4999, Integer(firstLoss.GetProperty("last").GetProperty("step")));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Contains("series is required", await invalid.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Summaries_give_count_last_min_and_max_without_points()
    {
        var run = await RunAsync();
        await LogAsync(run, "loss", 3_000, spikeAt: 7);

        var response = await _client.GetMetricSummariesAsync(new GetMetricSummariesRequest { ParentIds = { run } });

        var loss = Assert.Single(response.Summaries);
        Assert.Equal((run, "loss", 3_000UL), (loss.ParentId, loss.Key, loss.Count));
        Assert.Equal(2_999UL, loss.Last.Step);
        Assert.True(double.IsNaN(loss.Max.DVal));
        Assert.Equal(1_500UL, loss.Max.Step);
        Assert.Equal((2_999UL, 1.0 / 3_000), (loss.Min.Step, loss.Min.DVal));
        Assert.Equal(1UL, loss.NanCount);
        Assert.Equal(3_000UL, loss.NumericCount);
    }

    /// <summary>A 64-bit integer in JSON: proto3's mapping allows a string or a number.</summary>
    private static long Integer(JsonElement value) =>
        value.ValueKind == JsonValueKind.String ? long.Parse(value.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : value.GetInt64();

    private async Task<MetricSeriesData> ReadAsync(string run, MetricAxis axis, ulong start, ulong end)
    {
        var request = new GetMetricSeriesBatchRequest { XAxis = axis, Start = start, End = end, MaxPoints = 1_000 };
        request.Series.Add(new MetricSeriesRef { ParentId = run, Key = "loss" });
        return Assert.Single((await _client.GetMetricSeriesBatchAsync(request)).Series);
    }

    private async Task<string> RunAsync() =>
        (await _client.CreateExperimentAsync(new CreateExperimentRequest { Name = "batch-" + Guid.NewGuid().ToString("N"), Namespace = "metrics-batch" })).ExperimentId;

    /// <summary>Steps 0..count-1, one second apart from T0: 1/(step+1), a NaN at the middle step, 1e9 at <paramref name="spikeAt"/>.</summary>
    private async Task LogAsync(string parent, string key, int count, int spikeAt)
    {
        var batch = new LogMetricsBatchRequest();
        var series = new MetricSeriesPoints { ParentId = parent, Key = key };
        series.Values.Add(Enumerable.Range(0, count).Select(i => new MetricsValue
        {
            Step = (ulong)i,
            WallclockTime = T0 + (ulong)i,
            DVal = i == spikeAt ? 1e9 : spikeAt >= 0 && i == count / 2 ? double.NaN : 1.0 / (i + 1),
        }));
        batch.Series.Add(series);
        await _client.LogMetricsBatchAsync(batch);
    }
}
