using Microsoft.Playwright;
using ModelBox.WebUi.Tests.Infrastructure;

namespace ModelBox.WebUi.Tests;

/// <summary>The first page and a namespace's experiments table: content, filters (good and bad), sort, paging, live rows.</summary>
[Collection(WebUiCollection.Name)]
public sealed class ExperimentsTableTests(WebUiFixture ui)
{
    private readonly Seed _seed = new(ui.Http);

    [Fact]
    public async Task The_first_page_lists_the_namespaces_with_links_to_them()
    {
        var ns = Seed.NewNamespace("ui-first");
        await _seed.ExperimentAsync(ns, "only-run");
        await using var page = await ui.OpenAsync("/");
        var link = page.Page.Locator("a.ns-link", new() { HasTextString = ns });
        Assert.Equal($"/namespaces/{ns}", await link.GetAttributeAsync("href"));

        await link.ClickAsync();
        await page.Page.WaitForURLAsync($"**/namespaces/{ns}");
        await page.WaitReadyAsync();
        Assert.Equal(1, await page.Page.Locator("table.experiments tbody tr").CountAsync());
        Assert.Equal("only-run", await page.Page.Locator("table.experiments tbody tr td:nth-child(2)").InnerTextAsync());
    }

    [Fact]
    public async Task The_table_shows_the_runs_with_their_columns_and_last_metric_values()
    {
        var ns = Seed.NewNamespace("ui-table");
        var id = await _seed.ExperimentAsync(ns, "run-a", new { lr = 0.01, optimizer = "adam" }, new() { ["env"] = "prod" }, owner: "bo@example.com");
        await _seed.MetricAsync(id, "loss", 10, s => 1.0 / (s + 1));
        await using var page = await ui.OpenAsync($"/namespaces/{ns}");
        var row = page.Page.Locator($"tr[data-id='{id}']");
        var text = await row.InnerTextAsync();
        Assert.Contains("run-a", text, StringComparison.Ordinal);
        Assert.Contains("bo@example.com", text, StringComparison.Ordinal);
        Assert.Contains("running", text, StringComparison.Ordinal);
        Assert.Contains("pytorch", text, StringComparison.Ordinal);
        Assert.Contains("env=prod", text, StringComparison.Ordinal);
        Assert.Contains("adam", text, StringComparison.Ordinal);
        // The last value of loss (step 9: 1/10).
        Assert.Equal("0.1", await row.Locator("td[title='metrics.loss']").InnerTextAsync());
        Assert.Equal("0.01", await row.Locator("td[title='metadata.lr']").InnerTextAsync());
    }

    [Fact]
    public async Task A_filter_narrows_the_table_and_stays_in_the_url()
    {
        var ns = Seed.NewNamespace("ui-filter");
        var fast = await _seed.ExperimentAsync(ns, "fast", new { lr = 0.1 });
        await _seed.ExperimentAsync(ns, "slow", new { lr = 0.001 });
        await using var page = await ui.OpenAsync($"/namespaces/{ns}");
        Assert.Equal(2, await page.Page.Locator("table.experiments tbody tr").CountAsync());

        await page.Page.FillAsync("#filter", "metadata.lr > 0.05");
        await page.Page.PressAsync("#filter", "Enter");
        await Assertions.Expect(page.Page.Locator("table.experiments tbody tr")).ToHaveCountAsync(1);
        Assert.Equal(fast, await page.Page.Locator("table.experiments tbody tr").GetAttributeAsync("data-id"));
        Assert.Contains("q=metadata.lr", Uri.UnescapeDataString(page.Page.Url), StringComparison.Ordinal);

        // The URL is shareable: opened afresh, it shows the same filtered table.
        await using var shared = await ui.OpenAsync(new Uri(page.Page.Url).PathAndQuery);
        await Assertions.Expect(shared.Page.Locator("table.experiments tbody tr")).ToHaveCountAsync(1);
        Assert.Equal("metadata.lr > 0.05", await shared.Page.InputValueAsync("#filter"));
    }

    [Fact]
    public async Task A_bad_filter_shows_the_servers_message_and_marks_the_position()
    {
        var ns = Seed.NewNamespace("ui-badfilter");
        await _seed.ExperimentAsync(ns, "run");
        await using var page = await ui.OpenAsync($"/namespaces/{ns}?q=" + Uri.EscapeDataString("metadata.lr > "));
        var error = page.Page.Locator("#filter-error");
        await Assertions.Expect(error).ToContainTextAsync("expected a value");
        Assert.Equal("15", await error.GetAttributeAsync("data-position"));
        Assert.Equal("true", await page.Page.GetAttributeAsync("#filter", "aria-invalid"));
        Assert.Equal(0, await page.Page.Locator("table.experiments").CountAsync());
    }

    [Fact]
    public async Task A_label_selector_selects_and_a_bad_one_is_shown_under_its_box()
    {
        var ns = Seed.NewNamespace("ui-labels");
        var prod = await _seed.ExperimentAsync(ns, "prod-run", labels: new() { ["env"] = "prod" });
        await _seed.ExperimentAsync(ns, "dev-run", labels: new() { ["env"] = "dev" });
        await _seed.ExperimentAsync(ns, "bare-run");
        await using var page = await ui.OpenAsync($"/namespaces/{ns}?labels=env%3Dprod");
        await Assertions.Expect(page.Page.Locator("table.experiments tbody tr")).ToHaveCountAsync(1);
        Assert.Equal(prod, await page.Page.Locator("table.experiments tbody tr").GetAttributeAsync("data-id"));

        // With the filter too, and "!=" is true for runs without the label (as the selector language says).
        await page.Page.FillAsync("#labels", "env!=dev");
        await page.Page.FillAsync("#filter", "name != 'zzz'");
        await page.Page.PressAsync("#filter", "Enter");
        await Assertions.Expect(page.Page.Locator("table.experiments tbody tr")).ToHaveCountAsync(2);

        await page.Page.FillAsync("#labels", "env in (prod");
        await page.Page.PressAsync("#labels", "Enter");
        await Assertions.Expect(page.Page.Locator("#labels-error")).Not.ToBeEmptyAsync();
        Assert.Equal("true", await page.Page.GetAttributeAsync("#labels", "aria-invalid"));
    }

    [Fact]
    public async Task Sorting_by_a_column_orders_the_rows_both_ways()
    {
        var ns = Seed.NewNamespace("ui-sort");
        foreach (var name in new[] { "bravo", "alpha", "charlie" })
        {
            await _seed.ExperimentAsync(ns, name, new { layers = name.Length });
        }

        await using var page = await ui.OpenAsync($"/namespaces/{ns}");
        var names = page.Page.Locator("table.experiments tbody tr td:nth-child(2)");
        // Newest first by default.
        Assert.Equal(["charlie", "alpha", "bravo"], await names.AllInnerTextsAsync());

        await page.Page.ClickAsync("button.sort[data-sort='name']");
        await Assertions.Expect(names.First).ToHaveTextAsync("alpha");
        Assert.Equal(["alpha", "bravo", "charlie"], await names.AllInnerTextsAsync());
        Assert.Contains("sort=name", page.Page.Url, StringComparison.Ordinal);

        await page.Page.ClickAsync("button.sort[data-sort='name']");
        await Assertions.Expect(names.First).ToHaveTextAsync("charlie");
        Assert.Equal(["charlie", "bravo", "alpha"], await names.AllInnerTextsAsync());

        // A metadata column sorts too (alpha has 5 letters, bravo 5, charlie 7).
        await page.Page.ClickAsync("button.sort[data-sort='metadata.layers']");
        await Assertions.Expect(names.Last).ToHaveTextAsync("charlie");
    }

    [Fact]
    public async Task Pages_follow_one_another_by_keyset()
    {
        var ns = Seed.NewNamespace("ui-pages");
        for (var i = 0; i < 30; i++)
        {
            await _seed.ExperimentAsync(ns, $"run-{i:D2}");
        }

        await using var page = await ui.OpenAsync($"/namespaces/{ns}?ps=25&sort=name");
        var rows = page.Page.Locator("table.experiments tbody tr");
        Assert.Equal(25, await rows.CountAsync());
        Assert.True(await page.Page.IsDisabledAsync("#prev-page"));
        await page.Page.ClickAsync("#next-page");
        await Assertions.Expect(rows).ToHaveCountAsync(5);
        Assert.Equal("run-25", await rows.First.Locator("td:nth-child(2)").InnerTextAsync());
        Assert.True(await page.Page.IsDisabledAsync("#next-page"));
        await page.Page.ClickAsync("#prev-page");
        await Assertions.Expect(rows).ToHaveCountAsync(25);
        Assert.Equal("run-00", await rows.First.Locator("td:nth-child(2)").InnerTextAsync());
    }

    [Fact]
    public async Task A_new_run_appears_without_a_reload()
    {
        var ns = Seed.NewNamespace("ui-live");
        await _seed.ExperimentAsync(ns, "first");
        await using var page = await ui.OpenAsync($"/namespaces/{ns}");
        await page.WaitLiveAsync();
        await page.Page.EvaluateAsync("() => { window.__sameDocument = true; }");

        var id = await _seed.ExperimentAsync(ns, "second");
        await Assertions.Expect(page.Page.Locator($"tr[data-id='{id}']")).ToHaveCountAsync(1);
        Assert.True(await page.Page.EvaluateAsync<bool>("() => window.__sameDocument === true"), "the page was reloaded");
    }

    [Fact]
    public async Task An_empty_namespace_and_an_unreachable_server_have_clear_states()
    {
        await using var empty = await ui.OpenAsync($"/namespaces/{Seed.NewNamespace("ui-empty")}");
        await Assertions.Expect(empty.Page.Locator(".state.empty")).ToContainTextAsync("No experiments");

        var ns = Seed.NewNamespace("ui-down");
        await _seed.ExperimentAsync(ns, "run");
        await using var page = await ui.OpenAsync($"/namespaces/{ns}");
        // The server goes away: every API call fails at the network level.
        await page.Page.Context.RouteAsync("**/api/**", route => route.AbortAsync());
        await page.Page.FillAsync("#filter", "name = 'run'");
        await page.Page.PressAsync("#filter", "Enter");
        await Assertions.Expect(page.Page.Locator(".state.unreachable")).ToContainTextAsync("cannot be reached");
    }
}
