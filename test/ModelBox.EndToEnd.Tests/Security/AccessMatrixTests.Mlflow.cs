using System.Net;
using Microsoft.Extensions.DependencyInjection;
using ModelBox.Domain.Access;
using ModelBox.EndToEnd.Tests.Mlflow;
using ModelBox.Protocol;
using ModelBox.Server.Mlflow;

namespace ModelBox.EndToEnd.Tests.Security;

// The MLflow side of the matrix: every MLflow endpoint (the good request of MlflowEndpointRowsTests for each) × every
// kind of caller, against an MLflow experiment that is the team namespace and registered models in `default`.
public sealed partial class AccessMatrixTests
{
    /// <summary>What each MLflow endpoint needs, in the policy's words; the experiment-level ones on the team namespace, the registry's on `default`.</summary>
    private static Need MlflowNeed(string endpoint) => endpoint switch
    {
        // A fresh experiment name is a namespace of its own, on which only an admin has a role.
        "experiments/create" => Need.Admin,
        "experiments/search" or "experiments/list" => Need.SignedIn,
        "experiments/delete" or "experiments/restore" or "runs/delete" or "runs/restore" or "mlflow-artifacts/artifacts (DELETE)"
            or "registered-models/delete" or "registered-models/alias (POST)" or "registered-models/alias (DELETE)" or "model-versions/delete" => Need.Owner,
        "experiments/get" or "experiments/get-by-name" or "runs/get" or "runs/search" or "metrics/get-history" or "metrics/get-history-bulk-interval"
            or "artifacts/list" or "mlflow-artifacts/artifacts (GET)" or "mlflow-artifacts/artifacts (list)"
            or "registered-models/get" or "registered-models/search" or "registered-models/get-latest-versions" or "registered-models/alias (GET)"
            or "model-versions/get" or "model-versions/search" or "model-versions/get-download-uri" => Need.Viewer,
        _ => Need.Editor,
    };

    [Fact]
    public async Task Every_mlflow_endpoint_gives_every_caller_the_status_the_policy_says()
    {
        var served = MlflowEndpoints.All.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        Assert.Empty(served.Except(MlflowEndpointRowsTests.Good.Select(r => r.Endpoint)));

        // The registry is the namespace `default`: the team's callers get the same roles there for this test.
        var directory = fixture.Server.Server.Services.GetRequiredService<AccessDirectory>();
        var root = await directory.AuthenticateTokenAsync(fixture.Tokens["admin"]!);
        (string Principal, string Role)[] registryGrants = [("viewer", "viewer"), ("editor", "editor"), ("owner", "owner"), ("group:ml-owners", "owner")];
        foreach (var (principal, role) in registryGrants)
        {
            await directory.SetGrantAsync(root, principal, "default", role);
        }

        try
        {
            var failures = new List<string>();
            var checkedCalls = 0;
            using var http = new HttpClient { BaseAddress = new Uri(fixture.Server.HttpAddress) };
            foreach (var caller in Callers)
            {
                var values = await SeedMlflowAsync(http);
                foreach (var row in MlflowEndpointRowsTests.Good)
                {
                    var expected = Expect(caller, MlflowNeed(row.Endpoint));
                    // A rename keeps the experiment's name (the next caller looks it up by name); a create needs a fresh one.
                    var body = row.Endpoint == "experiments/update" ? row.Body?.Replace("{N}", fixture.Team, StringComparison.Ordinal) : row.Body;
                    var status = await SendMlflowAsync(http, caller, row.Method, Fill(row.Path, values), body is null ? null : Fill(body, values));
                    checkedCalls++;
                    var actual = status switch
                    {
                        HttpStatusCode.Unauthorized => Outcome.Unauthenticated,
                        HttpStatusCode.Forbidden => Outcome.PermissionDenied,
                        _ => Outcome.Allowed,
                    };
                    if (actual != expected)
                    {
                        failures.Add($"mlflow {row.Endpoint} as {caller}: expected {expected}, got {actual} (HTTP {(int)status})");
                    }
                }
            }

            Assert.True(failures.Count == 0, $"{failures.Count} of {checkedCalls} MLflow matrix cells failed:\n" + string.Join("\n", failures));
        }
        finally
        {
            foreach (var (principal, _) in registryGrants)
            {
                await directory.RemoveGrantAsync(root, principal, "default");
            }
        }
    }

    /// <summary>As admin: the team namespace as an MLflow experiment, a run in it with a file, a registered model with a version and an alias.</summary>
    private async Task<Dictionary<string, string>> SeedMlflowAsync(HttpClient http)
    {
        var admin = fixture.Store("admin");
        await admin.CreateExperimentAsync(new CreateExperimentRequest { Namespace = fixture.Team, Name = "mlflow-seed-" + Guid.NewGuid().ToString("N")[..8] });
        async Task<System.Text.Json.JsonElement> Ok(string method, string path, string? body)
        {
            using var request = MlflowRequest(method, path, body, fixture.Tokens["admin"]);
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"{method} {path}: {(int)response.StatusCode} {text}");
            return text.Length > 0 && text[0] == '{' ? System.Text.Json.JsonDocument.Parse(text).RootElement.Clone() : default;
        }

        var experimentName = fixture.Team;
        var experiment = (await Ok("GET", "experiments/get-by-name?experiment_name=" + Uri.EscapeDataString(experimentName), null)).GetProperty("experiment").GetProperty("experiment_id").GetString()!;
        var run = (await Ok("POST", "runs/create", MlflowClient.Json(new { experiment_id = experiment }))).GetProperty("run").GetProperty("info").GetProperty("run_id").GetString()!;
        var artifacts = $"/api/2.0/mlflow-artifacts/artifacts/{experiment}/{run}/artifacts";
        await Ok("PUT", artifacts + "/dir/seed.txt", "seed");
        var model = "acl-model-" + Guid.NewGuid().ToString("N")[..10];
        await Ok("POST", "registered-models/create", MlflowClient.Json(new { name = model, tags = new[] { new { key = "team", value = "nlp" } } }));
        await Ok("POST", "model-versions/create", MlflowClient.Json(new { name = model, source = $"runs:/{run}/model", run_id = run, tags = new[] { new { key = "team", value = "nlp" } } }));
        await Ok("POST", "registered-models/alias", MlflowClient.Json(new { name = model, alias = "champion", version = "1" }));

        // A multipart upload of two parts, already sent, for the mpu rows (a part's PUT is checked against its upload's run).
        const string Mpu = "/api/2.0/mlflow-artifacts/mpu";
        var upload = (await Ok("POST", $"{Mpu}/create/{experiment}/{run}/artifacts/big.bin", """{"path": "big.bin", "num_parts": 2}""")).GetProperty("upload_id").GetString()!;
        await Ok("PUT", $"{Mpu}/part/{upload}/1", "part one");
        await Ok("PUT", $"{Mpu}/part/{upload}/2", "part two");
        static string Md5(string text) => Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["{MPU}"] = Mpu,
            ["{U}"] = upload,
            ["{ET1}"] = Md5("part one"),
            ["{ET2}"] = Md5("part two"),
            ["{M}"] = model,
            ["{EN}"] = Uri.EscapeDataString(experimentName),
            ["{A}"] = artifacts,
            ["{E}"] = experiment,
            ["{R}"] = run,
        };
    }

    private static string Fill(string text, Dictionary<string, string> values)
    {
        foreach (var (key, value) in values)
        {
            text = text.Replace(key, value, StringComparison.Ordinal);
        }

        return text.Replace("{N}", "fresh-" + Guid.NewGuid().ToString("N"), StringComparison.Ordinal);
    }

    private async Task<HttpStatusCode> SendMlflowAsync(HttpClient http, string caller, string method, string path, string? body)
    {
        using var request = MlflowRequest(method, path, body, fixture.Tokens[caller]);
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    private static HttpRequestMessage MlflowRequest(string method, string path, string? body, string? token)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path.StartsWith('/') ? path : "/api/2.0/mlflow/" + path);
        if (body is not null)
        {
            request.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        }

        if (token is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        return request;
    }
}
