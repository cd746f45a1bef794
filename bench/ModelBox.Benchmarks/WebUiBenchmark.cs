using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using ModelBox.Cli.Hosting;
using ModelBox.Domain;
using ModelBox.Domain.Operations;
using ModelBox.Server.Configuration;
using ModelBox.Server.Hosting;

namespace ModelBox.Benchmarks;

/// <summary>
/// `webui`: the web UI in a real headless Chromium against an in-process server, timed from navigation (or action) to
/// "drawn" as the page reports it (every chart holds data, the table shows rows), beside the raw API time for the same
/// data: the very requests the page made (recorded from the browser), replayed with HttpClient over 6 connections as a
/// browser uses them. The difference is what the UI itself costs (scripts, JSON parsing, drawing).
/// <c>webui [--keys 20] [--points 1000000] [--runs 100] [--compare-points 1000000] [--compare-stride 1] [--table-runs 10000] [--repeat 5] [--only page,compare,zoom,table,filter]</c>.
/// <para>`webui-screenshots [--out docs/images]`: screenshots of the main views over a small realistic project.</para>
/// </summary>
public static class WebUiBenchmark
{
    private const string ChromiumPath = "/usr/bin/chromium";

    public static async Task<int> RunAsync(string[] args)
    {
        var keys = Option(args, "--keys", 20);
        var points = Option(args, "--points", 1_000_000);
        var runs = Option(args, "--runs", 100);
        var comparePoints = Option(args, "--compare-points", 1_000_000);
        // --compare-stride N: the compare runs log every Nth step (a quick run: 100,000 points × stride 10 span the same
        // 1M steps, so the zoom reads the same stored buckets as the full size).
        var compareStride = Option(args, "--compare-stride", 1);
        var compareSteps = (long)comparePoints * compareStride;
        var tableRuns = Option(args, "--table-runs", 10_000);
        var repeat = Option(args, "--repeat", 5);
        // --only page,compare,zoom,table,filter: the views to measure (and seed); all by default.
        var only = OptionText(args, "--only", "page,compare,zoom,table,filter").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        if (!only.Contains("page"))
        {
            keys = 0;
        }

        if (!only.Overlaps(["compare", "zoom"]))
        {
            runs = 0;
        }

        if (!only.Overlaps(["table", "filter"]))
        {
            tableRuns = 0;
        }

        await using var host = await Host.StartAsync();
        var log = host.Server.Services.GetRequiredService<MetricLog>();
        var seed = Stopwatch.StartNew();

        var single = await host.ExperimentAsync("bench-ui", "one-run", new { });
        await LogAsync(log, [.. Enumerable.Range(0, keys).Select(k => (single, $"metric_{k:D2}"))], points);
        var compare = new List<string>();
        for (var i = 0; i < runs; i++)
        {
            compare.Add(await host.ExperimentAsync("bench-ui-compare", $"run-{i:D3}", new { lr = 0.001 * (i + 1) }));
        }

        await LogAsync(log, [.. compare.Select(id => (id, "loss"))], comparePoints, compareStride);
        var table = new List<string>();
        for (var i = 0; i < tableRuns; i++)
        {
            table.Add(await host.ExperimentAsync("bench-ui-table", $"run-{i:D5}", new { lr = 0.0001 * (i % 100), batch = 32 << (i % 4) }));
        }

        await LogAsync(log, [.. table.SelectMany(id => Enumerable.Range(0, 5).Select(k => (id, $"m{k}")))], 1);
        Console.WriteLine($"seeded in {seed.Elapsed.TotalSeconds:F1} s: 1 run × {keys} keys × {points:N0} points; {runs} runs × 1 key × {comparePoints:N0} points (every {compareStride} steps); {tableRuns:N0} runs × 5 metrics");

        await using var browser = await Browser.LaunchAsync(host.Server.HttpAddress);
        var rows = new List<(string What, double Ui, double Raw, int Requests)>();

        // Times are the page's own (performance.now(), from navigation start or from the action), so Playwright's
        // round trips are not counted.
        if (only.Contains("page"))
        {
            rows.Add(await MeasureAsync(browser, host, repeat, $"experiment page, {keys} keys × {points:N0} points: all charts drawn",
                page => page.GotoAsync($"/experiments/{single}"), AllChartsDrawn(keys),
                "() => Math.max(...[...window.modelboxCharts.values()].map(c => c.drawnAt))"));
        }

        var compareUrl = $"/compare?ns=bench-ui-compare&ids={string.Join(',', compare)}";
        if (only.Contains("compare"))
        {
            rows.Add(await MeasureAsync(browser, host, repeat, $"compare {runs} runs × 1 key × {comparePoints:N0} points: chart drawn",
                page => page.GotoAsync(compareUrl), AllChartsDrawn(1), "() => window.modelboxCharts.get('compare:loss').drawnAt"));
        }

        if (only.Contains("zoom"))
        {
            rows.Add(await MeasureAsync(browser, host, repeat, $"compare {runs} runs: zoom re-read (10% of the steps) drawn",
                async page =>
                {
                    await page.GotoAsync(compareUrl);
                    await page.WaitForFunctionAsync(AllChartsDrawn(1));
                },
                "() => { const c = window.modelboxCharts.get('compare:loss'); return c.reads >= 2 && c.state === 'drawn'; }",
                "() => { const c = window.modelboxCharts.get('compare:loss'); return c.drawnAt - c.zoomedAt; }",
                action: page => page.EvaluateAsync($"() => window.modelboxCharts.get('compare:loss').zoomTo({compareSteps / 2}, {(compareSteps / 2) + (compareSteps / 10)})")));
            await ZoomBreakdownAsync(host, log, repeat);
        }

        if (only.Contains("table"))
        {
            rows.Add(await MeasureAsync(browser, host, repeat, $"experiments table, {tableRuns:N0} runs × 5 metric columns: first page",
                page => page.GotoAsync("/namespaces/bench-ui-table"),
                "() => document.querySelectorAll('table.experiments tbody tr').length === 50 && document.documentElement.dataset.page === 'ready'",
                "() => window.modelboxTimings.tableRendered"));
        }

        if (only.Contains("filter"))
        {
            rows.Add(await MeasureAsync(browser, host, repeat, $"experiments table, {tableRuns:N0} runs: filter applied",
                async page =>
                {
                    await page.GotoAsync("/namespaces/bench-ui-table");
                    await page.WaitForFunctionAsync("() => document.querySelectorAll('table.experiments tbody tr').length === 50 && document.documentElement.dataset.page === 'ready'");
                    await page.FillAsync("#filter", "metadata.batch = 256 and metadata.lr < 0.005");
                },
                "() => window.modelboxTimings.tableRendered > window.modelboxTimings.filterSubmitted",
                "() => window.modelboxTimings.tableRendered - window.modelboxTimings.filterSubmitted",
                action: page => page.PressAsync("#filter", "Enter")));
        }

        Console.WriteLine();
        Console.WriteLine("| view | UI (Chromium) median ms | raw API median ms (same requests) | UI / raw | requests |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        foreach (var (what, ui, raw, requests) in rows)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {what} | {ui:F0} | {raw:F0} | {ui / Math.Max(raw, 0.001):F2} | {requests} |"));
        }

        return 0;
    }

    public static async Task<int> ScreenshotsAsync(string[] args)
    {
        var outDir = Path.GetFullPath(OptionText(args, "--out", "docs/images"));
        Directory.CreateDirectory(outDir);
        await using var host = await Host.StartAsync();
        var log = host.Server.Services.GetRequiredService<MetricLog>();
        const string ns = "langtech";
        var ids = new List<string>();
        var random = new Random(7);
        for (var i = 0; i < 8; i++)
        {
            var lr = new[] { 0.1, 0.01, 0.001 }[i % 3];
            var id = await host.ExperimentAsync(ns, $"wav2vec-lid-{i}", new { lr, layers = 12 + (i % 4) * 6, optimizer = i % 2 == 0 ? "adamw" : "sgd" });
            await host.PostAsync($"/api/v1/objects/{id}/labels", new { labels = new Dictionary<string, string> { ["env"] = i % 3 == 0 ? "production" : "dev", ["team"] = "speech" } });
            if (i % 3 == 1)
            {
                await host.SendAsync(HttpMethod.Patch, $"/api/v1/experiments/{id}", new { status = "EXPERIMENT_STATUS_FINISHED" });
            }

            await host.PostAsync($"/api/v1/objects/{id}/events", new { @event = new { name = "started", source = new { name = "slurm" } } });
            await host.PostAsync($"/api/v1/experiments/{id}/checkpoints", new { epoch = "10", metrics = new { loss = 0.2 + i * 0.01 } });
            var speed = 300 + 60 * i;
            await log.LogBatchAsync(
            [
                Series(id, "train/loss", 5000, s => (2.5 * Math.Exp(-s / (double)speed)) + (random.NextDouble() * 0.15) + (s == 2500 + i ? 1.5 : 0)),
                Series(id, "eval/accuracy", 5000, s => 1 - (0.9 * Math.Exp(-s / 700.0)) - (i * 0.01) + (random.NextDouble() * 0.02)),
                Series(id, "lr", 5000, s => lr * (1 - (s / 5000.0))),
            ]);
            ids.Add(id);
        }

        await using (var client = new ModelBox.Client.ModelBoxClient(new Uri(host.Server.GrpcAddress).Authority))
        {
            using var weights = new MemoryStream(Encoding.UTF8.GetBytes(new string('w', 180_000)));
            await client.UploadFileAsync(ids[0], weights, "checkpoints/model-epoch10.pt");
            using var config = new MemoryStream(Encoding.UTF8.GetBytes("{\"layers\": 12}"));
            await client.UploadFileAsync(ids[0], config, "config.json");
        }

        var dataset = await host.PostAsync("/api/v1/datasets", new { @namespace = ns, name = "librispeech", digest = "sha256:" + new string('c', 64), uri = "s3://data/librispeech" });
        var datasetVersion = dataset.GetProperty("version").GetProperty("id").GetString();
        var model = (await host.PostAsync("/api/v1/models", new { name = "wav2vec-lid", @namespace = ns, task = "language-id", owner = "ana@example.com", description = "Spoken language identification" })).GetProperty("id").GetString()!;
        await host.PostAsync($"/api/v1/objects/{model}/labels", new { labels = new Dictionary<string, string> { ["tier"] = "gold" } });
        var v1 = (await host.PostAsync($"/api/v1/models/{model}/versions", new
        {
            version = "1.0", framework = "PYTORCH", uniqueTags = new[] { "stable" },
            lineage = new { experimentId = ids[0], datasets = new[] { new { datasetVersionId = datasetVersion, role = "DATASET_ROLE_TRAINING" } } },
        })).GetProperty("modelVersion").GetString()!;
        var v2 = (await host.PostAsync($"/api/v1/models/{model}/versions", new
        {
            version = "1.1", framework = "PYTORCH", lineage = new { experimentId = ids[3], derivedFrom = new[] { new { versionId = v1, relation = "fine-tuned" } } },
        })).GetProperty("modelVersion").GetString()!;
        await host.PostAsync($"/api/v1/models/{model}/versions", new { version = "2.0-rc", framework = "PYTORCH", lineage = new { derivedFrom = new[] { new { versionId = v2, relation = "distilled" } } } });
        await host.SendAsync(HttpMethod.Put, $"/api/v1/models/{model}/aliases/production", new { versionId = v1 });
        await host.SendAsync(HttpMethod.Put, $"/api/v1/models/{model}/aliases/canary", new { versionId = v2 });

        await using var browser = await Browser.LaunchAsync(host.Server.HttpAddress);
        var shots = new (string File, string Path, string Ready, int Width)[]
        {
            ("namespaces.png", "/", "() => document.documentElement.dataset.page === 'ready'", 1100),
            ("experiments.png", $"/namespaces/{ns}?cols=metadata.lr,metadata.layers,metrics.train/loss,metrics.eval/accuracy", "() => document.documentElement.dataset.page === 'ready'", 1400),
            ("experiment.png", $"/experiments/{ids[0]}?smooth=0.6", AllChartsDrawn(3), 1400),
            ("compare.png", $"/compare?ns={ns}&ids={string.Join(',', ids.Take(6))}&hp=lr&metric=train/loss", AllChartsDrawn(3), 1400),
            ("model.png", $"/models/{model}", "() => document.documentElement.dataset.page === 'ready'", 1300),
            ("lineage.png", $"/model-versions/{v2}", "() => document.documentElement.dataset.page === 'ready'", 1300),
            ("experiments-narrow.png", $"/namespaces/{ns}", "() => document.documentElement.dataset.page === 'ready'", 390),
        };
        foreach (var (file, path, ready, width) in shots)
        {
            var page = await browser.NewPageAsync(width, 900);
            await page.GotoAsync(path);
            await page.WaitForFunctionAsync(ready);
            await page.WaitForTimeoutAsync(200); // let the last frame paint
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(outDir, file), FullPage = true });
            await page.Context.CloseAsync();
            Console.WriteLine($"wrote {Path.Combine(outDir, file)}");
        }

        return 0;
    }

    /// <summary>The zoom request the page made last (the breakdown replays it).</summary>
    private static (string Url, string Body)? _lastBatchRead;

    /// <summary>
    /// Where the zoom re-read's server time goes: the page's last batch read replayed over REST (HTTP, JSON and all), the
    /// same read through the domain operation (store, downsampler; no HTTP or JSON), and the store's summary scans alone
    /// (with a scanner that only counts), each the median of <paramref name="repeat"/> after one warm-up.
    /// </summary>
    private static async Task ZoomBreakdownAsync(Host host, MetricLog log, int repeat)
    {
        if (_lastBatchRead is not var (url, body))
        {
            return;
        }

        using var json = System.Text.Json.JsonDocument.Parse(body);
        var root = json.RootElement;
        var refs = root.GetProperty("series").EnumerateArray()
            .Select(s => ((string?)s.GetProperty("parentId").GetString(), (string?)s.GetProperty("key").GetString())).ToList();
        var start = ulong.Parse(root.GetProperty("start").GetString()!, CultureInfo.InvariantCulture);
        var end = ulong.Parse(root.GetProperty("end").GetString()!, CultureInfo.InvariantCulture);
        var maxPoints = root.GetProperty("maxPoints").GetInt32();
        var store = host.Server.Services.GetRequiredService<ModelBox.Domain.Storage.IMetricStore>();
        long bytes = 0;

        async Task<double> TimeAsync(Func<Task> action)
        {
            var samples = new List<double>();
            for (var i = 0; i < repeat + 1; i++)
            {
                var sw = Stopwatch.StartNew();
                await action();
                if (i > 0)
                {
                    samples.Add(sw.Elapsed.TotalMilliseconds);
                }
            }

            return Median(samples);
        }

        var rest = await TimeAsync(async () =>
        {
            using var response = await host.Http.PostAsync(url, new StringContent(body, Encoding.UTF8, "application/json"));
            bytes = (await response.Content.ReadAsByteArrayAsync()).Length;
        });
        var domain = await TimeAsync(() => log.GetSeriesBatchAsync(refs, MetricAxis.Step, start, end, maxPoints));
        var scans = await TimeAsync(() => Parallel.ForEachAsync(refs, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (r, token) =>
            await store.ScanSummarizedAsync(r.Item1!, r.Item2!, (long)start, (long)end, new CountingScanner(Math.Max(1, (maxPoints - 2) / 2), maxPoints), token)));

        // Raw Microsoft.Data.Sqlite on one connection over the rows of the resolution the store reads for this range (the
        // coarsest with enough buckets): stepped selecting only the key, stepped selecting every column (SQLite decodes the row
        // while stepping), and every column read.
        var shift = ModelBox.Storage.Relational.RelationalMetricStore.ChartShifts.Reverse().FirstOrDefault(
            s => (long)(end >> s) - (long)(start >> s) + 1 >= Math.Max(1, (maxPoints - 2) / 2), ModelBox.Storage.Relational.RelationalMetricStore.ChartShifts[0]);
        await using var raw = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={host.DatabasePath};Mode=ReadOnly");
        await raw.OpenAsync();
        var ids = new List<long>();
        foreach (var (parent, key) in refs)
        {
            await using var find = raw.CreateCommand();
            find.CommandText = "SELECT id FROM metric_series WHERE parent_id = $p AND \"key\" = $k";
            find.Parameters.AddWithValue("$p", parent);
            find.Parameters.AddWithValue("$k", key);
            ids.Add((long)(await find.ExecuteScalarAsync())!);
        }

        const string columns = "bucket, point_count, num_count, nan_count, first_step, first_time, last_step, last_time, min_step, min_time, max_step, max_time, kinds, nonfinite, num_sum, first_val, last_val, min_val, max_val";
        long rows = 0;
        double RawScan(string select, bool readAll)
        {
            var samples = new List<double>();
            for (var i = 0; i < repeat + 1; i++)
            {
                var sw = Stopwatch.StartNew();
                rows = 0;
                foreach (var id in ids)
                {
                    using var command = raw.CreateCommand();
                    command.CommandText = $"SELECT {select} FROM metric_summaries WHERE series_id = $s AND step_shift = $shift AND bucket BETWEEN $f AND $t";
                    command.Parameters.AddWithValue("$shift", (long)shift);
                    command.Parameters.AddWithValue("$s", id);
                    command.Parameters.AddWithValue("$f", (long)start >> shift);
                    command.Parameters.AddWithValue("$t", (long)end >> shift);
                    using var reader = command.ExecuteReader();
                    while (reader.Read())
                    {
                        rows++;
                        if (readAll)
                        {
                            double sum = 0;
                            for (var c = 0; c < 14; c++)
                            {
                                sum += reader.GetInt64(c);
                            }

                            for (var c = 14; c < 19; c++)
                            {
                                sum += reader.GetDouble(c);
                            }

                            rows += sum == double.MinValue ? 1 : 0;
                        }
                    }
                }

                if (i > 0)
                {
                    samples.Add(sw.Elapsed.TotalMilliseconds);
                }
            }

            return Median(samples);
        }

        var stepped = RawScan("bucket", readAll: false);
        var decoded = RawScan(columns, readAll: false);
        var read = RawScan(columns, readAll: true);
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"zoom breakdown ({refs.Count} series, steps {start}..{end}, max_points {maxPoints}): REST {rest:F0} ms ({bytes:N0} bytes); domain batch read {domain:F0} ms; store summary scans alone {scans:F0} ms; raw SQLite, one connection, {rows:N0} rows of 2^{shift}: stepped selecting only the key {stepped:F0} ms, stepped selecting all 19 columns {decoded:F0} ms, and reading them {read:F0} ms"));
    }

    /// <summary>A summary scanner that only counts what the store hands it.</summary>
    private sealed class CountingScanner(int buckets, int keepsEveryPointUpTo) : ModelBox.Domain.Storage.IMetricSummaryScanner
    {
        public long Items { get; private set; }

        public int Buckets => buckets;

        public int KeepsEveryPointUpTo => keepsEveryPointUpTo;

        public void Begin(long firstStep, long lastStep)
        {
        }

        public void Add(in MetricPoint point) => Items++;

        public void AddSummary(in MetricSummary summary) => Items++;
    }

    private static string AllChartsDrawn(int count) =>
        $"() => {{ const c = [...window.modelboxCharts.values()].filter(c => c.series !== undefined && c.reads !== undefined); return c.length >= {count} && c.every(c => c.reads >= 1 && c.state === 'drawn'); }}";

    private static MetricSeriesPoints Series(string id, string key, int count, Func<int, double> value) =>
        new(id, key, [.. Enumerable.Range(0, count).Select(s => MetricPoint.OfDouble(s, 1_764_600_000 + (2L * s), value(s)))]);

    /// <summary>Logs <paramref name="count"/> points into each series, through the domain's metric log (as the RPCs do).</summary>
    private static async Task LogAsync(MetricLog log, (string Id, string Key)[] series, int count, int stride = 1)
    {
        const int chunk = 50_000;
        var random = new Random(1);
        await Parallel.ForEachAsync(series, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (s, token) =>
        {
            for (var from = 0; from < count; from += chunk)
            {
                var points = new MetricPoint[Math.Min(chunk, count - from)];
                for (var i = 0; i < points.Length; i++)
                {
                    var step = (long)(from + i) * stride;
                    points[i] = MetricPoint.OfDouble(step, 1_764_600_000 + step, Math.Exp(-step / (count * stride / 4.0)) + (random.NextDouble() * 0.05));
                }

                await log.LogBatchAsync([new MetricSeriesPoints(s.Id, s.Key, points)], token);
            }
        });
    }

    private static async Task<(string, double, double, int)> MeasureAsync(
        Browser browser, Host host, int repeat, string what, Func<IPage, Task> prepare, string drawn, string elapsed, Func<IPage, Task>? action = null)
    {
        var ui = new List<double>();
        var raw = new List<double>();
        var requests = 0;
        for (var i = 0; i < repeat + 1; i++)
        {
            var page = await browser.NewPageAsync(1400, 900);
            var recorded = new List<IRequest>();
            void Record(object? sender, IRequest r)
            {
                if (r.Url.Contains("/api/", StringComparison.Ordinal) && !r.Url.Contains("change-events", StringComparison.Ordinal))
                {
                    recorded.Add(r);
                }
            }

            if (action is null)
            {
                page.Request += Record;
                await prepare(page);
            }
            else
            {
                await prepare(page);
                page.Request += Record;
                await action(page);
            }

            await page.WaitForFunctionAsync(drawn, null, new PageWaitForFunctionOptions { Timeout = 300_000, PollingInterval = 20 });
            var ms = await page.EvaluateAsync<double>(elapsed);
            if (i > 0)
            {
                ui.Add(ms);
            }

            await page.Context.CloseAsync();
            // The raw API: the same requests, with HttpClient, 6 at a time (a browser's connections per host).
            var replay = recorded.Select(r => (r.Method, r.Url, r.PostData)).ToList();
            if (replay.LastOrDefault(r => r.Url.Contains("/series/batch-get", StringComparison.Ordinal)) is { PostData: { } lastBody } lastRead)
            {
                _lastBatchRead = (lastRead.Url, lastBody);
            }

            requests = replay.Count;
            var sw = Stopwatch.StartNew();
            await Parallel.ForEachAsync(replay, new ParallelOptions { MaxDegreeOfParallelism = 6 }, async (r, token) =>
            {
                using var request = new HttpRequestMessage(new HttpMethod(r.Method), r.Url);
                if (r.PostData is not null)
                {
                    request.Content = new StringContent(r.PostData, Encoding.UTF8, "application/json");
                }

                using var response = await host.Http.SendAsync(request, token);
                await response.Content.ReadAsByteArrayAsync(token);
            });
            if (i > 0)
            {
                raw.Add(sw.Elapsed.TotalMilliseconds);
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: UI {string.Join(", ", ui.Select(v => v.ToString("F0", CultureInfo.InvariantCulture)))} ms; raw {string.Join(", ", raw.Select(v => v.ToString("F0", CultureInfo.InvariantCulture)))} ms"));
        return (what, Median(ui), Median(raw), requests);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string OptionText(string[] args, string name, string fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    /// <summary>An in-process server on loopback with its own data folder.</summary>
    private sealed class Host : IAsyncDisposable
    {
        private readonly string _dataDir;

        private Host(ModelBoxServer server, string dataDir)
        {
            Server = server;
            _dataDir = dataDir;
            Http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 6 }) { BaseAddress = new Uri(server.HttpAddress) };
        }

        public ModelBoxServer Server { get; }

        public HttpClient Http { get; }

        public string DatabasePath => Path.Combine(_dataDir, "modelbox.db");

        public static async Task<Host> StartAsync()
        {
            var dataDir = Directory.CreateTempSubdirectory("modelbox-bench-webui-").FullName;
            var server = ServerStorage.CreateServer(
                new ServerConfig { ListenAddr = "127.0.0.1:0", HttpListenAddr = "127.0.0.1:0", PrometheusListenAddr = "127.0.0.1:0", DataDir = dataDir },
                logging => logging.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());
            await server.StartAsync();
            return new Host(server, dataDir);
        }

        public async Task<string> ExperimentAsync(string ns, string name, object metadata) =>
            (await PostAsync("/api/v1/experiments", new { name, @namespace = ns, owner = "ana@example.com", framework = "PYTORCH", metadata = new { metadata } }))
            .GetProperty("experimentId").GetString()!;

        public Task<System.Text.Json.JsonElement> PostAsync(string path, object body) => SendAsync(HttpMethod.Post, path, body);

        public async Task<System.Text.Json.JsonElement> SendAsync(HttpMethod method, string path, object body)
        {
            using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) };
            using var response = await Http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"{method} {path}: {(int)response.StatusCode} {text}");
            }

            return System.Text.Json.JsonDocument.Parse(text.Length == 0 ? "{}" : text).RootElement.Clone();
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await Server.StopAsync();
            await Server.DisposeAsync();
            try
            {
                Directory.Delete(_dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Headless Chromium (Debian's package) through Playwright.</summary>
    private sealed class Browser : IAsyncDisposable
    {
        private readonly IPlaywright _playwright;
        private readonly IBrowser _browser;
        private readonly string _baseUrl;

        private Browser(IPlaywright playwright, IBrowser browser, string baseUrl)
        {
            _playwright = playwright;
            _browser = browser;
            _baseUrl = baseUrl;
        }

        public static async Task<Browser> LaunchAsync(string baseUrl)
        {
            var playwright = await Playwright.CreateAsync();
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ChromiumPath,
                Headless = true,
                Args = ["--no-sandbox", "--disable-dev-shm-usage"],
            });
            return new Browser(playwright, browser, baseUrl);
        }

        public async Task<IPage> NewPageAsync(int width, int height)
        {
            var context = await _browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = _baseUrl, ViewportSize = new ViewportSize { Width = width, Height = height } });
            return await context.NewPageAsync();
        }

        public async ValueTask DisposeAsync()
        {
            await _browser.DisposeAsync();
            _playwright.Dispose();
        }
    }
}
