using System.Text.Json;
using ModelBox.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Sdk;

[Collection(ServerCollection.Name)]
public sealed class CheckpointSdkTests(ModelBoxServerFixture server) : SdkTestBase(server)
{
    [Fact]
    public async Task Create_get_by_id_and_by_epoch_return_the_checkpoint()
    {
        var experiment = (await Client.CreateExperimentAsync(Unique("exp"), "a@b.c", Namespace, Framework.PyTorch)).Value;
        var metrics = new Dictionary<string, float> { ["loss"] = 0.25f, ["accuracy"] = 0.875f };
        var metadata = new Dictionary<string, JsonElement> { ["path"] = JsonSerializer.SerializeToElement("s3://bucket/ckpt-3") };

        var created = await Client.CreateCheckpointAsync(experiment.Id, 3, metrics, metadata);

        Assert.False(created.AlreadyExisted);
        var checkpoint = created.Value;
        Assert.StartsWith("ckpt-", checkpoint.Id);
        Assert.Equal(experiment.Id, checkpoint.ExperimentId);
        Assert.Equal(3, checkpoint.Epoch);
        Assert.Equal(metrics, checkpoint.Metrics);
        ExperimentSdkTests.AssertMetadata(metadata, checkpoint.Metadata);

        var byEpoch = await Client.GetCheckpointAsync(experiment.Id, 3);
        Assert.Equal(checkpoint.Id, byEpoch.Id);
        Assert.Equal(metrics, byEpoch.Metrics);

        var again = await Client.CreateCheckpointAsync(experiment.Id, 3);
        Assert.True(again.AlreadyExisted);
        Assert.Equal(checkpoint.Id, again.Value.Id);
    }

    [Fact]
    public async Task List_returns_every_checkpoint_by_ascending_epoch_across_pages()
    {
        var experiment = (await Client.CreateExperimentAsync(Unique("exp"), "a@b.c", Namespace, Framework.PyTorch)).Value;
        foreach (var epoch in new long[] { 5, 1, 3, 0, 4 })
        {
            await Client.CreateCheckpointAsync(experiment.Id, epoch, new Dictionary<string, float> { ["loss"] = 1f / (epoch + 1) });
        }

        await using var smallPages = new ModelBoxClient(Server.Address, new ModelBoxClientOptions { PageSize = 2 });
        var checkpoints = await smallPages.ListCheckpointsAsync(experiment.Id).ToListAsync();

        Assert.Equal(new long[] { 0, 1, 3, 4, 5 }, checkpoints.Select(c => c.Epoch));
        Assert.Equal(0.25f, checkpoints.Single(c => c.Epoch == 3).Metrics["loss"]);
    }

    [Fact]
    public async Task Checkpoint_of_an_unknown_experiment_is_not_found()
    {
        await Assert.ThrowsAsync<ModelBoxNotFoundException>(
            () => Client.CreateCheckpointAsync("exp-" + Guid.NewGuid().ToString("N"), 1));
    }
}
