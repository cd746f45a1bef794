using System.Security.Cryptography;
using Microsoft.Playwright;
using ModelBox.Client;
using ModelBox.WebUi.Tests.Infrastructure;

namespace ModelBox.WebUi.Tests;

/// <summary>
/// The UI on a server with enforced auth: a 401 asks for a token, which the UI then sends as a bearer header on every
/// request (API calls, the change stream read with fetch, downloads); a token without a role on the namespace shows that.
/// </summary>
[Collection(AuthWebUiCollection.Name)]
public sealed class AuthTests(AuthWebUiFixture ui)
{
    private readonly Seed _seed = new(ui.Http);

    private static async Task SignInAsync(UiPage page, string token)
    {
        var box = page.Page.Locator("#sign-in form");
        await Assertions.Expect(box).ToBeVisibleAsync();
        await page.Page.FillAsync("#token", token);
        await page.Page.ClickAsync("#sign-in button[type=submit]");
        await Assertions.Expect(box).ToHaveCountAsync(0);
        await page.WaitReadyAsync();
    }

    [Fact]
    public async Task A_401_asks_for_a_token_and_the_table_shows_after_signing_in_and_signing_out_forgets_it()
    {
        var first = await _seed.ExperimentAsync(ui.Team, "signed-" + Guid.NewGuid().ToString("N")[..6]);

        await using var page = await ui.OpenAsync($"/namespaces/{Uri.EscapeDataString(ui.Team)}");
        await Assertions.Expect(page.Page.Locator("#sign-in form")).ToBeVisibleAsync();
        Assert.False(await page.Page.Locator("main").IsVisibleAsync());
        Assert.Equal(0, await page.Page.Locator("#sign-out").CountAsync());

        // A token the server does not accept is not kept: the box says why.
        await page.Page.FillAsync("#token", "mbx_not-a-real-token");
        await page.Page.ClickAsync("#sign-in button[type=submit]");
        await Assertions.Expect(page.Page.Locator("#sign-in-error")).ToContainTextAsync("token");
        Assert.Null(await page.Page.EvaluateAsync<string?>("() => sessionStorage.getItem('modelbox.token')"));

        await SignInAsync(page, ui.ViewerToken);
        await Assertions.Expect(page.Page.Locator($"table.experiments tr[data-id='{first}']")).ToHaveCountAsync(1);
        Assert.Equal(ui.ViewerToken, await page.Page.EvaluateAsync<string?>("() => sessionStorage.getItem('modelbox.token')"));
        Assert.DoesNotContain(ui.ViewerToken, page.Page.Url, StringComparison.Ordinal);

        // Another page of the same tab keeps the token (the experiment page reads with it too).
        await page.Page.ClickAsync($"tr[data-id='{first}'] td:nth-child(2) a");
        await page.WaitReadyAsync();
        await Assertions.Expect(page.Page.Locator("h1")).ToContainTextAsync("signed-");

        await page.Page.ClickAsync("#sign-out");
        await Assertions.Expect(page.Page.Locator("#sign-in form")).ToBeVisibleAsync();
        Assert.Null(await page.Page.EvaluateAsync<string?>("() => sessionStorage.getItem('modelbox.token')"));
    }

    [Fact]
    public async Task A_viewer_of_another_namespace_is_told_it_has_no_access()
    {
        var id = await _seed.ExperimentAsync(ui.Team, "hidden-" + Guid.NewGuid().ToString("N")[..6]);

        await using var page = await ui.OpenAsync($"/namespaces/{Uri.EscapeDataString(ui.Team)}");
        await SignInAsync(page, ui.OtherViewerToken);
        var denied = page.Page.Locator(".state.forbidden");
        await Assertions.Expect(denied).ToContainTextAsync($"No access to namespace {ui.Team}");
        Assert.Equal(0, await page.Page.Locator("table.experiments").CountAsync());

        await page.Page.GotoAsync($"/experiments/{id}");
        await page.WaitReadyAsync();
        await Assertions.Expect(denied).ToContainTextAsync($"No access to namespace {ui.Team}");
        Assert.DoesNotContain("hidden-", await page.Page.Locator("main").InnerTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_new_run_arrives_live_over_the_stream_that_carries_the_token()
    {
        await _seed.ExperimentAsync(ui.Team, "before-" + Guid.NewGuid().ToString("N")[..6]);
        await using var page = await ui.OpenAsync($"/namespaces/{Uri.EscapeDataString(ui.Team)}");
        await SignInAsync(page, ui.ViewerToken);
        await page.WaitLiveAsync();
        await page.Page.EvaluateAsync("() => { window.__sameDocument = true; }");

        var id = await _seed.ExperimentAsync(ui.Team, "live-" + Guid.NewGuid().ToString("N")[..6]);
        await Assertions.Expect(page.Page.Locator($"tr[data-id='{id}']")).ToHaveCountAsync(1);
        Assert.True(await page.Page.EvaluateAsync<bool>("() => window.__sameDocument === true"), "the page was reloaded");
    }

    [Fact]
    public async Task A_download_sends_the_token_and_saves_the_uploaded_bytes()
    {
        var id = await _seed.ExperimentAsync(ui.Team, "files-" + Guid.NewGuid().ToString("N")[..6]);
        var bytes = RandomNumberGenerator.GetBytes(200_000);
        await using (var client = new ModelBoxClient(ui.Server.HostPort, new ModelBoxClientOptions { Token = ui.AdminToken }))
        {
            using var content = new MemoryStream(bytes);
            await client.UploadFileAsync(id, content, "weights/model.bin");
        }

        await using var page = await ui.OpenAsync($"/experiments/{id}");
        await SignInAsync(page, ui.ViewerToken);
        var link = page.Page.Locator("a.download");
        await Assertions.Expect(link).ToHaveCountAsync(1);
        Assert.DoesNotContain("token", await link.GetAttributeAsync("href") ?? string.Empty, StringComparison.OrdinalIgnoreCase);

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
}
