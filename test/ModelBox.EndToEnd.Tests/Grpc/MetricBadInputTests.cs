using Grpc.Core;
using Grpc.Net.Client;
using ModelBox.Domain;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;
using MetricAxis = ModelBox.Protocol.MetricAxis;
using MetricSeriesPoints = ModelBox.Protocol.MetricSeriesPoints;

namespace ModelBox.EndToEnd.Tests.Grpc;

/// <summary>The metric RPCs with missing, oversized, malformed and unknown input: each gets its status naming the field or id.</summary>
[Collection(ServerCollection.Name)]
public sealed class MetricBadInputTests : IAsyncLifetime
{
    private static readonly string UnknownExperiment = ObjectIds.Experiment("nowhere", Guid.NewGuid().ToString());
    private static readonly string UnknownVersion = ObjectIds.ModelVersion(ObjectIds.Model("nowhere", "m"), "1");
    private static readonly string LongKey = new('k', 251);

    private sealed record Case(StatusCode Status, string MessagePart, Func<ModelStore.ModelStoreClient, string, Task> Call);

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["LogMetrics without parent"] = new(StatusCode.InvalidArgument, "parent_id", (c, _) => c.LogMetricsAsync(new LogMetricsRequest { Key = "loss", Value = Float(1) }).ResponseAsync),
        ["LogMetrics malformed parent"] = new(StatusCode.InvalidArgument, "parent_id", (c, _) => c.LogMetricsAsync(new LogMetricsRequest { ParentId = "nope", Key = "loss", Value = Float(1) }).ResponseAsync),
        ["LogMetrics unknown experiment"] = new(StatusCode.NotFound, UnknownExperiment, (c, _) => c.LogMetricsAsync(new LogMetricsRequest { ParentId = UnknownExperiment, Key = "loss", Value = Float(1) }).ResponseAsync),
        ["LogMetrics unknown model version"] = new(StatusCode.NotFound, UnknownVersion, (c, _) => c.LogMetricsAsync(new LogMetricsRequest { ParentId = UnknownVersion, Key = "loss", Value = Float(1) }).ResponseAsync),
        ["LogMetrics empty key"] = new(StatusCode.InvalidArgument, "key", (c, p) => c.LogMetricsAsync(new LogMetricsRequest { ParentId = p, Value = Float(1) }).ResponseAsync),
        ["LogMetrics key of 251 characters"] = new(StatusCode.InvalidArgument, "key is 251 characters long; the limit is 250", (c, p) => c.LogMetricsAsync(new LogMetricsRequest { ParentId = p, Key = LongKey, Value = Float(1) }).ResponseAsync),
        ["LogMetrics key with a newline"] = new(StatusCode.InvalidArgument, "key", (c, p) => c.LogMetricsAsync(new LogMetricsRequest { ParentId = p, Key = "a\nb", Value = Float(1) }).ResponseAsync),
        ["LogMetrics without value"] = new(StatusCode.InvalidArgument, "value is required", (c, p) => c.LogMetricsAsync(new LogMetricsRequest { ParentId = p, Key = "loss" }).ResponseAsync),
        ["LogMetrics value oneof not set"] = new(StatusCode.InvalidArgument, "value has no value", (c, p) => c.LogMetricsAsync(new LogMetricsRequest { ParentId = p, Key = "loss", Value = new MetricsValue { Step = 1 } }).ResponseAsync),
        ["LogMetrics step beyond int64"] = new(StatusCode.InvalidArgument, "step", (c, p) => c.LogMetricsAsync(new LogMetricsRequest { ParentId = p, Key = "loss", Value = new MetricsValue { Step = ulong.MaxValue, FVal = 1 } }).ResponseAsync),
        ["LogMetricsBatch unset value names its position"] = new(StatusCode.InvalidArgument, "series[1].values[2]", (c, p) => c.LogMetricsBatchAsync(Batch(p, "ok", "loss", unsetAt: 2)).ResponseAsync),
        ["LogMetricsBatch empty key names its series"] = new(StatusCode.InvalidArgument, "series[1].key", (c, p) => c.LogMetricsBatchAsync(Batch(p, "ok", "")).ResponseAsync),
        ["LogMetricsBatch batch id of 65 characters"] = new(StatusCode.InvalidArgument, "batch_id must be 1 to 64", (c, p) => c.LogMetricsBatchAsync(WithBatchId(Batch(p, "ok", "loss"), new string('b', 65))).ResponseAsync),
        ["LogMetricsBatch batch id with a slash"] = new(StatusCode.InvalidArgument, "batch_id", (c, p) => c.LogMetricsBatchAsync(WithBatchId(Batch(p, "ok", "loss"), "a/b")).ResponseAsync),
        ["LogMetricsBatch unknown parent"] = new(StatusCode.NotFound, UnknownExperiment, (c, p) => c.LogMetricsBatchAsync(Batch(p, "ok", "loss", secondParent: UnknownExperiment)).ResponseAsync),
        ["GetMetrics unknown parent"] = new(StatusCode.NotFound, UnknownExperiment, (c, _) => c.GetMetricsAsync(new GetMetricsRequest { ParentId = UnknownExperiment }).ResponseAsync),
        ["GetMetrics without parent"] = new(StatusCode.InvalidArgument, "parent_id", (c, _) => c.GetMetricsAsync(new GetMetricsRequest()).ResponseAsync),
        ["GetMetricSeries max_points 1"] = new(StatusCode.InvalidArgument, "max_points", (c, p) => c.GetMetricSeriesAsync(new GetMetricSeriesRequest { ParentId = p, Key = "loss", MaxPoints = 1 }).ResponseAsync),
        ["GetMetricSeries end before start"] = new(StatusCode.InvalidArgument, "end_step", (c, p) => c.GetMetricSeriesAsync(new GetMetricSeriesRequest { ParentId = p, Key = "loss", StartStep = 5, EndStep = 4 }).ResponseAsync),
        ["GetMetricSeries without key"] = new(StatusCode.InvalidArgument, "key", (c, p) => c.GetMetricSeriesAsync(new GetMetricSeriesRequest { ParentId = p }).ResponseAsync),
        ["GetMetricSeries unknown parent"] = new(StatusCode.NotFound, UnknownExperiment, (c, _) => c.GetMetricSeriesAsync(new GetMetricSeriesRequest { ParentId = UnknownExperiment, Key = "loss" }).ResponseAsync),
        ["GetMetricSeriesBatch without series"] = new(StatusCode.InvalidArgument, "series is required", (c, _) => c.GetMetricSeriesBatchAsync(new GetMetricSeriesBatchRequest()).ResponseAsync),
        ["GetMetricSeriesBatch 1001 series"] = new(StatusCode.InvalidArgument, "series has 1001 entries; the limit is 1000", (c, p) => c.GetMetricSeriesBatchAsync(SeriesBatch(p, 1001)).ResponseAsync),
        ["GetMetricSeriesBatch empty key names its entry"] = new(StatusCode.InvalidArgument, "series[1].key", (c, p) => c.GetMetricSeriesBatchAsync(SeriesBatch(p, 2, emptyKeyAt: 1)).ResponseAsync),
        ["GetMetricSeriesBatch malformed parent names its entry"] = new(StatusCode.InvalidArgument, "series[0].parent_id", (c, _) => c.GetMetricSeriesBatchAsync(SeriesBatch("nope", 1)).ResponseAsync),
        ["GetMetricSeriesBatch unknown parent"] = new(StatusCode.NotFound, UnknownExperiment, (c, _) => c.GetMetricSeriesBatchAsync(SeriesBatch(UnknownExperiment, 1)).ResponseAsync),
        ["GetMetricSeriesBatch max_points 1"] = new(StatusCode.InvalidArgument, "max_points", (c, p) => c.GetMetricSeriesBatchAsync(SeriesBatch(p, 1, maxPoints: 1)).ResponseAsync),
        ["GetMetricSeriesBatch more points than a response holds"] = new(StatusCode.InvalidArgument, "max_points 100000 for 100 series", (c, p) => c.GetMetricSeriesBatchAsync(SeriesBatch(p, 100, maxPoints: 100_000)).ResponseAsync),
        ["GetMetricSeriesBatch end before start"] = new(StatusCode.InvalidArgument, "end 4 is before start 5", (c, p) => c.GetMetricSeriesBatchAsync(SeriesBatch(p, 1, start: 5, end: 4)).ResponseAsync),
        ["GetMetricSeriesBatch unknown axis"] = new(StatusCode.InvalidArgument, "x_axis", (c, p) => c.GetMetricSeriesBatchAsync(SeriesBatch(p, 1, axis: (MetricAxis)7)).ResponseAsync),
        ["GetMetricSummaries without parents"] = new(StatusCode.InvalidArgument, "parent_ids", (c, _) => c.GetMetricSummariesAsync(new GetMetricSummariesRequest()).ResponseAsync),
        ["GetMetricSummaries malformed parent names its position"] = new(StatusCode.InvalidArgument, "parent_ids[1]", (c, p) => c.GetMetricSummariesAsync(new GetMetricSummariesRequest { ParentIds = { p, "nope" } }).ResponseAsync),
        ["ExportMetricPoints malformed token"] = new(StatusCode.InvalidArgument, "page_token", (c, p) => c.ExportMetricPointsAsync(new ExportMetricPointsRequest { ParentId = p, Key = "loss", PageToken = "garbage!" }).ResponseAsync),
        ["ExportMetricPoints negative page size"] = new(StatusCode.InvalidArgument, "page_size", (c, p) => c.ExportMetricPointsAsync(new ExportMetricPointsRequest { ParentId = p, Key = "loss", PageSize = -1 }).ResponseAsync),
    };

    private readonly GrpcChannel _channel;
    private readonly ModelStore.ModelStoreClient _client;
    private string _experimentId = "";

    public MetricBadInputTests(ModelBoxServerFixture server)
    {
        _client = server.CreateGrpcClient(out _channel);
    }

    public static TheoryData<string> CaseNames() => new(Cases.Keys);

    public async Task InitializeAsync() =>
        _experimentId = (await _client.CreateExperimentAsync(new CreateExperimentRequest { Name = "metrics-bad-input", Namespace = "metrics-bad" })).ExperimentId;

    public Task DisposeAsync()
    {
        _channel.Dispose();
        return Task.CompletedTask;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Bad_metric_input_gets_its_status_naming_the_field_and_stores_nothing(string caseName)
    {
        var expected = Cases[caseName];
        var key = "bad-" + Guid.NewGuid().ToString("N");
        var before = (await _client.GetMetricsAsync(new GetMetricsRequest { ParentId = _experimentId })).Metrics.Sum(m => m.Values.Count);

        var error = await Assert.ThrowsAsync<RpcException>(() => expected.Call(_client, _experimentId));

        Assert.Equal(expected.Status, error.StatusCode);
        Assert.Contains(expected.MessagePart, error.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error.Status.Detail, StringComparison.Ordinal);
        // A rejected batch stores none of its points, not even those of its valid series.
        Assert.Equal(before, (await _client.GetMetricsAsync(new GetMetricsRequest { ParentId = _experimentId })).Metrics.Sum(m => m.Values.Count));
        await _client.LogMetricsAsync(new LogMetricsRequest { ParentId = _experimentId, Key = key, Value = Float(1) });
    }

    [Fact]
    public async Task A_deleted_parent_is_not_found()
    {
        var created = await _client.CreateExperimentAsync(new CreateExperimentRequest { Name = "deleted-" + Guid.NewGuid().ToString("N"), Namespace = "metrics-bad" });
        await _client.DeleteExperimentAsync(new DeleteExperimentRequest { Id = created.ExperimentId });

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _client.LogMetricsAsync(new LogMetricsRequest { ParentId = created.ExperimentId, Key = "loss", Value = Float(1) }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Contains(created.ExperimentId, error.Status.Detail, StringComparison.Ordinal);
    }

    private static MetricsValue Float(float value) => new() { Step = 1, WallclockTime = 1_700_000_000, FVal = value };

    private static GetMetricSeriesBatchRequest SeriesBatch(
        string parentId, int count, int emptyKeyAt = -1, uint maxPoints = 0, ulong start = 0, ulong? end = null, MetricAxis axis = MetricAxis.Step)
    {
        var request = new GetMetricSeriesBatchRequest { MaxPoints = maxPoints, Start = start, XAxis = axis };
        if (end is { } last)
        {
            request.End = last;
        }

        request.Series.Add(Enumerable.Range(0, count).Select(i => new MetricSeriesRef { ParentId = parentId, Key = i == emptyKeyAt ? "" : $"k{i}" }));
        return request;
    }

    private static LogMetricsBatchRequest WithBatchId(LogMetricsBatchRequest request, string batchId)
    {
        request.BatchId = batchId;
        return request;
    }

    private static LogMetricsBatchRequest Batch(string parentId, string firstKey, string secondKey, int unsetAt = -1, string? secondParent = null)
    {
        var request = new LogMetricsBatchRequest();
        var first = new MetricSeriesPoints { ParentId = parentId, Key = firstKey };
        first.Values.Add(Float(1));
        var second = new MetricSeriesPoints { ParentId = secondParent ?? parentId, Key = secondKey };
        for (var i = 0; i < 4; i++)
        {
            second.Values.Add(i == unsetAt ? new MetricsValue { Step = (ulong)i } : Float(i));
        }

        request.Series.Add(first);
        request.Series.Add(second);
        return request;
    }
}
