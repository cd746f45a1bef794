using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Playwright;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.WebUi.Tests.Infrastructure;

/// <summary>
/// A real ModelBox server on loopback and a real headless Chromium (Debian's <c>chromium</c>, which test.sh installs)
/// driven by Playwright. Each test opens its own page; uncaught script errors on a page fail the test.
/// </summary>
public class WebUiFixture : IAsyncLifetime
{
    /// <summary>Where test.sh installs Chromium (Debian's package).</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public WebUiFixture()
        : this(config => config)
    {
    }

    /// <summary>A fixture whose server runs with <paramref name="configure"/> applied to its configuration.</summary>
    protected WebUiFixture(Func<ModelBox.Server.Configuration.ServerConfig, ModelBox.Server.Configuration.ServerConfig> configure) =>
        Server = new ModelBoxServerFixture { Configure = configure };

    public ModelBoxServerFixture Server { get; }

    public HttpClient Http { get; private set; } = null!;

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("not started");

    public virtual async Task InitializeAsync()
    {
        await Server.InitializeAsync();
        Http = new HttpClient { BaseAddress = new Uri(Server.HttpAddress) };
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: install Debian's 'chromium' package (test.sh does)");
        }

        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // Containers run as root without user namespaces; the sandbox cannot start there.
            Args = ["--no-sandbox", "--disable-dev-shm-usage"],
        });
    }

    /// <summary>A fresh page (own context: cookies, cache) on the server's HTTP listener.</summary>
    public async Task<UiPage> OpenAsync(string path, int width = 1280, int height = 900)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = Server.HttpAddress,
            ViewportSize = new ViewportSize { Width = width, Height = height },
            AcceptDownloads = true,
        });
        var page = await context.NewPageAsync();
        var ui = new UiPage(context, page);
        await page.GotoAsync(path);
        await ui.WaitReadyAsync();
        return ui;
    }

    public virtual async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
        Http?.Dispose();
        await Server.DisposeAsync();
    }
}

/// <summary>One browser page, with the script errors it raised.</summary>
public sealed class UiPage : IAsyncDisposable
{
    private readonly IBrowserContext _context;

    public UiPage(IBrowserContext context, IPage page)
    {
        _context = context;
        Page = page;
        page.PageError += (_, error) => Errors.Enqueue(error);
    }

    public IPage Page { get; }

    /// <summary>Uncaught exceptions of the page's scripts.</summary>
    public ConcurrentQueue<string> Errors { get; } = new();

    /// <summary>Waits until the router rendered the page (its data loaded or its error shown), or asks for a token.</summary>
    public Task WaitReadyAsync() =>
        Page.WaitForFunctionAsync("() => ['ready', 'sign-in'].includes(document.documentElement.dataset.page)");

    /// <summary>Waits until the change stream is connected (so that a change made now is pushed to the page).</summary>
    public Task WaitLiveAsync() => Page.WaitForFunctionAsync("() => document.documentElement.dataset.live === 'connected'");

    /// <summary>A chart's data as the chart holds it (<c>element.chart.data()</c>).</summary>
    public async Task<ChartData> ChartAsync(string id)
    {
        var data = await Page.EvaluateAsync<JsonElement>("id => window.modelboxCharts.get(id)?.data() ?? null", id);
        return data.ValueKind == JsonValueKind.Object
            ? data.Deserialize<ChartData>(s_json)!
            : throw new InvalidOperationException($"no chart '{id}' on the page");
    }

    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    /// <summary>Waits until chart <paramref name="id"/> has drawn data read at least <paramref name="reads"/> times.</summary>
    public async Task<ChartData> WaitChartAsync(string id, int reads = 1)
    {
        await Page.WaitForFunctionAsync(
            "([id, reads]) => { const c = window.modelboxCharts.get(id); return !!c && (c.state === 'error' || (c.reads >= reads && (c.state === 'drawn' || c.state === 'empty'))); }",
            new object[] { id, reads });
        var chart = await ChartAsync(id);
        Assert.True(chart.State != "error", $"chart {id} failed: " + await Page.EvaluateAsync<string>("id => window.modelboxCharts.get(id).note.textContent", id));
        return chart;
    }

    /// <summary>The canvas of chart <paramref name="id"/>, scrolled into view, and its box on the screen.</summary>
    public async Task<(ILocator Canvas, LocatorBoundingBoxResult Box)> ChartCanvasAsync(string id)
    {
        var canvas = Page.Locator($"figure[data-chart-id='{id}'] canvas");
        await canvas.ScrollIntoViewIfNeededAsync();
        return (canvas, (await canvas.BoundingBoxAsync())!);
    }

    public async ValueTask DisposeAsync()
    {
        await _context.DisposeAsync();
        Assert.True(Errors.IsEmpty, "the page raised script errors:\n" + string.Join("\n", Errors));
    }
}

public sealed record ChartData(string Id, string? State, int Reads, ChartRange? Range, ChartSeries[] Series);

public sealed record ChartRange(double X0, double X1);

public sealed record ChartSeries(string Name, int Points, double TotalPoints, bool Downsampled, double? FirstStep, double? LastStep);

/// <summary>Tests in this collection share one server and one browser.</summary>
[CollectionDefinition(Name)]
public sealed class WebUiCollection : ICollectionFixture<WebUiFixture>
{
    public const string Name = "web-ui";
}
