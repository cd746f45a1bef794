using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Reliability;

/// <summary>
/// 64 clients, each on its own connection, released at the same instant on the same natural keys: exactly one object
/// per key, every client gets an answer (never a lock, busy or deadlock error: no UNAVAILABLE, INTERNAL or UNKNOWN),
/// and nothing is lost.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class ConcurrencyTests : IAsyncLifetime
{
    private const int Clients = 64;

    private readonly ModelBoxServerFixture _server;
    private readonly GrpcChannel[] _channels;
    private readonly ModelStore.ModelStoreClient[] _clients;
    private readonly string _namespace = "race-" + Guid.NewGuid().ToString("N")[..12];

    public ConcurrencyTests(ModelBoxServerFixture server)
    {
        _server = server;
        // One HTTP/2 connection per client: the races happen between connections, as between real processes.
        _channels = Enumerable.Range(0, Clients).Select(_ => GrpcChannel.ForAddress(server.Address)).ToArray();
        _clients = _channels.Select(c => new ModelStore.ModelStoreClient(c)).ToArray();
    }

    public async Task InitializeAsync()
    {
        // Connect every channel first, so the race is between calls, not between connection set-ups.
        await Task.WhenAll(_channels.Select(c => c.ConnectAsync()));
    }

    public Task DisposeAsync()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        return Task.CompletedTask;
    }

    [Fact]
    public async Task Racing_creates_of_every_kind_make_one_object_per_natural_key()
    {
        var experiments = await RaceAsync(c => c.CreateExperimentAsync(new CreateExperimentRequest { Name = "same", Namespace = _namespace }).ResponseAsync);
        AssertOneCreated(experiments.Select(r => (r.ExperimentId, r.ExperimentExists)));
        var experimentId = experiments[0].ExperimentId;

        var models = await RaceAsync(c => c.CreateModelAsync(new CreateModelRequest { Name = "same", Namespace = _namespace }).ResponseAsync);
        AssertOneCreated(models.Select(r => (r.Id, r.Exists)));
        var modelId = models[0].Id;

        var checkpoints = await RaceAsync(c => c.CreateCheckpointAsync(new CreateCheckpointRequest { ExperimentId = experimentId, Epoch = 7 }).ResponseAsync);
        AssertOneCreated(checkpoints.Select(r => (r.CheckpointId, r.Exists)));

        var versions = await RaceAsync(c => c.CreateModelVersionAsync(new CreateModelVersionRequest { Model = modelId, Version = "1.0" }).ResponseAsync);
        AssertOneCreated(versions.Select(r => (r.ModelVersion, r.Exists)));

        // Different names in one new namespace at once: the namespace (created by the first object naming it) appears once.
        var fresh = "race-ns-" + Guid.NewGuid().ToString("N")[..12];
        await RaceAsync((c, i) => c.CreateExperimentAsync(new CreateExperimentRequest { Name = $"e{i}", Namespace = fresh }).ResponseAsync);

        var client = _clients[0];
        Assert.Single((await client.ListExperimentsAsync(new ListExperimentsRequest { Namespace = _namespace })).Experiments);
        Assert.Single((await client.ListModelsAsync(new ListModelsRequest { Namespace = _namespace })).Models);
        Assert.Single((await client.ListCheckpointsAsync(new ListCheckpointsRequest { ExperimentId = experimentId })).Checkpoints);
        Assert.Single((await client.ListModelVersionsAsync(new ListModelVersionsRequest { Model = modelId })).ModelVersions);
        Assert.Equal(Clients, (await client.ListExperimentsAsync(new ListExperimentsRequest { Namespace = fresh })).Experiments.Count);
        var namespaces = (await client.ListNamespacesAsync(new ListNamespacesRequest())).Namespaces;
        Assert.Single(namespaces, n => n.Name == fresh);
    }

    [Fact]
    public async Task Racing_metadata_writes_to_one_key_end_with_one_of_the_written_values_and_each_gets_its_change()
    {
        var parent = (await _clients[0].CreateExperimentAsync(new CreateExperimentRequest { Name = "metadata-race", Namespace = _namespace })).ExperimentId;

        for (var round = 0; round < 3; round++)
        {
            await RaceAsync((c, i) =>
            {
                var request = new UpdateMetadataRequest { ParentId = parent, Metadata = new Protocol.Metadata() };
                request.Metadata.Metadata_["shared"] = Value.ForString($"r{round}-c{i}");
                request.Metadata.Metadata_[$"own-{i}"] = Value.ForNumber(round);
                return c.UpdateMetadataAsync(request).ResponseAsync;
            });

            var stored = (await _clients[0].ListMetadataAsync(new ListMetadataRequest { ParentId = parent })).Metadata;
            Assert.Matches($"^r{round}-c([0-9]|[1-5][0-9]|6[0-3])$", stored["shared"].StringValue);
            for (var i = 0; i < Clients; i++)
            {
                Assert.Equal(round, stored[$"own-{i}"].NumberValue);
            }
        }

        // Every acknowledged write left its change record: 3 rounds x 64 clients of metadata changes, none lost or merged.
        var metadataChanges = 0;
        using var watch = _clients[0].WatchNamespace(new WatchNamespaceRequest { Namespace = _namespace });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (metadataChanges < 3 * Clients && await watch.ResponseStream.MoveNext(timeout.Token))
        {
            if (watch.ResponseStream.Current.ObjectId == parent && watch.ResponseStream.Current.Event == ChangeEvent.ObjectUpdated)
            {
                metadataChanges++;
            }
        }

        Assert.Equal(3 * Clients, metadataChanges);
    }

    [Fact]
    public async Task Racing_uploads_of_the_same_bytes_keep_every_record_and_store_the_bytes_once()
    {
        var parent = (await _clients[0].CreateExperimentAsync(new CreateExperimentRequest { Name = "upload-race", Namespace = _namespace })).ExperimentId;
        var data = RandomNumberGenerator.GetBytes(300 * 1024);
        var md5 = Convert.ToHexStringLower(MD5.HashData(data));
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(data));

        var ids = await RaceAsync(async (c, i) =>
        {
            using var call = c.UploadFile();
            await call.RequestStream.WriteAsync(new UploadFileRequest { Metadata = new FileMetadata { ParentId = parent, Path = $"copy-{i}.bin", Checksum = md5 } });
            for (var offset = 0; offset < data.Length; offset += 64 * 1024)
            {
                await call.RequestStream.WriteAsync(new UploadFileRequest { Chunks = ByteString.CopyFrom(data, offset, Math.Min(64 * 1024, data.Length - offset)) });
            }

            await call.RequestStream.CompleteAsync();
            return (await call.ResponseAsync).FileId;
        });

        Assert.Equal(Clients, ids.Distinct().Count());
        var files = (await _clients[0].ListArtifactsAsync(new ListArtifactsRequest { ParentId = parent })).Files;
        Assert.Equal(ids.Order(), files.Select(f => f.Id).Order());
        Assert.All(files, f => Assert.Equal(sha256, f.Sha256));
        Assert.True(File.Exists(Path.Combine(_server.DataDir, "blobs", "sha256", sha256[..2], sha256[2..4], sha256)));
        Assert.Empty(Directory.GetFiles(Path.Combine(_server.DataDir, "blobs", "tmp")));

        // Racing deletes of all but one record: the last record still downloads the bytes.
        await RaceAsync((c, i) => i == 0 ? Task.FromResult(new DeleteArtifactResponse()) : c.DeleteArtifactAsync(new DeleteArtifactRequest { Id = ids[i] }).ResponseAsync);
        using var download = _clients[0].DownloadFile(new DownloadFileRequest { FileId = ids[0] });
        using var received = new MemoryStream();
        await foreach (var frame in download.ResponseStream.ReadAllAsync())
        {
            if (frame.StreamFrameCase == DownloadFileResponse.StreamFrameOneofCase.Chunks)
            {
                frame.Chunks.WriteTo(received);
            }
        }

        Assert.Equal(data, received.ToArray());
    }

    [Fact]
    public async Task Racing_metric_batches_to_one_series_lose_no_point()
    {
        var parent = (await _clients[0].CreateExperimentAsync(new CreateExperimentRequest { Name = "metric-race", Namespace = _namespace })).ExperimentId;

        await RaceAsync((c, i) =>
        {
            var series = new Protocol.MetricSeriesPoints { ParentId = parent, Key = "loss" };
            for (var step = 0; step < 100; step++)
            {
                series.Values.Add(new MetricsValue { Step = (ulong)((i * 100) + step), WallclockTime = 1_700_000_000, DVal = i });
            }

            var request = new LogMetricsBatchRequest();
            request.Series.Add(series);
            return c.LogMetricsBatchAsync(request).ResponseAsync;
        });

        var points = (await _clients[0].GetMetricsAsync(new GetMetricsRequest { ParentId = parent })).Metrics.Single().Values;
        Assert.Equal(Enumerable.Range(0, Clients * 100).Select(s => (ulong)s), points.Select(p => p.Step).Order());
    }

    private Task<T[]> RaceAsync<T>(Func<ModelStore.ModelStoreClient, Task<T>> call) => RaceAsync((c, _) => call(c));

    /// <summary>Releases all clients at once; any failure fails the test, naming the status (lock errors must never reach a client).</summary>
    private async Task<T[]> RaceAsync<T>(Func<ModelStore.ModelStoreClient, int, Task<T>> call)
    {
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var racers = _clients.Select((client, i) => Task.Run(async () =>
        {
            await start.Task;
            try
            {
                return await call(client, i);
            }
            catch (RpcException ex)
            {
                throw new Xunit.Sdk.XunitException($"client {i} got {ex.StatusCode}: {ex.Status.Detail}");
            }
        })).ToArray();
        start.SetResult();
        return await Task.WhenAll(racers);
    }

    private static void AssertOneCreated(IEnumerable<(string Id, bool Existed)> responses)
    {
        var all = responses.ToList();
        Assert.Single(all.Select(r => r.Id).Distinct());
        Assert.Single(all, r => !r.Existed);
    }
}
