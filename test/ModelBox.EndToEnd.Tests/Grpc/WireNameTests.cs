using Grpc.Core;
using Grpc.Net.Client;
using ModelBox.Domain;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;
using MetricSeriesPoints = ModelBox.Protocol.MetricSeriesPoints;

namespace ModelBox.EndToEnd.Tests.Grpc;

/// <summary>
/// The domain names its inputs in its own words ("page token", "files[1].size"); a client reads the proto field names
/// (page_token, files[1].size_bytes), nested where the RPC nests them. These messages are compared whole.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class WireNameTests : IAsyncLifetime
{
    private readonly GrpcChannel _channel;
    private readonly ModelStore.ModelStoreClient _client;
    private string _experimentId = string.Empty;

    public WireNameTests(ModelBoxServerFixture server)
    {
        _client = server.CreateGrpcClient(out _channel);
    }

    private static string UnknownExperiment { get; } = ObjectIds.Experiment("nowhere", "wire-names");

    public async Task InitializeAsync() =>
        _experimentId = (await _client.CreateExperimentAsync(
            new CreateExperimentRequest { Name = "wire-" + Guid.NewGuid().ToString("N"), Namespace = "wire-names" })).ExperimentId;

    public Task DisposeAsync()
    {
        _channel.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Paging_inputs_are_named_page_size_page_token_and_next_page_token()
    {
        await AssertMessageAsync(
            "page_token is malformed; pass the next_page_token of the previous page",
            _client.ListExperimentsAsync(new ListExperimentsRequest { PageSize = 2, PageToken = "garbage!" }).ResponseAsync);
        await AssertMessageAsync(
            "page_size must not be negative", _client.ListModelsAsync(new ListModelsRequest { PageSize = -1 }).ResponseAsync);
        await AssertMessageAsync(
            "page_token does not belong to this search; pass the next_page_token of the previous page of the same search",
            _client.SearchModelsAsync(new SearchRequest { PageSize = 1, PageToken = PageTokens.Encode("other", "1", "x") }).ResponseAsync);
    }

    [Fact]
    public async Task Ids_and_search_inputs_are_named_by_their_fields()
    {
        var model = ObjectIds.Model("wire-names", "m");
        await AssertMessageAsync(
            $"checkpoint_id '{model}' is the id of a model, not of a checkpoint",
            _client.GetCheckpointAsync(new GetCheckpointRequest { CheckpointId = model }).ResponseAsync);
        await AssertMessageAsync("object_id is required", _client.SetLabelsAsync(new SetLabelsRequest()).ResponseAsync);
        await AssertMessageAsync(
            $"derived_from.version_id '{_experimentId}' is the id of an experiment, not of a model version",
            _client.SetLineageAsync(new SetLineageRequest
            {
                SubjectId = ObjectIds.ModelVersion(model, "1"),
                Lineage = new LineageSpec { DerivedFrom = { new DerivationLink { VersionId = _experimentId } } },
            }).ResponseAsync);
        await AssertMessageAsync(
            "order_by 'name sideways' must be a field, optionally followed by asc or desc",
            _client.SearchModelsAsync(new SearchRequest { OrderBy = "name sideways" }).ResponseAsync);
        await AssertMessageAsync(
            "label_selector: expected a label key, found '=' at position 1",
            _client.ListModelsAsync(new ListModelsRequest { LabelSelector = "=x" }).ResponseAsync);
    }

    [Fact]
    public async Task Metric_inputs_are_named_down_to_the_point_with_the_value_fields_of_the_wire()
    {
        await AssertMessageAsync(
            "end_step 4 is before start_step 5",
            _client.GetMetricSeriesAsync(new GetMetricSeriesRequest { ParentId = _experimentId, Key = "loss", StartStep = 5, EndStep = 4 }).ResponseAsync);
        await AssertMessageAsync(
            "series[0].values[1] has no value; set one of f_val, d_val, s_tensor or b_tensor",
            _client.LogMetricsBatchAsync(Batch(_experimentId, new MetricsValue { Step = 1, FVal = 1 }, new MetricsValue { Step = 2 })).ResponseAsync);
        await AssertMessageAsync(
            "series[0].values[0].wallclock_time is larger than 9223372036854775807",
            _client.LogMetricsBatchAsync(Batch(_experimentId, new MetricsValue { Step = 1, WallclockTime = ulong.MaxValue, DVal = 1 })).ResponseAsync);

        using var stream = _client.LogMetricsStream();
        try
        {
            await stream.RequestStream.WriteAsync(Batch(string.Empty, new MetricsValue { Step = 1, FVal = 1 }));
            await stream.RequestStream.CompleteAsync();
        }
        catch (Exception exception) when (exception is RpcException or InvalidOperationException)
        {
            // The server refused the stream before it ended; its status is in the response.
        }

        await AssertMessageAsync("series[0].parent_id is required (0 points of this stream were stored before it)", stream.ResponseAsync);
    }

    [Fact]
    public async Task File_inputs_are_named_inside_the_message_that_carries_them()
    {
        await AssertMessageAsync(
            "metadata.file_type 99 is not a known file type",
            UploadAsync(new FileMetadata { ParentId = _experimentId, FileType = (Protocol.FileType)99, Path = "x.bin" }));
        await AssertMessageAsync(
            $"metadata.parent_id: experiment '{UnknownExperiment}' not found",
            UploadAsync(new FileMetadata { ParentId = UnknownExperiment, Path = "x.bin" }),
            StatusCode.NotFound);
        await AssertMessageAsync(
            $"files[0].parent_id: experiment '{UnknownExperiment}' not found",
            _client.TrackArtifactsAsync(new TrackArtifactsRequest { Files = { new FileMetadata { ParentId = UnknownExperiment, Uri = "s3://b/k" } } }).ResponseAsync,
            StatusCode.NotFound);
        await AssertMessageAsync(
            $"files[1].size_bytes {ulong.MaxValue} is too large",
            _client.CreateCheckpointAsync(new CreateCheckpointRequest
            {
                ExperimentId = _experimentId,
                Epoch = 1,
                Files = { new FileMetadata { Uri = "s3://b/a" }, new FileMetadata { Uri = "s3://b/b", SizeBytes = ulong.MaxValue } },
            }).ResponseAsync);
    }

    [Fact]
    public async Task Event_inputs_are_named_as_the_event_message_nests_them()
    {
        await AssertMessageAsync(
            "event.source.name must not contain control characters",
            _client.LogEventAsync(new LogEventRequest
            {
                ParentId = _experimentId,
                Event = new Event { Name = "epoch", Source = new EventSource { Name = "trainer\u0001" } },
            }).ResponseAsync);
        await AssertMessageAsync(
            "event.name is required", _client.LogEventAsync(new LogEventRequest { ParentId = _experimentId, Event = new Event() }).ResponseAsync);
    }

    private static async Task AssertMessageAsync(string expected, Task call, StatusCode status = StatusCode.InvalidArgument)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.Equal(status, error.StatusCode);
        Assert.Equal(expected, error.Status.Detail);
    }

    private async Task<UploadFileResponse> UploadAsync(FileMetadata metadata)
    {
        using var call = _client.UploadFile();
        try
        {
            await call.RequestStream.WriteAsync(new UploadFileRequest { Metadata = metadata });
            await call.RequestStream.CompleteAsync();
        }
        catch (Exception exception) when (exception is RpcException or InvalidOperationException)
        {
            // The server answered early (a refused upload); its status is in the response.
        }

        return await call.ResponseAsync;
    }

    private static LogMetricsBatchRequest Batch(string parentId, params MetricsValue[] values)
    {
        var series = new MetricSeriesPoints { ParentId = parentId, Key = "loss" };
        series.Values.Add(values);
        return new LogMetricsBatchRequest { Series = { series } };
    }
}
