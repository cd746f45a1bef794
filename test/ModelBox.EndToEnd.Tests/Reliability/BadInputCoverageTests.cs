using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using ModelBox.Domain;
using ModelBox.EndToEnd.Tests.Grpc;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Reliability;

/// <summary>
/// Bad input for the RPCs the capability tables (Grpc/BadInputTests, Grpc/MetricBadInputTests,
/// Grpc/MetadataAndEventTests, Grpc/RegistryGrpcTests) do not cover, plus what cuts across them: undecodable bytes, NaN and ±Inf, empty
/// uploads, cancellation mid-stream and exceeded deadlines. Every case expects its documented status and leaves the
/// server healthy (health check and a good request after). <see cref="Every_ModelStore_rpc_has_a_bad_input_row"/> fails
/// when an RPC of modelbox.ModelStore has no row in any table, so a new RPC must add one.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class BadInputCoverageTests : IDisposable
{
    private static readonly string UnknownExperiment = ObjectIds.Experiment("nowhere", Guid.NewGuid().ToString());
    private static readonly string UnknownFile = ObjectIds.NewFile();
    private static readonly string UnknownModel = ObjectIds.Model("nowhere", Guid.NewGuid().ToString());
    private static readonly Marshaller<byte[]> Raw = Marshallers.Create(bytes => bytes, bytes => bytes);
    private static readonly SemaphoreSlim SetupLock = new(1, 1);
    private static Setup? _setup;

    /// <summary>Objects the cases work on, made once per server: a parent, a 4 MiB file, a big namespace and a big series.</summary>
    private sealed record Setup(string Experiment, string BigFile, string BigNamespace, string BigSeriesParent);

    /// <summary>Statuses: the first is the documented one; deadline cases accept any of DEADLINE_EXCEEDED / CANCELLED / OK.</summary>
    private sealed record Case(StatusCode Status, string MessagePart, Func<ModelStore.ModelStoreClient, CallInvoker, Setup, Task> Call);

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["CreateExperiment undecodable bytes"] = new(StatusCode.InvalidArgument, "not a valid modelbox.CreateExperimentRequest", (_, i, _) => RawUnaryAsync(i, "CreateExperiment", [0x0A, 0xFF, 0xFF, 0xFF])),
        ["CreateExperiment +Inf metadata"] = new(StatusCode.InvalidArgument, "metadata['x']", (c, _, _) => c.CreateExperimentAsync(WithMetadata(new CreateExperimentRequest { Name = "inf" }, "x", double.PositiveInfinity)).ResponseAsync),
        ["CreateModel NaN metadata"] = new(StatusCode.InvalidArgument, "metadata['x']", (c, _, _) => c.CreateModelAsync(new CreateModelRequest { Name = "nan", Metadata = Metadata("x", double.NaN) }).ResponseAsync),
        ["UpdateMetadata +Inf"] = new(StatusCode.InvalidArgument, "metadata['x']", (c, _, s) => c.UpdateMetadataAsync(new UpdateMetadataRequest { ParentId = s.Experiment, Metadata = Metadata("x", double.PositiveInfinity) }).ResponseAsync),
        ["UpdateMetadata -Inf"] = new(StatusCode.InvalidArgument, "metadata['x']", (c, _, s) => c.UpdateMetadataAsync(new UpdateMetadataRequest { ParentId = s.Experiment, Metadata = Metadata("x", double.NegativeInfinity) }).ResponseAsync),
        ["UpdateMetadata with a file id as parent"] = new(StatusCode.NotFound, UnknownFile, (c, _, _) => c.UpdateMetadataAsync(new UpdateMetadataRequest { ParentId = UnknownFile, Metadata = Metadata("x", 1) }).ResponseAsync),
        ["LogMetrics NaN, +Inf and -Inf are stored as logged"] = new(StatusCode.OK, "", NonFiniteMetricsRoundTripAsync),
        ["LogMetricsStream bad batch mid-stream"] = new(StatusCode.InvalidArgument, "key", async (c, _, s) =>
        {
            using var call = c.LogMetricsStream();
            await call.RequestStream.WriteAsync(Batch(s.Experiment, "stream-ok", 10));
            await call.RequestStream.WriteAsync(Batch(s.Experiment, "", 10));
            await CompleteQuietlyAsync(call.RequestStream);
            await call.ResponseAsync;
        }),
        ["LogMetricsStream cancelled mid-stream"] = new(StatusCode.Cancelled, "", async (c, _, s) =>
        {
            using var cancel = new CancellationTokenSource();
            using var call = c.LogMetricsStream(cancellationToken: cancel.Token);
            await call.RequestStream.WriteAsync(Batch(s.Experiment, "stream-cancelled", 100));
            await cancel.CancelAsync();
            await call.ResponseAsync;
        }),
        ["UploadFile chunks before metadata"] = new(StatusCode.InvalidArgument, "first frame", (c, _, _) => UploadFramesAsync(c, new UploadFileRequest { Chunks = ByteString.CopyFromUtf8("x") })),
        ["UploadFile without frames"] = new(StatusCode.InvalidArgument, "no frames", (c, _, _) => UploadFramesAsync(c)),
        ["UploadFile metadata without parent"] = new(StatusCode.InvalidArgument, "metadata.parent_id", (c, _, _) => UploadFramesAsync(c, new UploadFileRequest { Metadata = new FileMetadata { Path = "a" } })),
        ["UploadFile with a file id as parent"] = new(StatusCode.InvalidArgument, "is a file", (c, _, _) => UploadFramesAsync(c, new UploadFileRequest { Metadata = new FileMetadata { ParentId = UnknownFile } })),
        ["UploadFile unknown parent"] = new(StatusCode.NotFound, UnknownExperiment, (c, _, _) => UploadFramesAsync(c, new UploadFileRequest { Metadata = new FileMetadata { ParentId = UnknownExperiment } })),
        ["UploadFile malformed checksum"] = new(StatusCode.InvalidArgument, "metadata.checksum", (c, _, s) => UploadFramesAsync(c, new UploadFileRequest { Metadata = new FileMetadata { ParentId = s.Experiment, Checksum = "md5!" } })),
        ["UploadFile unknown file type"] = new(StatusCode.InvalidArgument, "metadata.file_type", (c, _, s) => UploadFramesAsync(c, new UploadFileRequest { Metadata = new FileMetadata { ParentId = s.Experiment, FileType = (Protocol.FileType)77 } })),
        ["UploadFile empty file is a valid file of zero bytes"] = new(StatusCode.OK, "", EmptyUploadRoundTripAsync),
        ["UploadFile cancelled mid-stream keeps nothing"] = new(StatusCode.Cancelled, "", CancelledUploadAsync),
        ["DownloadFile without id"] = new(StatusCode.InvalidArgument, "id is required", (c, _, _) => DownloadAllAsync(c, new DownloadFileRequest())),
        ["DownloadFile with an experiment id"] = new(StatusCode.InvalidArgument, "not of a file", (c, _, s) => DownloadAllAsync(c, new DownloadFileRequest { FileId = s.Experiment })),
        ["DownloadFile unknown file"] = new(StatusCode.NotFound, UnknownFile, (c, _, _) => DownloadAllAsync(c, new DownloadFileRequest { FileId = UnknownFile })),
        ["DownloadFile offset past the end"] = new(StatusCode.InvalidArgument, "offset", (c, _, s) => DownloadAllAsync(c, new DownloadFileRequest { FileId = s.BigFile, Offset = 1UL << 40 })),
        ["DownloadFile cancelled mid-stream"] = new(StatusCode.Cancelled, "", async (c, _, s) =>
        {
            using var cancel = new CancellationTokenSource();
            using var call = c.DownloadFile(new DownloadFileRequest { FileId = s.BigFile }, cancellationToken: cancel.Token);
            Assert.True(await call.ResponseStream.MoveNext(cancel.Token));
            Assert.True(await call.ResponseStream.MoveNext(cancel.Token));
            await cancel.CancelAsync();
            while (await call.ResponseStream.MoveNext(cancel.Token))
            {
            }
        }),
        ["TrackArtifacts without files"] = new(StatusCode.InvalidArgument, "files is empty", (c, _, _) => c.TrackArtifactsAsync(new TrackArtifactsRequest()).ResponseAsync),
        ["TrackArtifacts malformed sha256"] = new(StatusCode.InvalidArgument, "files[0].sha256", (c, _, s) => c.TrackArtifactsAsync(new TrackArtifactsRequest { Files = { new FileMetadata { ParentId = s.Experiment, Sha256 = "xyz" } } }).ResponseAsync),
        ["TrackArtifacts path over 4096 characters"] = new(StatusCode.InvalidArgument, "files[0].path", (c, _, s) => c.TrackArtifactsAsync(new TrackArtifactsRequest { Files = { new FileMetadata { ParentId = s.Experiment, Path = new string('p', 4097) } } }).ResponseAsync),
        ["ListArtifacts without parent"] = new(StatusCode.InvalidArgument, "parent_id", (c, _, _) => c.ListArtifactsAsync(new ListArtifactsRequest()).ResponseAsync),
        ["ListArtifacts with a file id as parent"] = new(StatusCode.InvalidArgument, "is a file", (c, _, _) => c.ListArtifactsAsync(new ListArtifactsRequest { ParentId = UnknownFile }).ResponseAsync),
        ["GetArtifact with an experiment id"] = new(StatusCode.InvalidArgument, "not of a file", (c, _, s) => c.GetArtifactAsync(new GetArtifactRequest { Id = s.Experiment }).ResponseAsync),
        ["GetArtifact unknown file"] = new(StatusCode.NotFound, UnknownFile, (c, _, _) => c.GetArtifactAsync(new GetArtifactRequest { Id = UnknownFile }).ResponseAsync),
        ["GetUploadStatus without upload id"] = new(StatusCode.InvalidArgument, "upload_id is required", (c, _, s) => c.GetUploadStatusAsync(new GetUploadStatusRequest { ParentId = s.Experiment }).ResponseAsync),
        ["GetUploadStatus malformed upload id"] = new(StatusCode.InvalidArgument, "upload_id must be", (c, _, s) => c.GetUploadStatusAsync(new GetUploadStatusRequest { ParentId = s.Experiment, UploadId = "../x" }).ResponseAsync),
        ["GetUploadStatus unknown parent"] = new(StatusCode.NotFound, UnknownExperiment, (c, _, _) => c.GetUploadStatusAsync(new GetUploadStatusRequest { ParentId = UnknownExperiment, UploadId = "u" }).ResponseAsync),
        ["UploadFile resume without upload id"] = new(StatusCode.InvalidArgument, "resume.upload_id is required", (c, _, s) => UploadFramesAsync(c, new UploadFileRequest { Metadata = new FileMetadata { ParentId = s.Experiment, Path = "r.bin" }, Resume = new UploadResume() })),
        ["DeleteArtifact without id"] = new(StatusCode.InvalidArgument, "id is required", (c, _, _) => c.DeleteArtifactAsync(new DeleteArtifactRequest()).ResponseAsync),
        ["DeleteArtifact unknown file"] = new(StatusCode.NotFound, UnknownFile, (c, _, _) => c.DeleteArtifactAsync(new DeleteArtifactRequest { Id = UnknownFile }).ResponseAsync),
        ["WatchNamespace cancelled while waiting"] = new(StatusCode.Cancelled, "", async (c, _, s) =>
        {
            using var cancel = new CancellationTokenSource();
            using var call = c.WatchNamespace(new WatchNamespaceRequest { Namespace = "bad-input-coverage" }, cancellationToken: cancel.Token);
            Assert.True(await call.ResponseStream.MoveNext(cancel.Token));
            await cancel.CancelAsync();
            await call.ResponseStream.MoveNext(cancel.Token);
        }),
        ["ListModelAliases without model"] = new(StatusCode.InvalidArgument, "model_id", (c, _, _) => c.ListModelAliasesAsync(new ListModelAliasesRequest()).ResponseAsync),
        ["ListModelAliases with an experiment id"] = new(StatusCode.InvalidArgument, "model_id", (c, _, s) => c.ListModelAliasesAsync(new ListModelAliasesRequest { ModelId = s.Experiment }).ResponseAsync),
        ["DeleteModelAlias unknown model"] = new(StatusCode.NotFound, UnknownModel, (c, _, _) => c.DeleteModelAliasAsync(new DeleteModelAliasRequest { ModelId = UnknownModel, Alias = "prod" }).ResponseAsync),
        ["ListDatasets bad namespace"] = new(StatusCode.InvalidArgument, "namespace", (c, _, _) => c.ListDatasetsAsync(new ListDatasetsRequest { Namespace = "a b" }).ResponseAsync),
        ["ListDatasets malformed page token"] = new(StatusCode.InvalidArgument, "page_token", (c, _, _) => c.ListDatasetsAsync(new ListDatasetsRequest { PageSize = 1, PageToken = "garbage!" }).ResponseAsync),
        ["ListVersionsTrainedIn with a model id"] = new(StatusCode.InvalidArgument, "experiment_id", (c, _, _) => c.ListVersionsTrainedInAsync(new ListVersionsTrainedInRequest { ExperimentId = UnknownModel }).ResponseAsync),
        ["ListVersionsTrainedIn unknown experiment"] = new(StatusCode.NotFound, UnknownExperiment, (c, _, _) => c.ListVersionsTrainedInAsync(new ListVersionsTrainedInRequest { ExperimentId = UnknownExperiment }).ResponseAsync),
        ["GetServerInfo ignores unknown fields"] = new(StatusCode.OK, "", (_, i, _) => RawUnaryAsync(i, "GetServerInfo", [0x08, 0x01, 0x12, 0x01, 0x41])),
        ["GetClusterMembers is not implemented"] = new(StatusCode.Unimplemented, "", (c, _, _) => c.GetClusterMembersAsync(new GetClusterMembersRequest()).ResponseAsync),
        ["CreateActions is not implemented"] = new(StatusCode.Unimplemented, "", (c, _, _) => c.CreateActionsAsync(new CreateActionRequest()).ResponseAsync),
        ["ListActions is not implemented"] = new(StatusCode.Unimplemented, "", (c, _, _) => c.ListActionsAsync(new ListActionsRequest()).ResponseAsync),
        ["ListExperiments deadline exceeded on a large listing"] = new(StatusCode.DeadlineExceeded, "", (c, _, s) =>
            DeadlinesAsync(deadline => c.ListExperimentsAsync(new ListExperimentsRequest { Namespace = s.BigNamespace }, deadline: deadline).ResponseAsync)),
        ["GetMetrics deadline exceeded on a big read"] = new(StatusCode.DeadlineExceeded, "", (c, _, s) =>
            DeadlinesAsync(deadline => c.GetMetricsAsync(new GetMetricsRequest { ParentId = s.BigSeriesParent }, deadline: deadline).ResponseAsync)),
    };

    private readonly ModelBoxServerFixture _server;
    private readonly GrpcChannel _channel;
    private readonly ModelStore.ModelStoreClient _client;

    public BadInputCoverageTests(ModelBoxServerFixture server)
    {
        _server = server;
        _client = server.CreateGrpcClient(out _channel);
    }

    public static TheoryData<string> CaseNames() => new(Cases.Keys);

    public void Dispose() => _channel.Dispose();

    [Fact]
    public void Every_ModelStore_rpc_has_a_bad_input_row()
    {
        var rows = new[] { BadInputTests.CaseNames(), MetricBadInputTests.CaseNames(), MetadataAndEventTests.CaseNames(), RegistryGrpcTests.CaseNames(), CaseNames() }
            .SelectMany(table => ((IEnumerable<object[]>)table).Select(row => (string)row[0]))
            .Select(name => name.Split(' ')[0])
            .ToHashSet(StringComparer.Ordinal);

        var missing = ModelStore.Descriptor.Methods.Select(m => m.Name).Where(name => !rows.Contains(name)).ToList();

        Assert.True(missing.Count == 0, "RPCs without a bad-input row (add one to a table): " + string.Join(", ", missing));
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Each_case_gets_its_documented_status_and_the_server_stays_healthy(string caseName)
    {
        var expected = Cases[caseName];
        var setup = await SetupAsync();
        var errorsBefore = _server.LoggedErrors.Count;

        var status = Status.DefaultSuccess;
        try
        {
            await expected.Call(_client, _channel.CreateCallInvoker(), setup);
        }
        catch (RpcException ex)
        {
            status = ex.Status;
        }

        Assert.True(expected.Status == status.StatusCode, $"expected {expected.Status}, got {status.StatusCode}: {status.Detail}");
        Assert.Contains(expected.MessagePart, status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", status.Detail, StringComparison.Ordinal);

        var health = new Health.HealthClient(_channel);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest())).Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest { Service = "liveness" })).Status);
        Assert.False((await _client.CreateExperimentAsync(new CreateExperimentRequest { Name = "after-" + Guid.NewGuid().ToString("N") })).ExperimentExists);
        Assert.Empty(_server.LoggedErrors.Skip(errorsBefore));
    }

    private async Task<Setup> SetupAsync()
    {
        await SetupLock.WaitAsync();
        try
        {
            if (_setup is not null && _setup.Experiment.Length > 0 && await ExistsAsync(_setup.Experiment))
            {
                return _setup;
            }

            var experiment = (await _client.CreateExperimentAsync(new CreateExperimentRequest { Name = "bad-input-" + Guid.NewGuid().ToString("N"), Namespace = "bad-input-coverage" })).ExperimentId;
            var bigFile = await UploadAsync(_client, experiment, RandomNumberGenerator.GetBytes(4 * 1024 * 1024), "big.bin");

            var bigNamespace = "big-" + Guid.NewGuid().ToString("N")[..12];
            for (var i = 0; i < 3000; i += 100)
            {
                await Task.WhenAll(Enumerable.Range(i, 100).Select(n =>
                    _client.CreateExperimentAsync(new CreateExperimentRequest { Name = $"e{n}", Namespace = bigNamespace, Description = new string('d', 200) }).ResponseAsync));
            }

            for (var i = 0; i < 20; i++)
            {
                await _client.LogMetricsBatchAsync(new LogMetricsBatchRequest { Series = { Batch(experiment, "big", 10_000, first: i * 10_000).Series } });
            }

            return _setup = new Setup(experiment, bigFile, bigNamespace, experiment);
        }
        finally
        {
            SetupLock.Release();
        }
    }

    private async Task<bool> ExistsAsync(string experiment)
    {
        try
        {
            await _client.GetExperimentAsync(new GetExperimentRequest { Id = experiment });
            return true;
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>Tiny deadlines on a call that takes a while: each ends DEADLINE_EXCEEDED (or CANCELLED, or in time), never anything else.</summary>
    private static async Task DeadlinesAsync(Func<DateTime, Task> call)
    {
        var outcomes = new List<StatusCode>();
        foreach (var milliseconds in new[] { 1, 2, 5, 10, 20, 50 })
        {
            try
            {
                await call(DateTime.UtcNow.AddMilliseconds(milliseconds));
                outcomes.Add(StatusCode.OK);
            }
            catch (RpcException ex)
            {
                Assert.True(ex.StatusCode is StatusCode.DeadlineExceeded or StatusCode.Cancelled, $"a {milliseconds} ms deadline ended {ex.StatusCode}: {ex.Status.Detail}");
                outcomes.Add(ex.StatusCode);
            }
        }

        Assert.Contains(StatusCode.DeadlineExceeded, outcomes);
        throw new RpcException(new Status(StatusCode.DeadlineExceeded, ""));
    }

    private static async Task NonFiniteMetricsRoundTripAsync(ModelStore.ModelStoreClient client, CallInvoker invoker, Setup setup)
    {
        var key = "non-finite-" + Guid.NewGuid().ToString("N");
        double[] values = [double.NaN, double.PositiveInfinity, double.NegativeInfinity];
        for (var i = 0; i < values.Length; i++)
        {
            await client.LogMetricsAsync(new LogMetricsRequest { ParentId = setup.Experiment, Key = key, Value = new MetricsValue { Step = (ulong)i, WallclockTime = 1_700_000_000, DVal = values[i] } });
            await client.LogMetricsAsync(new LogMetricsRequest { ParentId = setup.Experiment, Key = key + "-f", Value = new MetricsValue { Step = (ulong)i, WallclockTime = 1_700_000_000, FVal = (float)values[i] } });
        }

        var doubles = (await client.ExportMetricPointsAsync(new ExportMetricPointsRequest { ParentId = setup.Experiment, Key = key })).Values;
        var floats = (await client.ExportMetricPointsAsync(new ExportMetricPointsRequest { ParentId = setup.Experiment, Key = key + "-f" })).Values;
        Assert.Equal(values, doubles.Select(p => p.DVal));
        Assert.Equal(values.Select(v => (float)v), floats.Select(p => p.FVal));
    }

    private static async Task EmptyUploadRoundTripAsync(ModelStore.ModelStoreClient client, CallInvoker invoker, Setup setup)
    {
        // An empty file is a valid file (an empty marker or log file is common); it round-trips as zero bytes.
        using var call = client.UploadFile();
        await call.RequestStream.WriteAsync(new UploadFileRequest { Metadata = new FileMetadata { ParentId = setup.Experiment, Path = "empty.txt", Checksum = "d41d8cd98f00b204e9800998ecf8427e" } });
        await call.RequestStream.CompleteAsync();
        var id = (await call.ResponseAsync).FileId;

        var file = (await client.GetArtifactAsync(new GetArtifactRequest { Id = id })).File;
        Assert.Equal(0UL, file.SizeBytes);
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", file.Sha256);
        var frames = new List<DownloadFileResponse>();
        using var download = client.DownloadFile(new DownloadFileRequest { FileId = id });
        await foreach (var frame in download.ResponseStream.ReadAllAsync())
        {
            frames.Add(frame);
        }

        Assert.Equal(DownloadFileResponse.StreamFrameOneofCase.Metadata, Assert.Single(frames).StreamFrameCase);
    }

    private static async Task CancelledUploadAsync(ModelStore.ModelStoreClient client, CallInvoker invoker, Setup setup)
    {
        var parent = (await client.CreateExperimentAsync(new CreateExperimentRequest { Name = "cancelled-upload-" + Guid.NewGuid().ToString("N"), Namespace = "bad-input-coverage" })).ExperimentId;
        using var cancel = new CancellationTokenSource();
        try
        {
            using var call = client.UploadFile(cancellationToken: cancel.Token);
            await call.RequestStream.WriteAsync(new UploadFileRequest { Metadata = new FileMetadata { ParentId = parent, Path = "half.bin" } });
            await call.RequestStream.WriteAsync(new UploadFileRequest { Chunks = ByteString.CopyFrom(RandomNumberGenerator.GetBytes(64 * 1024)) });
            await cancel.CancelAsync();
            await call.ResponseAsync;
        }
        finally
        {
            // Nothing of the cancelled upload is visible.
            Assert.Empty((await client.ListArtifactsAsync(new ListArtifactsRequest { ParentId = parent })).Files);
        }
    }

    private static async Task RawUnaryAsync(CallInvoker invoker, string method, byte[] request)
    {
        var rpc = new Method<byte[], byte[]>(MethodType.Unary, ModelStore.Descriptor.FullName, method, Raw, Raw);
        await invoker.AsyncUnaryCall(rpc, null, default, request);
    }

    private static async Task UploadFramesAsync(ModelStore.ModelStoreClient client, params UploadFileRequest[] frames)
    {
        using var call = client.UploadFile();
        try
        {
            foreach (var frame in frames)
            {
                await call.RequestStream.WriteAsync(frame);
            }
        }
        catch (Exception ex) when (ex is RpcException or InvalidOperationException)
        {
            // The server answered first; its status is in the response.
        }

        await CompleteQuietlyAsync(call.RequestStream);
        await call.ResponseAsync;
    }

    private static async Task CompleteQuietlyAsync<T>(IClientStreamWriter<T> stream)
    {
        try
        {
            await stream.CompleteAsync();
        }
        catch (Exception ex) when (ex is RpcException or InvalidOperationException)
        {
            // The call already ended; the response carries its status.
        }
    }

    private static async Task DownloadAllAsync(ModelStore.ModelStoreClient client, DownloadFileRequest request)
    {
        using var call = client.DownloadFile(request);
        while (await call.ResponseStream.MoveNext())
        {
        }
    }

    private static async Task<string> UploadAsync(ModelStore.ModelStoreClient client, string parent, byte[] data, string path)
    {
        using var call = client.UploadFile();
        await call.RequestStream.WriteAsync(new UploadFileRequest { Metadata = new FileMetadata { ParentId = parent, Path = path } });
        for (var offset = 0; offset < data.Length; offset += 64 * 1024)
        {
            await call.RequestStream.WriteAsync(new UploadFileRequest { Chunks = ByteString.CopyFrom(data, offset, Math.Min(64 * 1024, data.Length - offset)) });
        }

        await call.RequestStream.CompleteAsync();
        return (await call.ResponseAsync).FileId;
    }

    private static LogMetricsBatchRequest Batch(string parent, string key, int points, int first = 0)
    {
        var series = new Protocol.MetricSeriesPoints { ParentId = parent, Key = key };
        for (var i = first; i < first + points; i++)
        {
            series.Values.Add(new MetricsValue { Step = (ulong)i, WallclockTime = 1_700_000_000, DVal = i });
        }

        return new LogMetricsBatchRequest { Series = { series } };
    }

    private static Protocol.Metadata Metadata(string key, double value)
    {
        var metadata = new Protocol.Metadata();
        metadata.Metadata_[key] = Value.ForNumber(value);
        return metadata;
    }

    private static CreateExperimentRequest WithMetadata(CreateExperimentRequest request, string key, double value)
    {
        request.Metadata = Metadata(key, value);
        return request;
    }
}
