using Microsoft.Playwright;
using ModelBox.WebUi.Tests.Infrastructure;

namespace ModelBox.WebUi.Tests;

/// <summary>The compare view and the registry pages.</summary>
[Collection(WebUiCollection.Name)]
public sealed class CompareAndModelTests(WebUiFixture ui)
{
    private readonly Seed _seed = new(ui.Http);

    [Fact]
    public async Task Selected_runs_are_overlaid_with_their_parameters_side_by_side()
    {
        var ns = Seed.NewNamespace("ui-compare");
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var id = await _seed.ExperimentAsync(ns, $"run-{i}", new { lr = 0.1 / (i + 1), optimizer = "adam" });
            await _seed.MetricAsync(id, "loss", 100 + i, s => (i + 1.0) / (s + 1));
            ids.Add(id);
        }

        await using var table = await ui.OpenAsync($"/namespaces/{ns}");
        foreach (var id in ids)
        {
            await table.Page.CheckAsync($"input[data-id='{id}']");
        }

        await table.Page.ClickAsync("#compare");
        await table.Page.WaitForURLAsync("**/compare?**");
        await table.WaitReadyAsync();
        var chart = await table.WaitChartAsync("compare:loss");
        Assert.Equal(3, chart.Series.Length);
        Assert.Equal(new[] { 100, 101, 102 }, chart.Series.Select(s => s.Points).Order().ToArray());
        Assert.Equal(3, await table.Page.Locator(".legend li").CountAsync());

        // lr differs, optimizer does not.
        Assert.Equal("differs", await table.Page.GetAttributeAsync("tr[data-key='lr']", "class"));
        Assert.Null(await table.Page.GetAttributeAsync("tr[data-key='optimizer']", "class"));
        await table.Page.CheckAsync("#only-differences");
        await Assertions.Expect(table.Page.Locator("tr[data-key='optimizer']")).ToHaveCountAsync(0);

        // The scatter has one point per run: lr against the last loss.
        await table.Page.WaitForFunctionAsync("() => document.querySelector(\"figure[data-chart-id='compare-scatter']\")?.dataset.points === '3'");
    }

    [Fact]
    public async Task The_model_pages_show_versions_aliases_and_lineage_and_an_alias_move_shows_live()
    {
        var ns = Seed.NewNamespace("ui-models");
        var experiment = await _seed.ExperimentAsync(ns, "trainer");
        var dataset = await _seed.PostAsync("/api/v1/datasets", new { @namespace = ns, name = "librispeech", digest = "sha256:" + new string('a', 64), uri = "s3://data/libri" });
        var datasetVersion = dataset.GetProperty("version").GetProperty("id").GetString();
        var model = (await _seed.PostAsync("/api/v1/models", new { name = "wav2vec", @namespace = ns, task = "asr" })).GetProperty("id").GetString()!;
        await _seed.PostAsync($"/api/v1/objects/{model}/labels", new { labels = new Dictionary<string, string> { ["tier"] = "gold" } });
        var v1 = (await _seed.PostAsync($"/api/v1/models/{model}/versions", new
        {
            version = "1.0",
            uniqueTags = new[] { "stable" },
            lineage = new { experimentId = experiment, datasets = new[] { new { datasetVersionId = datasetVersion, role = "DATASET_ROLE_TRAINING" } } },
        })).GetProperty("modelVersion").GetString()!;
        var v2 = (await _seed.PostAsync($"/api/v1/models/{model}/versions", new
        {
            version = "2.0",
            lineage = new { derivedFrom = new[] { new { versionId = v1, relation = "fine-tuned" } } },
        })).GetProperty("modelVersion").GetString()!;
        await _seed.SendAsync(HttpMethod.Put, $"/api/v1/models/{model}/aliases/production", new { versionId = v1 });

        await using var list = await ui.OpenAsync($"/namespaces/{ns}/models");
        var row = await list.Page.Locator($"tr[data-id='{model}']").InnerTextAsync();
        Assert.Contains("wav2vec", row, StringComparison.Ordinal);
        Assert.Contains("tier=gold", row, StringComparison.Ordinal);
        Assert.Contains("@production", row, StringComparison.Ordinal);

        await using var page = await ui.OpenAsync($"/models/{model}");
        Assert.Equal(2, await page.Page.Locator("tr[data-id]").CountAsync());
        Assert.Contains("stable", await page.Page.Locator($"tr[data-id='{v1}']").InnerTextAsync(), StringComparison.Ordinal);
        var target = page.Page.Locator("tr[data-alias='production'] a.alias-target");
        Assert.Equal("1.0", await target.InnerTextAsync());

        await page.WaitLiveAsync();
        await _seed.SendAsync(HttpMethod.Put, $"/api/v1/models/{model}/aliases/production", new { versionId = v2 });
        await Assertions.Expect(target).ToHaveTextAsync("2.0");

        await using var version = await ui.OpenAsync($"/model-versions/{v1}");
        var graph = version.Page.Locator(".lineage");
        await Assertions.Expect(graph.Locator(".node-dataset")).ToContainTextAsync("librispeech");
        await Assertions.Expect(graph.Locator(".node-experiment")).ToContainTextAsync("trainer");
        Assert.Contains("2.0", await graph.Locator(".lineage-column").Last.InnerTextAsync(), StringComparison.Ordinal);
    }
}
