using System.Text.Json;
using ModelBox.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Sdk;

[Collection(ServerCollection.Name)]
public sealed class ChangeSdkTests(ModelBoxServerFixture server) : SdkTestBase(server)
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Metadata_and_events_round_trip_through_the_sdk()
    {
        var experiment = (await Client.CreateExperimentAsync(Unique("run"), "ada", Namespace, Framework.PyTorch)).Value;

        var written = await Client.UpdateMetadataAsync(experiment.Id, new Dictionary<string, JsonElement>
        {
            ["lr"] = JsonSerializer.SerializeToElement(0.01),
            ["tags"] = JsonSerializer.SerializeToElement(new[] { "a", "b" }),
        });
        var deleted = await Client.DeleteMetadataAsync(experiment.Id, ["tags", "missing"]);
        var metadata = await Client.ListMetadataAsync(experiment.Id);
        var at = new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.Zero).AddTicks(1234567);
        await Client.LogEventAsync(experiment.Id, "started", "trainer", at);
        await Client.LogEventAsync(experiment.Id, "started", "trainer", at.AddMinutes(1));
        var events = await Client.ListEventsAsync(experiment.Id).ToListAsync();
        var recent = await Client.ListEventsAsync(experiment.Id, since: at).ToListAsync();

        Assert.Equal(2, written.Keys);
        Assert.Equal(1, deleted.Keys);
        Assert.Equal(["lr"], metadata.Keys);
        Assert.Equal(0.01, metadata["lr"].GetDouble());
        Assert.Equal([at, at.AddMinutes(1)], events.Select(e => e.WallclockTime));
        Assert.Equal("trainer", events[0].Source);
        Assert.Single(recent);
        await Assert.ThrowsAsync<ModelBoxNotFoundException>(() => Client.ListMetadataAsync(ModelBox.Domain.ObjectIds.Model("x", Unique("none"))));
    }

    [Fact]
    public async Task A_watch_that_falls_behind_resumes_by_itself_and_delivers_every_change_once_in_order()
    {
        var own = new ModelBoxServerFixture { Configure = config => config with { WatchBufferSize = 4 } };
        await own.InitializeAsync();
        try
        {
            await WatchThroughOverflowAsync(own);
        }
        finally
        {
            await own.DisposeAsync();
        }
    }

    private static async Task WatchThroughOverflowAsync(ModelBoxServerFixture own)
    {
        await using var client = new ModelBoxClient(own.HostPort);
        using var cancel = new CancellationTokenSource(HangGuard);
        var experiment = (await client.CreateExperimentAsync("run", "ada", "slow", Framework.PyTorch, cancellationToken: cancel.Token)).Value;

        await using var watch = client.WatchNamespaceAsync("slow", cancellationToken: cancel.Token).GetAsyncEnumerator(cancel.Token);
        Assert.True(await watch.MoveNextAsync());
        var received = new List<Change> { watch.Current };

        // The consumer stops reading while 60 large changes commit: the server ends its stream with ABORTED.
        const int Writes = 60;
        var big = JsonSerializer.SerializeToElement(new string('x', 64 * 1024));
        for (var i = 0; i < Writes; i++)
        {
            // Eight keys in turn keep the object under the per-object metadata limit; every change is still 64 KiB.
            await client.UpdateMetadataAsync(experiment.Id, new Dictionary<string, JsonElement> { [$"k{i % 8}"] = big }, cancel.Token);
        }

        while (received.Count < 1 + Writes)
        {
            Assert.True(await watch.MoveNextAsync());
            received.Add(watch.Current);
        }

        Assert.Equal(Enumerable.Range(1, 1 + Writes).Select(i => (long)i), received.Select(c => c.Sequence));
        Assert.Equal(ChangeKind.Created, received[0].Kind);
        Assert.All(received.Skip(1), c => Assert.Equal(("metadata", experiment.Id, ChangeKind.Updated), (c.ObjectKind, c.ObjectId, c.Kind)));
        Assert.Equal(big.GetString(), received[^1].Payload.GetProperty("metadata").GetProperty($"k{(Writes - 1) % 8}").GetString());
    }
}
