using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;

namespace ModelBox.WebUi.Tests.Infrastructure;

/// <summary>Test data written through the REST API, as any client writes it.</summary>
public sealed class Seed(HttpClient http)
{
    public static string NewNamespace(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";

    public async Task<JsonElement> PostAsync(string path, object body)
    {
        using var response = await http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text.Length == 0 ? "{}" : text).RootElement.Clone();
    }

    public async Task<JsonElement> SendAsync(HttpMethod method, string path, object body)
    {
        using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) };
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{method} {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text.Length == 0 ? "{}" : text).RootElement.Clone();
    }

    public async Task<string> ExperimentAsync(string ns, string name, object? metadata = null, Dictionary<string, string>? labels = null, string owner = "ana@example.com")
    {
        var created = await PostAsync("/api/v1/experiments", new
        {
            name,
            @namespace = ns,
            owner,
            framework = "PYTORCH",
            metadata = new { metadata = metadata ?? new { } },
        });
        var id = created.GetProperty("experimentId").GetString()!;
        if (labels is not null)
        {
            await PostAsync($"/api/v1/objects/{id}/labels", new { labels });
        }

        return id;
    }

    /// <summary>Logs <paramref name="count"/> points of <c>f(step)</c> at steps 0..count-1, wall time 2 s apart.</summary>
    public async Task MetricAsync(string parentId, string key, int count, Func<int, double> value, long startTime = 1_764_600_000)
    {
        const int batch = 50_000;
        for (var from = 0; from < count; from += batch)
        {
            var points = Enumerable.Range(from, Math.Min(batch, count - from)).Select(s => new Dictionary<string, object>
            {
                ["step"] = s.ToString(CultureInfo.InvariantCulture),
                ["wallclockTime"] = (startTime + 2L * s).ToString(CultureInfo.InvariantCulture),
                ["dVal"] = value(s),
            });
            await PostAsync("/api/v1/metrics/batch", new { series = new[] { new { parentId, key, values = points } } });
        }
    }
}
