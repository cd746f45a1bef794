using System.Security.Cryptography;
using Microsoft.Playwright;
using ModelBox.Client;
using ModelBox.WebUi.Tests.Infrastructure;

namespace ModelBox.WebUi.Tests;

/// <summary>An experiment's page: details, artifacts (download bytes), and charts read from the chart's own data.</summary>
[Collection(WebUiCollection.Name)]
public sealed class ExperimentPageTests(WebUiFixture ui)
{
    private readonly Seed _seed = new(ui.Http);

    [Fact]
    public async Task Shows_metadata_labels_events_checkpoints_and_a_chart_per_metric()
    {
        var ns = Seed.NewNamespace("ui-exp");
        var id = await _seed.ExperimentAsync(ns, "detailed", new { lr = 0.003 }, new() { ["team"] = "speech" });
        await _seed.PostAsync($"/api/v1/objects/{id}/events", new { @event = new { name = "preempted", source = new { name = "slurm" } } });
        await _seed.PostAsync($"/api/v1/experiments/{id}/checkpoints", new { epoch = "4", metrics = new { loss = 0.25 } });
        await _seed.MetricAsync(id, "train/loss", 300, s => 2.0 / (s + 1));
        await _seed.MetricAsync(id, "eval/accuracy", 40, s => s / 40.0);
        await _seed.MetricAsync(id, "lr", 1, _ => 0.003);

        await using var page = await ui.OpenAsync($"/experiments/{id}");
        var text = await page.Page.Locator("main").InnerTextAsync();
        foreach (var expected in new[] { "detailed", "team=speech", "lr", "0.003", "preempted", "slurm", "0.25" })
        {
            Assert.Contains(expected, text, StringComparison.Ordinal);
        }

        var loss = await page.WaitChartAsync("metric:train/loss");
        var series = Assert.Single(loss.Series);
        Assert.Equal(300, series.Points);
        Assert.Equal(300, series.TotalPoints);
        Assert.False(series.Downsampled);
        Assert.Equal(40, Assert.Single((await page.WaitChartAsync("metric:eval/accuracy")).Series).Points);
        Assert.Equal(1, Assert.Single((await page.WaitChartAsync("metric:lr")).Series).Points);
        Assert.Equal(3, await page.Page.Locator("figure.chart").CountAsync());
        // One canvas per chart, whatever the number of points.
        Assert.Equal(3, await page.Page.Locator("figure.chart canvas").CountAsync());
    }

    [Fact]
    public async Task A_long_series_is_downsampled_to_the_chart_width_and_a_zoom_rereads_the_range()
    {
        var ns = Seed.NewNamespace("ui-zoom");
        var id = await _seed.ExperimentAsync(ns, "long");
        await _seed.MetricAsync(id, "loss", 100_000, s => Math.Sin(s / 500.0) + (s == 77_777 ? 50 : 0));

        await using var page = await ui.OpenAsync($"/experiments/{id}");
        var chart = await page.WaitChartAsync("metric:loss");
        var whole = Assert.Single(chart.Series);
        Assert.True(whole.Downsampled);
        Assert.Equal(100_000, whole.TotalPoints);
        var width = await page.Page.EvaluateAsync<int>("() => window.modelboxCharts.get('metric:loss').plotWidth");
        Assert.InRange(whole.Points, 2, width);

        // Zoom to steps 1,000..1,199: the chart asks the server for that range and gets every point of it.
        await page.Page.EvaluateAsync("() => window.modelboxCharts.get('metric:loss').zoomTo(1000, 1199)");
        var zoomed = await page.WaitChartAsync("metric:loss", reads: chart.Reads + 1);
        var part = Assert.Single(zoomed.Series);
        Assert.False(part.Downsampled);
        Assert.Equal(200, part.Points);
        Assert.Equal(1000, part.FirstStep);
        Assert.Equal(1199, part.LastStep);

        // A drag with the mouse zooms too; double-click shows everything again.
        var (canvas, box) = await page.ChartCanvasAsync("metric:loss");
        await page.Page.Mouse.MoveAsync(box.X + 100, box.Y + 100);
        await page.Page.Mouse.DownAsync();
        await page.Page.Mouse.MoveAsync(box.X + 200, box.Y + 100);
        await page.Page.Mouse.UpAsync();
        var dragged = await page.WaitChartAsync("metric:loss", reads: zoomed.Reads + 1);
        Assert.NotNull(dragged.Range);
        await canvas.DblClickAsync();
        var reset = await page.WaitChartAsync("metric:loss", reads: dragged.Reads + 1);
        Assert.Null(reset.Range);
        Assert.True(Assert.Single(reset.Series).Downsampled);
    }

    [Fact]
    public async Task Chart_settings_are_in_the_url_and_hover_shows_values()
    {
        var ns = Seed.NewNamespace("ui-settings");
        var id = await _seed.ExperimentAsync(ns, "settings");
        await _seed.MetricAsync(id, "loss", 50, s => 100.0 / (s + 1));
        await using var page = await ui.OpenAsync($"/experiments/{id}?x=relative&y=log&smooth=0.6");
        await page.WaitChartAsync("metric:loss");
        Assert.Equal("relative", await page.Page.InputValueAsync("select[name=x]"));
        Assert.True(await page.Page.IsCheckedAsync("input[name=logy]"));
        Assert.Equal("0.6", await page.Page.InputValueAsync("input[name=smoothing]"));

        await page.Page.SelectOptionAsync("select[name=x]", "wall");
        Assert.Contains("x=wall", page.Page.Url, StringComparison.Ordinal);

        var (_, box) = await page.ChartCanvasAsync("metric:loss");
        await page.Page.Mouse.MoveAsync(box.X + box.Width / 2, box.Y + box.Height / 2);
        var tooltip = page.Page.Locator("figure[data-chart-id='metric:loss'] .chart-tooltip");
        await Assertions.Expect(tooltip).ToBeVisibleAsync();
        await Assertions.Expect(tooltip).ToContainTextAsync("settings:");
    }

    [Fact]
    public async Task An_artifact_downloads_with_the_bytes_that_were_uploaded()
    {
        var ns = Seed.NewNamespace("ui-artifact");
        var id = await _seed.ExperimentAsync(ns, "with-files");
        var bytes = RandomNumberGenerator.GetBytes(300_000);
        await using (var client = new ModelBoxClient(ui.Server.HostPort))
        {
            using var content = new MemoryStream(bytes);
            await client.UploadFileAsync(id, content, "weights/model.bin");
        }

        await using var page = await ui.OpenAsync($"/experiments/{id}");
        var link = page.Page.Locator("a.download");
        await Assertions.Expect(link).ToHaveCountAsync(1);
        var row = await link.Locator("xpath=ancestor::tr").InnerTextAsync();
        Assert.Contains("weights/model.bin", row, StringComparison.Ordinal);
        Assert.Contains("293", row, StringComparison.Ordinal); // 300,000 bytes = 293 KiB

        var download = await page.Page.RunAndWaitForDownloadAsync(() => link.ClickAsync());
        Assert.Equal("model.bin", download.SuggestedFilename);
        var saved = Path.Combine(Path.GetTempPath(), "modelbox-ui-" + Guid.NewGuid().ToString("N"));
        await download.SaveAsAsync(saved);
        try
        {
            Assert.Equal(bytes, await File.ReadAllBytesAsync(saved));
        }
        finally
        {
            File.Delete(saved);
        }
    }

    [Fact]
    public async Task An_unknown_experiment_says_it_was_not_found()
    {
        await using var page = await ui.OpenAsync("/experiments/exp-00000000000000000000000000000000");
        await Assertions.Expect(page.Page.Locator(".state.not-found")).ToContainTextAsync("was not found");
    }

    [Fact]
    public async Task A_narrow_window_keeps_the_page_readable()
    {
        var ns = Seed.NewNamespace("ui-narrow");
        var id = await _seed.ExperimentAsync(ns, "narrow-run");
        await _seed.MetricAsync(id, "loss", 20, s => s);
        await using var page = await ui.OpenAsync($"/experiments/{id}", width: 380, height: 800);
        await page.WaitChartAsync("metric:loss");
        // Nothing but tables (which scroll inside their own box) is wider than the window.
        var overflow = await page.Page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
        Assert.True(overflow <= 0, $"the page is {overflow}px wider than a 380px window");
        var chartWidth = await page.Page.EvaluateAsync<double>("() => document.querySelector('figure.chart canvas').getBoundingClientRect().width");
        Assert.InRange(chartWidth, 200, 380);
    }
}
