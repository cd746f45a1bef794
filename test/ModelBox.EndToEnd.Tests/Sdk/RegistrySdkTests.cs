using ModelBox.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Sdk;

[Collection(ServerCollection.Name)]
public sealed class RegistrySdkTests(ModelBoxServerFixture server) : SdkTestBase(server)
{
    [Fact]
    public async Task Labels_aliases_references_and_selectors_through_the_sdk()
    {
        var model = (await Client.CreateModelAsync("classifier", "ops@example.com", Namespace)).Value;
        var v1 = (await Client.CreateModelVersionAsync(model.Id, "1")).Value;
        var v2 = (await Client.CreateModelVersionAsync(model.Id, "2")).Value;

        var labels = await Client.SetLabelsAsync(v2.Id, new Dictionary<string, string> { ["env"] = "staging" });
        Assert.Equal("staging", labels["env"]);
        await Client.SetAliasAsync(model.Id, "production", v1.Id);
        var moved = await Client.SetAliasAsync(model.Id, "production", v2.Id);
        Assert.Equal(v2.Id, moved.VersionId);

        Assert.Equal(v2.Id, (await Client.GetModelVersionByAliasAsync(model.Id, "production")).Id);
        var resolved = await Client.ResolveModelVersionAsync($"{Namespace}/classifier@production");
        Assert.Equal("staging", resolved.Labels["env"]);
        Assert.Equal(v1.Id, (await Client.ResolveModelVersionAsync($"{Namespace}/classifier:1")).Id);
        Assert.Equal(["production"], (await Client.ListAliasesAsync(model.Id)).Select(a => a.Alias));

        var staged = await Client.ListModelVersionsAsync(model.Id, "env=staging").ToListAsync();
        Assert.Equal([v2.Id], staged.Select(v => v.Id));

        await Client.DeleteAliasAsync(model.Id, "production");
        await Assert.ThrowsAsync<ModelBoxNotFoundException>(() => Client.GetAliasAsync(model.Id, "production"));
    }

    [Fact]
    public async Task Datasets_lineage_and_search_through_the_sdk()
    {
        var experiment = (await Client.CreateExperimentAsync("train", "ops", Namespace, Framework.PyTorch)).Value;
        var data = await Client.CreateDatasetAsync(Namespace, "images", "sha256:abc0000000000000000000000000000000000000000000000000000000000000", "s3://bucket/images");
        var model = (await Client.CreateModelAsync("vision", "ops", Namespace)).Value;
        var version = (await Client.CreateModelVersionAsync(model.Id, "1")).Value;
        await Client.SetLineageAsync(version.Id, new LineageSpec
        {
            ExperimentId = experiment.Id,
            Datasets = [new DatasetLink(data.Version.Id), new DatasetLink(data.Version.Id, DatasetRole.Evaluation)],
        });

        var lineage = await Client.GetLineageAsync(version.Id);
        Assert.Equal(experiment.Id, lineage.Experiment!.Id);
        Assert.Equal([DatasetRole.Training, DatasetRole.Evaluation], lineage.Datasets.Select(d => d.Role).Order());
        Assert.Equal([version.Id], (await Client.ListVersionsTrainedInAsync(experiment.Id)).Select(v => v.Id));
        Assert.Equal([experiment.Id], (await Client.GetDatasetUsageAsync(data.Dataset.Id)).Experiments.Select(e => e.Id));
        Assert.Equal(["images"], await Client.ListDatasetsAsync(Namespace).Select(d => d.Name).ToListAsync());

        await Client.SetLabelsAsync(experiment.Id, new Dictionary<string, string> { ["team"] = "vision" });
        var found = await Client.SearchExperimentsAsync("labels.team = 'vision' and framework = 'pytorch'", Namespace).ToListAsync();
        Assert.Equal([experiment.Id], found.Select(e => e.Id));
        var error = await Assert.ThrowsAsync<ModelBoxInvalidArgumentException>(() => Client.SearchModelsAsync("name = ", Namespace).ToListAsync().AsTask());
        Assert.Contains("position 8", error.Message, StringComparison.Ordinal);
    }
}
