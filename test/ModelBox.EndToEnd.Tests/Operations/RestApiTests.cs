using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Operations;

/// <summary>The REST/JSON API over plain HTTP/1.1, as curl or a browser would use it.</summary>
[Collection(ServerCollection.Name)]
public sealed class RestApiTests(ModelBoxServerFixture server) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = new Uri(server.HttpAddress) };

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task Create_get_and_list_experiments_over_http11()
    {
        var ns = "rest-" + Guid.NewGuid().ToString("N")[..8];
        using var created = await _http.PostAsJsonAsync("/api/v1/experiments", new { name = "wav2vec-lid", @namespace = ns, owner = "you@example.com", framework = "PYTORCH" });
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        Assert.Equal(new Version(1, 1), created.Version);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("experimentId").GetString();
        Assert.StartsWith("exp-", id, StringComparison.Ordinal);

        var experiment = await _http.GetFromJsonAsync<JsonElement>($"/api/v1/experiments/{id}");
        Assert.Equal("wav2vec-lid", experiment.GetProperty("experiment").GetProperty("name").GetString());
        Assert.Equal("PYTORCH", experiment.GetProperty("experiment").GetProperty("framework").GetString());

        var list = await _http.GetFromJsonAsync<JsonElement>($"/api/v1/namespaces/{ns}/experiments?pageSize=10");
        Assert.Equal(id, Assert.Single(list.GetProperty("experiments").EnumerateArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task Errors_are_json_with_the_grpc_status_and_message()
    {
        var unknown = ModelBox.Domain.ObjectIds.Experiment("rest", Guid.NewGuid().ToString());
        using var missing = await _http.GetAsync($"/api/v1/experiments/{unknown}");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        var error = await missing.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(5, error.GetProperty("code").GetInt32());
        Assert.Contains(unknown, error.GetProperty("message").GetString(), StringComparison.Ordinal);

        using var invalid = await _http.PostAsJsonAsync("/api/v1/experiments", new { owner = "x" });
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var invalidError = await invalid.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(3, invalidError.GetProperty("code").GetInt32());
        Assert.Contains("name", invalidError.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Models_versions_and_namespaces_have_routes_too()
    {
        var ns = "rest-" + Guid.NewGuid().ToString("N")[..8];
        using var created = await _http.PostAsJsonAsync("/api/v1/models", new { name = "wav2vec", @namespace = ns, task = "asr" });
        var modelId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        using var version = await _http.PostAsJsonAsync($"/api/v1/models/{modelId}/versions", new { version = "1.0" });
        Assert.Equal(HttpStatusCode.OK, version.StatusCode);
        var versions = await _http.GetFromJsonAsync<JsonElement>($"/api/v1/models/{modelId}/versions");
        Assert.Equal("1.0", Assert.Single(versions.GetProperty("modelVersions").EnumerateArray()).GetProperty("version").GetString());
        var namespaces = await _http.GetFromJsonAsync<JsonElement>("/api/v1/namespaces");
        Assert.Contains(namespaces.GetProperty("namespaces").EnumerateArray(), n => n.GetProperty("name").GetString() == ns);
    }

    [Fact]
    public async Task A_metric_key_with_a_slash_or_a_percent_sign_reads_through_its_escaped_path_segment()
    {
        var ns = "rest-" + Guid.NewGuid().ToString("N")[..8];
        using var created = await _http.PostAsJsonAsync("/api/v1/experiments", new { name = "keys", @namespace = ns });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("experimentId").GetString();
        // "a%2Fb" is a key of its own (a literal percent sign), not "a/b": each must read its own points.
        string[] keys = ["train/loss", "a%2Fb", "a/b", "100%/top-1", "plain"];
        var series = keys.Select((key, k) => new
        {
            parentId = id,
            key,
            values = Enumerable.Range(0, k + 2).Select(s => new { step = s.ToString(System.Globalization.CultureInfo.InvariantCulture), dVal = (double)k }).ToArray(),
        }).ToArray();
        using var logged = await _http.PostAsJsonAsync("/api/v1/metrics/batch", new { series });
        Assert.Equal(HttpStatusCode.OK, logged.StatusCode);

        for (var k = 0; k < keys.Length; k++)
        {
            var escaped = Uri.EscapeDataString(keys[k]);
            using var response = await _http.GetAsync($"/api/v1/objects/{id}/metrics/{escaped}?maxPoints=100");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{keys[k]} ({escaped}): {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            var read = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(keys[k], read.GetProperty("key").GetString());
            var values = read.GetProperty("values").EnumerateArray().ToList();
            Assert.Equal(k + 2, values.Count);
            Assert.All(values, v => Assert.Equal(k, v.GetProperty("dVal").GetDouble()));

            var points = await _http.GetFromJsonAsync<JsonElement>($"/api/v1/objects/{id}/metrics/{escaped}/points");
            Assert.Equal(k + 2, points.GetProperty("values").GetArrayLength());
        }
    }

    [Fact]
    public async Task The_openapi_document_describes_the_routes()
    {
        var document = await _http.GetFromJsonAsync<JsonElement>("/api/v1/openapi.json");
        var paths = document.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/api/v1/experiments/{id}", out var getExperiment));
        Assert.True(getExperiment.TryGetProperty("get", out _));
        Assert.True(paths.TryGetProperty("/api/v1/namespaces/{namespace}/experiments", out _));
        Assert.True(paths.TryGetProperty("/api/v1/experiments", out var create));
        Assert.True(create.TryGetProperty("post", out _));
    }

    [Fact]
    public async Task The_http_listener_serves_only_the_api()
    {
        using var response = await _http.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
