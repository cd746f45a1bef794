using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using ModelBox.WebUi.Tests.Infrastructure;

namespace ModelBox.WebUi.Tests;

/// <summary>What the server does for the UI over plain HTTP: its files, change events and downloads.</summary>
[Collection(WebUiCollection.Name)]
public sealed class WebUiHttpTests(WebUiFixture ui)
{
    private readonly Seed _seed = new(ui.Http);

    [Fact]
    public async Task Pages_and_files_are_served_with_validators_and_compression()
    {
        foreach (var page in new[] { "/", "/namespaces/x", "/experiments/exp-1", "/compare", "/models/m", "/model-versions/v" })
        {
            using var response = await ui.Http.GetAsync(page);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("/ui/app.js", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Contains("default-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        }

        using var script = await ui.Http.GetAsync("/ui/app.js");
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        var etag = script.Headers.ETag!;
        using var again = new HttpRequestMessage(HttpMethod.Get, "/ui/app.js");
        again.Headers.IfNoneMatch.Add(etag);
        using var notModified = await ui.Http.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        using var gzip = new HttpRequestMessage(HttpMethod.Get, "/ui/chart.js");
        gzip.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));
        using var compressed = await ui.Http.SendAsync(gzip);
        Assert.Equal("gzip", Assert.Single(compressed.Content.Headers.ContentEncoding));

        using var missing = await ui.Http.GetAsync("/ui/no-such-file.js");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var elsewhere = await ui.Http.GetAsync("/not-a-page");
        Assert.Equal(HttpStatusCode.NotFound, elsewhere.StatusCode);
    }

    [Fact]
    public async Task The_shell_preloads_every_module_the_ui_ships()
    {
        // Without a preload a module is fetched only once its importer ran: one round trip more per level of imports.
        var shell = await ui.Http.GetStringAsync("/");
        var modules = new ModelBox.Server.WebUi.WebUiAssets().Paths.Where(p => p.EndsWith(".js", StringComparison.Ordinal) && p != "app.js").ToList();
        Assert.NotEmpty(modules);
        Assert.All(modules, m => Assert.Contains($"<link rel=\"modulepreload\" href=\"/ui/{m}\">", shell, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Change_events_stream_as_server_sent_events_and_resume_after_the_last_event_id()
    {
        var ns = Seed.NewNamespace("ui-sse");
        var first = await _seed.ExperimentAsync(ns, "first");
        var second = await _seed.ExperimentAsync(ns, "second");

        ServerSentEvent[] events;
        await using (var stream = await EventStream.OpenAsync(ui.Http, $"/api/v1/namespaces/{ns}/change-events?since=0", lastEventId: null))
        {
            events = [await stream.NextAsync(), await stream.NextAsync(), await stream.NextAsync()];
        }

        Assert.Equal("ready", events[0].Event);
        Assert.Equal((first, "change"), (events[1].Data.GetProperty("objectId").GetString(), events[1].Event));
        Assert.Equal("OBJECT_CREATED", events[1].Data.GetProperty("event").GetString());
        Assert.Equal("first", events[1].Data.GetProperty("payload").GetProperty("name").GetString());
        Assert.Equal(second, events[2].Data.GetProperty("objectId").GetString());
        Assert.Equal(events[2].Id, events[2].Data.GetProperty("sequence").GetString());

        // A reconnect with Last-Event-ID continues after that change: the next ones are the second and third runs.
        var third = await _seed.ExperimentAsync(ns, "third");
        await using (var resumed = await EventStream.OpenAsync(ui.Http, $"/api/v1/namespaces/{ns}/change-events", lastEventId: events[1].Id))
        {
            Assert.Equal("ready", (await resumed.NextAsync()).Event);
            Assert.Equal(second, (await resumed.NextAsync()).Data.GetProperty("objectId").GetString());
            Assert.Equal(third, (await resumed.NextAsync()).Data.GetProperty("objectId").GetString());
        }

        // Without a position the stream starts now: the first change it brings is one made after it opened.
        await using (var live = await EventStream.OpenAsync(ui.Http, $"/api/v1/namespaces/{ns}/change-events", lastEventId: null))
        {
            Assert.Equal("ready", (await live.NextAsync()).Event);
            var fourth = await _seed.ExperimentAsync(ns, "fourth");
            Assert.Equal(fourth, (await live.NextAsync()).Data.GetProperty("objectId").GetString());
        }

        using var bad = await ui.Http.GetAsync($"/api/v1/namespaces/{ns}/change-events?since=soon");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("since", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Downloads_send_the_size_digest_and_name_and_resume_with_a_range()
    {
        var ns = Seed.NewNamespace("ui-download");
        var id = await _seed.ExperimentAsync(ns, "files");
        var bytes = System.Security.Cryptography.RandomNumberGenerator.GetBytes(100_000);
        string fileId;
        await using (var client = new ModelBox.Client.ModelBoxClient(ui.Server.HostPort))
        {
            using var content = new MemoryStream(bytes);
            fileId = (await client.UploadFileAsync(id, content, "dir/data.bin")).Id;
        }

        using var whole = await ui.Http.GetAsync($"/api/v1/artifacts/{fileId}/download");
        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        Assert.Equal(bytes, await whole.Content.ReadAsByteArrayAsync());
        Assert.Equal("data.bin", whole.Content.Headers.ContentDisposition?.FileNameStar);
        Assert.Equal($"\"{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))}\"", whole.Headers.ETag?.Tag);

        using var range = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/artifacts/{fileId}/download");
        range.Headers.Range = new RangeHeaderValue(90_000, null);
        using var rest = await ui.Http.SendAsync(range);
        Assert.Equal(HttpStatusCode.PartialContent, rest.StatusCode);
        Assert.Equal(bytes[90_000..], await rest.Content.ReadAsByteArrayAsync());

        using var missing = await ui.Http.GetAsync("/api/v1/artifacts/file-00000000000000000000000000000000/download");
        Assert.True(missing.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.BadRequest, $"{missing.StatusCode}");
        Assert.Contains("file", await missing.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private sealed record ServerSentEvent(string Id, string Event, JsonElement Data);

    /// <summary>A server-sent-events response read event by event.</summary>
    private sealed class EventStream : IAsyncDisposable
    {
        private readonly HttpResponseMessage _response;
        private readonly StreamReader _reader;
        private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));

        private EventStream(HttpResponseMessage response, StreamReader reader)
        {
            _response = response;
            _reader = reader;
        }

        public static async Task<EventStream> OpenAsync(HttpClient http, string path, string? lastEventId)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (lastEventId is not null)
            {
                request.Headers.Add("Last-Event-ID", lastEventId);
            }

            var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            return new EventStream(response, new StreamReader(await response.Content.ReadAsStreamAsync()));
        }

        public async Task<ServerSentEvent> NextAsync()
        {
            string id = "", name = "message", data = "";
            while (await _reader.ReadLineAsync(_timeout.Token) is { } line)
            {
                if (line.Length == 0)
                {
                    if (data.Length > 0)
                    {
                        return new ServerSentEvent(id, name, JsonDocument.Parse(data).RootElement.Clone());
                    }

                    continue;
                }

                if (line.StartsWith("id: ", StringComparison.Ordinal))
                {
                    id = line[4..];
                }
                else if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    name = line[7..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data = line[6..];
                }
            }

            throw new InvalidOperationException("the event stream ended");
        }

        public ValueTask DisposeAsync()
        {
            _reader.Dispose();
            _response.Dispose();
            _timeout.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
