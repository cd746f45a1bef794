using System.Net;
using System.Text;
using System.Text.Json;

namespace ModelBox.EndToEnd.Tests.Mlflow;

/// <summary>Sends requests as MLflow's Python client does (JSON bodies written by Python's json, reads as GET with a query string).</summary>
internal sealed class MlflowClient(string baseAddress) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = new Uri(baseAddress) };

    public void Dispose() => _http.Dispose();

    public async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(string method, string path, string? json = null, string prefix = "/api/2.0/mlflow/")
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), prefix + path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        // Artifact downloads answer bytes: they come back as {"content": "..."}.
        var answer = response.Content.Headers.ContentType?.MediaType == "application/json" ? text : JsonSerializer.Serialize(new { content = text });
        using var document = JsonDocument.Parse(answer);
        return (response.StatusCode, document.RootElement.Clone());
    }

    public Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, string json) => SendAsync("POST", path, json);

    public Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(string pathAndQuery) => SendAsync("GET", pathAndQuery);

    /// <summary>Posts and requires 200, returning the body.</summary>
    public async Task<JsonElement> OkAsync(string method, string path, string? json = null)
    {
        var (status, body) = await SendAsync(method, path, json);
        Assert.True(status == HttpStatusCode.OK, $"{method} {path} answered {(int)status}: {body}");
        return body;
    }

    public static string Json(object value) => JsonSerializer.Serialize(value);
}
