using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Grpc;

/// <summary>WatchNamespace over real HTTP/2: backlog then live, resume from <c>since</c>, deletes, and the resume status of a slow watcher.</summary>
[Collection(ServerCollection.Name)]
public sealed class ChangeStreamTests(ModelBoxServerFixture server) : IDisposable
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);
    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(server.Address);
    private ModelStore.ModelStoreClient Client => new(_channel);
    private readonly string _namespace = "watch-" + Guid.NewGuid().ToString("N")[..12];

    public void Dispose() => _channel.Dispose();

    [Fact]
    public async Task Creates_updates_deletes_and_restores_arrive_in_order_with_their_kinds_and_state()
    {
        using var cancel = new CancellationTokenSource(HangGuard);
        using var watch = Client.WatchNamespace(new WatchNamespaceRequest { Namespace = _namespace }, cancellationToken: cancel.Token);
        var experiment = await Client.CreateExperimentAsync(new CreateExperimentRequest { Namespace = _namespace, Name = "run", Owner = "ada" });
        var checkpoint = await Client.CreateCheckpointAsync(new CreateCheckpointRequest { ExperimentId = experiment.ExperimentId, Epoch = 1 });
        await Client.UpdateExperimentAsync(new UpdateExperimentRequest { Id = experiment.ExperimentId, Status = Protocol.ExperimentStatus.Finished });
        await Client.DeleteExperimentAsync(new DeleteExperimentRequest { Id = experiment.ExperimentId });
        await Client.RestoreExperimentAsync(new RestoreExperimentRequest { Id = experiment.ExperimentId });

        var changes = await ReadAsync(watch.ResponseStream, 7, cancel.Token);

        Assert.Equal(
            [
                (ChangeEvent.ObjectCreated, "experiment", experiment.ExperimentId),
                (ChangeEvent.ObjectCreated, "checkpoint", checkpoint.CheckpointId),
                (ChangeEvent.ObjectUpdated, "experiment", experiment.ExperimentId),
                (ChangeEvent.ObjectDeleted, "experiment", experiment.ExperimentId),
                (ChangeEvent.ObjectDeleted, "checkpoint", checkpoint.CheckpointId),
                (ChangeEvent.ObjectUpdated, "experiment", experiment.ExperimentId),
                (ChangeEvent.ObjectUpdated, "checkpoint", checkpoint.CheckpointId),
            ],
            changes.Select(c => (c.Event, c.ObjectKind, c.ObjectId)));
        Assert.True(changes.Zip(changes.Skip(1)).All(p => p.First.Sequence < p.Second.Sequence));
        Assert.Equal("ada", changes[0].Payload.StructValue.Fields["owner"].StringValue);
        Assert.Equal("finished", changes[2].Payload.StructValue.Fields["status"].StringValue);
        Assert.Equal(Value.KindOneofCase.StringValue, changes[3].Payload.StructValue.Fields["deleted_at"].KindCase);
        Assert.Equal(Value.KindOneofCase.NullValue, changes[5].Payload.StructValue.Fields["deleted_at"].KindCase);
        Assert.All(changes, c => Assert.True(c.ChangedAt.Seconds > 0));
    }

    [Fact]
    public async Task A_watch_resumes_right_after_the_sequence_it_is_given()
    {
        using var cancel = new CancellationTokenSource(HangGuard);
        for (var i = 0; i < 3; i++)
        {
            await Client.CreateModelAsync(new CreateModelRequest { Namespace = _namespace, Name = $"m{i}" });
        }

        List<WatchNamespaceResponse> first;
        using (var watch = Client.WatchNamespace(new WatchNamespaceRequest { Namespace = _namespace }, cancellationToken: cancel.Token))
        {
            first = await ReadAsync(watch.ResponseStream, 3, cancel.Token);
        }

        var later = await Client.CreateModelAsync(new CreateModelRequest { Namespace = _namespace, Name = "later" });
        using var resumed = Client.WatchNamespace(
            new WatchNamespaceRequest { Namespace = _namespace, Since = first[^1].Sequence }, cancellationToken: cancel.Token);
        var next = (await ReadAsync(resumed.ResponseStream, 1, cancel.Token))[0];

        Assert.Equal(later.Id, next.ObjectId);
        Assert.True(next.Sequence > first[^1].Sequence);
    }

    [Fact]
    public async Task An_empty_namespace_watches_default()
    {
        using var cancel = new CancellationTokenSource(HangGuard);
        using var watch = Client.WatchNamespace(new WatchNamespaceRequest(), cancellationToken: cancel.Token);
        var created = await Client.CreateExperimentAsync(new CreateExperimentRequest { Name = "default-" + Guid.NewGuid().ToString("N") });

        // Other tests write to default too: read until this one's change shows up.
        while (await watch.ResponseStream.MoveNext(cancel.Token))
        {
            if (watch.ResponseStream.Current.ObjectId == created.ExperimentId)
            {
                return;
            }
        }

        Assert.Fail("the watch ended");
    }

    [Fact]
    public async Task A_watcher_that_stops_reading_is_ended_with_aborted_naming_its_last_sequence_and_loses_nothing_on_resume()
    {
        // A server of its own: its log starts at 1, and its watch buffer is tiny.
        var own = new ModelBoxServerFixture { Configure = config => config with { WatchBufferSize = 4 } };
        await own.InitializeAsync();
        try
        {
            var client = own.CreateGrpcClient(out var ownChannel);
            using (ownChannel)
            {
                using var cancel = new CancellationTokenSource(HangGuard);
                var experiment = await client.CreateExperimentAsync(new CreateExperimentRequest { Namespace = "slow", Name = "run" });
                using var watch = client.WatchNamespace(new WatchNamespaceRequest { Namespace = "slow" }, cancellationToken: cancel.Token);
                var received = await ReadAsync(watch.ResponseStream, 1, cancel.Token);

                // 64 KiB per change: HTTP/2 flow control stalls the stream long before 60 of them, and the buffer overflows.
                const int Writes = 60;
                var big = new string('x', 64 * 1024);
                for (var i = 0; i < Writes; i++)
                {
                    var update = new UpdateMetadataRequest { ParentId = experiment.ExperimentId, Metadata = new Protocol.Metadata() };
                    // Eight keys in turn keep the object under the per-object metadata limit; every write is still a 64 KiB change.
                    update.Metadata.Metadata_[$"k{i % 8}"] = Value.ForString(big);
                    await client.UpdateMetadataAsync(update);
                }

                var ended = await Assert.ThrowsAsync<RpcException>(async () =>
                {
                    while (await watch.ResponseStream.MoveNext(cancel.Token))
                    {
                        received.Add(watch.ResponseStream.Current);
                    }
                });

                Assert.Equal(StatusCode.Aborted, ended.StatusCode);
                Assert.Contains($"since={received[^1].Sequence}", ended.Status.Detail, StringComparison.Ordinal);
                Assert.True(received.Count < 1 + Writes);

                using var resumed = client.WatchNamespace(
                    new WatchNamespaceRequest { Namespace = "slow", Since = received[^1].Sequence }, cancellationToken: cancel.Token);
                received.AddRange(await ReadAsync(resumed.ResponseStream, 1 + Writes - received.Count, cancel.Token));
                Assert.Equal(Enumerable.Range(1, 1 + Writes).Select(i => (ulong)i), received.Select(c => c.Sequence));
            }
        }
        finally
        {
            await own.DisposeAsync();
        }
    }

    private static async Task<List<WatchNamespaceResponse>> ReadAsync(IAsyncStreamReader<WatchNamespaceResponse> stream, int count, CancellationToken cancellationToken)
    {
        var changes = new List<WatchNamespaceResponse>();
        while (changes.Count < count)
        {
            Assert.True(await stream.MoveNext(cancellationToken), "the watch ended early");
            changes.Add(stream.Current);
        }

        return changes;
    }
}
