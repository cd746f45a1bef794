using System.Text.Json;
using ModelBox.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Sdk;

[Collection(ServerCollection.Name)]
public sealed class ExperimentSdkTests(ModelBoxServerFixture server) : SdkTestBase(server)
{
    private static readonly IReadOnlyDictionary<string, JsonElement> s_metadata = new Dictionary<string, JsonElement>
    {
        ["lr"] = JsonSerializer.SerializeToElement(0.001),
        ["dataset"] = JsonSerializer.SerializeToElement("librispeech"),
        ["layers"] = JsonSerializer.SerializeToElement(new[] { 1, 2, 3 }),
        ["optimizer"] = JsonSerializer.SerializeToElement(new { name = "adam", betas = new[] { 0.9, 0.999 } }),
        ["resumed"] = JsonSerializer.SerializeToElement(false),
    };

    [Fact]
    public async Task Create_returns_the_stored_experiment_and_get_returns_the_same()
    {
        var name = Unique("wav2vec-lid");

        var created = await Client.CreateExperimentAsync(
            name, "your@email.com", Namespace, Framework.PyTorch,
            task: "lid", externalId: "slurm-42", description: "language id", metadata: s_metadata);

        Assert.False(created.AlreadyExisted);
        var experiment = created.Value;
        Assert.StartsWith("exp-", experiment.Id);
        Assert.Equal(name, experiment.Name);
        Assert.Equal(Namespace, experiment.Namespace);
        Assert.Equal("your@email.com", experiment.Owner);
        Assert.Equal(Framework.PyTorch, experiment.Framework);
        Assert.Equal("lid", experiment.Task);
        Assert.Equal("slurm-42", experiment.ExternalId);
        Assert.Equal("language id", experiment.Description);
        Assert.Equal(ExperimentStatus.Running, experiment.Status);
        Assert.Null(experiment.EndedAt);
        Assert.NotEqual(default, experiment.CreatedAt);
        AssertMetadata(s_metadata, experiment.Metadata);

        var fetched = await Client.GetExperimentAsync(experiment.Id);
        Assert.Equal(experiment.Id, fetched.Id);
        Assert.Equal(experiment.CreatedAt, fetched.CreatedAt);
        AssertMetadata(s_metadata, fetched.Metadata);
    }

    [Fact]
    public async Task Create_twice_returns_the_existing_experiment()
    {
        var name = Unique("exp");
        var first = await Client.CreateExperimentAsync(name, "a@b.c", Namespace, Framework.Keras);
        var second = await Client.CreateExperimentAsync(name, "a@b.c", Namespace, Framework.Keras);

        Assert.False(first.AlreadyExisted);
        Assert.True(second.AlreadyExisted);
        Assert.Equal(first.Value.Id, second.Value.Id);
    }

    [Fact]
    public async Task List_pages_transparently_newest_first()
    {
        await using var smallPages = new ModelBoxClient(Server.Address, new ModelBoxClientOptions { PageSize = 2 });
        var names = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var name = $"run-{i}-{Guid.NewGuid():N}";
            names.Add(name);
            await smallPages.CreateExperimentAsync(name, "a@b.c", Namespace, Framework.Jax);
        }

        var listed = await smallPages.ListExperimentsAsync(Namespace).ToListAsync();

        Assert.Equal(names.AsEnumerable().Reverse(), listed.Select(e => e.Name));
        Assert.All(listed, e => Assert.Equal(Framework.Jax, e.Framework));
    }

    [Fact]
    public async Task List_of_an_unused_namespace_is_empty()
    {
        Assert.Empty(await Client.ListExperimentsAsync(Unique("empty")).ToListAsync());
    }

    [Fact]
    public async Task Update_changes_status_description_and_external_id()
    {
        var experiment = (await Client.CreateExperimentAsync(Unique("exp"), "a@b.c", Namespace, Framework.TensorFlow)).Value;

        var finished = await Client.UpdateExperimentAsync(experiment.Id, ExperimentStatus.Finished, description: "converged", externalId: "job-7");

        Assert.Equal(ExperimentStatus.Finished, finished.Status);
        Assert.NotNull(finished.EndedAt);
        Assert.Equal("converged", finished.Description);
        Assert.Equal("job-7", finished.ExternalId);
        var fetched = await Client.GetExperimentAsync(experiment.Id);
        Assert.Equal(finished.Status, fetched.Status);
        Assert.Equal(finished.EndedAt, fetched.EndedAt);

        var descriptionOnly = await Client.UpdateExperimentAsync(experiment.Id, description: "still converged");
        Assert.Equal(ExperimentStatus.Finished, descriptionOnly.Status);
        Assert.Equal("job-7", descriptionOnly.ExternalId);

        var running = await Client.UpdateExperimentAsync(experiment.Id, ExperimentStatus.Running);
        Assert.Equal(ExperimentStatus.Running, running.Status);
        Assert.Null(running.EndedAt);
    }

    [Fact]
    public async Task Delete_hides_the_experiment_and_restore_brings_it_back()
    {
        var experiment = (await Client.CreateExperimentAsync(Unique("exp"), "a@b.c", Namespace, Framework.Onnx)).Value;
        var checkpoint = (await Client.CreateCheckpointAsync(experiment.Id, 1)).Value;

        var deletedAt = await Client.DeleteExperimentAsync(experiment.Id);

        Assert.NotEqual(default, deletedAt);
        await Assert.ThrowsAsync<ModelBoxNotFoundException>(() => Client.GetExperimentAsync(experiment.Id));
        Assert.DoesNotContain(await Client.ListExperimentsAsync(Namespace).ToListAsync(), e => e.Id == experiment.Id);
        await Assert.ThrowsAsync<ModelBoxNotFoundException>(() => Client.GetCheckpointAsync(checkpoint.Id));

        var restored = await Client.RestoreExperimentAsync(experiment.Id);

        Assert.Equal(experiment.Id, restored.Id);
        Assert.Equal(experiment.Name, (await Client.GetExperimentAsync(experiment.Id)).Name);
        Assert.Equal(checkpoint.Id, (await Client.GetCheckpointAsync(checkpoint.Id)).Id);
    }

    [Fact]
    public async Task Namespaces_lists_a_namespace_after_its_first_object()
    {
        await Client.CreateExperimentAsync(Unique("exp"), "a@b.c", Namespace, Framework.XGBoost);

        await using var smallPages = new ModelBoxClient(Server.Address, new ModelBoxClientOptions { PageSize = 1 });
        var namespaces = await smallPages.ListNamespacesAsync().ToListAsync();

        Assert.Contains(namespaces, n => n.Name == Namespace && n.CreatedAt != default);
        Assert.Equal(namespaces.Select(n => n.Name).Order(StringComparer.Ordinal), namespaces.Select(n => n.Name));
    }

    internal static void AssertMetadata(IReadOnlyDictionary<string, JsonElement> expected, IReadOnlyDictionary<string, JsonElement> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (key, value) in expected)
        {
            Assert.True(JsonElement.DeepEquals(value, actual[key]), $"metadata '{key}': expected {value.GetRawText()}, got {actual[key].GetRawText()}");
        }
    }
}
