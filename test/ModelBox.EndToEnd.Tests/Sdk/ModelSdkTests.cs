using System.Text.Json;
using ModelBox.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Sdk;

[Collection(ServerCollection.Name)]
public sealed class ModelSdkTests(ModelBoxServerFixture server) : SdkTestBase(server)
{
    [Fact]
    public async Task Create_get_and_list_models()
    {
        var name = Unique("wav2vec");
        var metadata = new Dictionary<string, JsonElement> { ["params"] = JsonSerializer.SerializeToElement(95_000_000) };

        var created = await Client.CreateModelAsync(name, "diptanuc@gmail.com", Namespace, task: "asr", description: "English ASR", metadata: metadata);

        Assert.False(created.AlreadyExisted);
        var model = created.Value;
        Assert.StartsWith("mdl-", model.Id);
        Assert.Equal(name, model.Name);
        Assert.Equal(Namespace, model.Namespace);
        Assert.Equal("diptanuc@gmail.com", model.Owner);
        Assert.Equal("asr", model.Task);
        Assert.Equal("English ASR", model.Description);
        ExperimentSdkTests.AssertMetadata(metadata, model.Metadata);

        Assert.Equal(model.Id, (await Client.GetModelAsync(model.Id)).Id);
        Assert.True((await Client.CreateModelAsync(name, "diptanuc@gmail.com", Namespace)).AlreadyExisted);
        Assert.Equal([model.Id], (await Client.ListModelsAsync(Namespace).ToListAsync()).Select(m => m.Id));
    }

    [Fact]
    public async Task An_experiment_and_a_model_with_the_same_name_get_different_ids()
    {
        var name = Unique("same");
        var experiment = (await Client.CreateExperimentAsync(name, "a@b.c", Namespace, Framework.PyTorch)).Value;
        var model = (await Client.CreateModelAsync(name, "a@b.c", Namespace)).Value;

        Assert.NotEqual(experiment.Id, model.Id);
    }

    [Fact]
    public async Task List_models_pages_transparently()
    {
        await using var smallPages = new ModelBoxClient(Server.Address, new ModelBoxClientOptions { PageSize = 2 });
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await smallPages.CreateModelAsync(Unique($"model{i}"), "a@b.c", Namespace)).Value.Id);
        }

        var listed = await smallPages.ListModelsAsync(Namespace).ToListAsync();

        Assert.Equal(ids.AsEnumerable().Reverse(), listed.Select(m => m.Id));
    }

    [Fact]
    public async Task Delete_and_restore_a_model_with_its_versions()
    {
        var model = (await Client.CreateModelAsync(Unique("model"), "a@b.c", Namespace)).Value;
        var version = (await Client.CreateModelVersionAsync(model.Id, "v1")).Value;

        await Client.DeleteModelAsync(model.Id);

        await Assert.ThrowsAsync<ModelBoxNotFoundException>(() => Client.GetModelAsync(model.Id));
        await Assert.ThrowsAsync<ModelBoxNotFoundException>(() => Client.GetModelVersionAsync(version.Id));
        Assert.Empty(await Client.ListModelsAsync(Namespace).ToListAsync());

        var restored = await Client.RestoreModelAsync(model.Id);

        Assert.Equal(model.Id, restored.Id);
        Assert.Equal(version.Id, (await Client.GetModelVersionAsync(version.Id)).Id);
    }

    [Fact]
    public async Task Model_versions_round_trip_and_list_oldest_first()
    {
        var model = (await Client.CreateModelAsync(Unique("model"), "a@b.c", Namespace)).Value;
        var metadata = new Dictionary<string, JsonElement> { ["wer"] = JsonSerializer.SerializeToElement(0.042) };

        var created = await Client.CreateModelVersionAsync(
            model.Id, "v1", name: "first", description: "baseline", framework: Framework.Transformers,
            uniqueTags: ["production", "latest"], metadata: metadata);

        Assert.False(created.AlreadyExisted);
        var v1 = created.Value;
        Assert.StartsWith("mver-", v1.Id);
        Assert.Equal(model.Id, v1.ModelId);
        Assert.Equal("v1", v1.Version);
        Assert.Equal("first", v1.Name);
        Assert.Equal("baseline", v1.Description);
        Assert.Equal(Framework.Transformers, v1.Framework);
        Assert.Equal(["production", "latest"], v1.UniqueTags.Order().Reverse());
        ExperimentSdkTests.AssertMetadata(metadata, v1.Metadata);
        Assert.Equal(v1.Id, (await Client.GetModelVersionAsync(v1.Id)).Id);
        Assert.True((await Client.CreateModelVersionAsync(model.Id, "v1")).AlreadyExisted);

        var v2 = (await Client.CreateModelVersionAsync(model.Id, "v2", framework: Framework.ScikitLearn)).Value;
        var v3 = (await Client.CreateModelVersionAsync(model.Id, "v3")).Value;

        await using var smallPages = new ModelBoxClient(Server.Address, new ModelBoxClientOptions { PageSize = 2 });
        Assert.Equal([v1.Id, v2.Id, v3.Id], (await smallPages.ListModelVersionsAsync(model.Id).ToListAsync()).Select(v => v.Id));

        await Client.DeleteModelVersionAsync(v2.Id);
        Assert.Equal([v1.Id, v3.Id], (await Client.ListModelVersionsAsync(model.Id).ToListAsync()).Select(v => v.Id));
        Assert.Equal(Framework.ScikitLearn, (await Client.RestoreModelVersionAsync(v2.Id)).Framework);
        Assert.Equal(3, (await Client.ListModelVersionsAsync(model.Id).ToListAsync()).Count);
    }
}
