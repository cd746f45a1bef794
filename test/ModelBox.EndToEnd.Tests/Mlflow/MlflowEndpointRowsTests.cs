using System.Net;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Server.Mlflow;

namespace ModelBox.EndToEnd.Tests.Mlflow;

/// <summary>
/// One good and at least one bad request per MLflow endpoint the server serves, each against a fresh experiment and run;
/// bad requests must answer MLflow's error shape with the code and HTTP status MLflow's server gives.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class MlflowEndpointRowsTests(ModelBoxServerFixture server) : IDisposable
{
    private const string UnknownRun = "0123456789abcdef0123456789abcdef";
    private readonly MlflowClient _mlflow = new(server.HttpAddress);

    public void Dispose() => _mlflow.Dispose();

    /// <summary>A request: method, path (with query for GETs), body; {E} is the experiment id, {R} the run id, {N} a fresh name.</summary>
    public sealed record Row(string Endpoint, string Method, string Path, string? Body, HttpStatusCode Status = HttpStatusCode.OK, string? ErrorCode = null)
    {
        public override string ToString() => $"{Method} {Path} {Body} → {(int)Status} {ErrorCode}";
    }

    private static Row Bad(string endpoint, string method, string path, string? body, string code) =>
        new(endpoint, method, path, body, code switch
        {
            "RESOURCE_DOES_NOT_EXIST" => HttpStatusCode.NotFound,
            _ => HttpStatusCode.BadRequest,
        }, code);

    private static readonly string Metrics1001 = "[" + string.Join(",", Enumerable.Range(0, 1001).Select(i => $"{{\"key\":\"m{i}\",\"value\":1,\"timestamp\":1,\"step\":0}}")) + "]";
    private static readonly string Params101 = "[" + string.Join(",", Enumerable.Range(0, 101).Select(i => $"{{\"key\":\"p{i}\",\"value\":\"v\"}}")) + "]";
    private static readonly string LongKey = new('k', 251);
    private static readonly string LongParam = new('v', 6001);
    private static readonly string LongTag = new('v', 8001);
    private static readonly string Huge = new('x', 1024 * 1024 + 1);

    public static readonly Row[] Good =
    [
        new("experiments/create", "POST", "experiments/create", """{"name": "{N}"}"""),
        new("experiments/get", "GET", "experiments/get?experiment_id={E}", null),
        new("experiments/get-by-name", "GET", "experiments/get-by-name?experiment_name={EN}", null),
        new("experiments/search", "POST", "experiments/search", """{"filter": "name = '{EN}'", "order_by": ["name DESC"]}"""),
        new("experiments/list", "GET", "experiments/list?view_type=ALL", null),
        new("experiments/update", "POST", "experiments/update", """{"experiment_id": "{E}", "new_name": "{N}"}"""),
        new("experiments/delete", "POST", "experiments/delete", """{"experiment_id": "{E}"}"""),
        new("experiments/restore", "POST", "experiments/restore", """{"experiment_id": "{E}"}"""),
        new("experiments/set-experiment-tag", "POST", "experiments/set-experiment-tag", """{"experiment_id": "{E}", "key": "a", "value": "b"}"""),
        new("experiments/delete-experiment-tag", "POST", "experiments/delete-experiment-tag", """{"experiment_id": "{E}", "key": "team"}"""),
        new("runs/create", "POST", "runs/create", """{"experiment_id": "{E}", "start_time": 1700000000000}"""),
        new("runs/get", "GET", "runs/get?run_id={R}", null),
        new("runs/update", "POST", "runs/update", """{"run_id": "{R}", "status": "KILLED", "run_name": "renamed"}"""),
        new("runs/delete", "POST", "runs/delete", """{"run_id": "{R}"}"""),
        new("runs/restore", "POST", "runs/restore", """{"run_id": "{R}"}"""),
        new("runs/search", "POST", "runs/search", """{"experiment_ids": ["{E}"], "filter": "params.lr = '0.1'", "order_by": ["attributes.start_time DESC"]}"""),
        new("runs/log-metric", "POST", "runs/log-metric", """{"run_id": "{R}", "key": "loss", "value": -Infinity, "timestamp": 1700000000000, "step": 3}"""),
        new("runs/log-parameter", "POST", "runs/log-parameter", """{"run_id": "{R}", "key": "lr", "value": "0.1"}"""),
        new("runs/set-tag", "POST", "runs/set-tag", """{"run_id": "{R}", "key": "mlflow.note.content", "value": "hello"}"""),
        new("runs/delete-tag", "POST", "runs/delete-tag", """{"run_id": "{R}", "key": "team"}"""),
        new("runs/log-batch", "POST", "runs/log-batch", """{"run_id": "{R}", "metrics": [{"key": "loss", "value": "NaN", "timestamp": "1700000000000", "step": "1"}], "params": [{"key": "bs", "value": "32"}]}"""),
        new("metrics/get-history", "GET", "metrics/get-history?run_id={R}&metric_key=loss&max_results=10", null),
        new("metrics/get-history-bulk-interval", "GET", "metrics/get-history-bulk-interval?run_ids={R}&metric_key=loss&start_step=0&end_step=9&max_results=10", null),
        new("runs/log-inputs", "POST", "runs/log-inputs", """{"run_id": "{R}", "datasets": [{"tags": [{"key": "mlflow.data.context", "value": "training"}], "dataset": {"name": "librispeech", "digest": "abc123", "source_type": "local", "source": "/data/ls", "schema": "{}", "profile": "{}"}}]}"""),
        new("runs/log-model", "POST", "runs/log-model", """{"run_id": "{R}", "model_json": "{\"artifact_path\": \"model\", \"flavors\": {}}"}"""),
        new("artifacts/list", "GET", "artifacts/list?run_id={R}&path=dir", null),
        new("mlflow-artifacts/artifacts (PUT)", "PUT", "{A}/dir/model.onnx", "weights"),
        new("mlflow-artifacts/artifacts (GET)", "GET", "{A}/dir/seed.txt", null),
        new("mlflow-artifacts/artifacts (DELETE)", "DELETE", "{A}/dir/seed.txt", null),
        new("mlflow-artifacts/artifacts (list)", "GET", "/api/2.0/mlflow-artifacts/artifacts?path={E}/{R}/artifacts/dir", null),
        new("mlflow-artifacts/mpu/create", "POST", "{MPU}/create/{E}/{R}/artifacts/big.bin", """{"path": "big.bin", "num_parts": 3}"""),
        new("mlflow-artifacts/mpu/part (PUT)", "PUT", "{MPU}/part/{U}/1", "part one"),
        new("mlflow-artifacts/mpu/complete", "POST", "{MPU}/complete/{E}/{R}/artifacts/big.bin",
            """{"path": "big.bin", "upload_id": "{U}", "parts": [{"part_number": 1, "etag": "{ET1}"}, {"part_number": 2, "etag": "{ET2}"}]}"""),
        new("mlflow-artifacts/mpu/abort", "POST", "{MPU}/abort/{E}/{R}/artifacts/big.bin", """{"path": "big.bin", "upload_id": "{U}"}"""),
        new("registered-models/create", "POST", "registered-models/create", """{"name": "{N}", "tags": [{"key": "k", "value": "v"}], "description": "d"}"""),
        new("registered-models/get", "GET", "registered-models/get?name={M}", null),
        new("registered-models/update", "PATCH", "registered-models/update", """{"name": "{M}", "description": "new"}"""),
        new("registered-models/rename", "POST", "registered-models/rename", """{"name": "{M}", "new_name": "{N}"}"""),
        new("registered-models/delete", "DELETE", "registered-models/delete", """{"name": "{M}"}"""),
        new("registered-models/search", "GET", "registered-models/search?filter=name+%3D+%27{M}%27&max_results=5", null),
        new("registered-models/get-latest-versions", "POST", "registered-models/get-latest-versions", """{"name": "{M}", "stages": ["None"]}"""),
        new("registered-models/set-tag", "POST", "registered-models/set-tag", """{"name": "{M}", "key": "a", "value": "b"}"""),
        new("registered-models/delete-tag", "DELETE", "registered-models/delete-tag", """{"name": "{M}", "key": "team"}"""),
        new("registered-models/alias (POST)", "POST", "registered-models/alias", """{"name": "{M}", "alias": "prod", "version": "1"}"""),
        new("registered-models/alias (DELETE)", "DELETE", "registered-models/alias", """{"name": "{M}", "alias": "champion"}"""),
        new("registered-models/alias (GET)", "GET", "registered-models/alias?name={M}&alias=champion", null),
        new("model-versions/create", "POST", "model-versions/create", """{"name": "{M}", "source": "runs:/{R}/model", "run_id": "{R}"}"""),
        new("model-versions/get", "GET", "model-versions/get?name={M}&version=1", null),
        new("model-versions/update", "PATCH", "model-versions/update", """{"name": "{M}", "version": "1", "description": "d"}"""),
        new("model-versions/delete", "DELETE", "model-versions/delete", """{"name": "{M}", "version": "1"}"""),
        new("model-versions/search", "GET", "model-versions/search?filter=run_id+%3D+%27{R}%27", null),
        new("model-versions/set-tag", "POST", "model-versions/set-tag", """{"name": "{M}", "version": "1", "key": "a", "value": "b"}"""),
        new("model-versions/delete-tag", "DELETE", "model-versions/delete-tag", """{"name": "{M}", "version": "1", "key": "team"}"""),
        new("model-versions/get-download-uri", "GET", "model-versions/get-download-uri?name={M}&version=1", null),
        new("model-versions/transition-stage", "POST", "model-versions/transition-stage", """{"name": "{M}", "version": "1", "stage": "production", "archive_existing_versions": true}"""),
    ];

    public static readonly Row[] BadRows =
    [
        Bad("experiments/create", "POST", "experiments/create", """{}""", "INVALID_PARAMETER_VALUE"),
        Bad("experiments/create", "POST", "experiments/create", """{"name": "{EN}"}""", "RESOURCE_ALREADY_EXISTS"),
        Bad("experiments/get", "GET", "experiments/get?experiment_id=abc", null, "INVALID_PARAMETER_VALUE"),
        Bad("experiments/get", "GET", "experiments/get?experiment_id=9007199254740993", null, "RESOURCE_DOES_NOT_EXIST"),
        Bad("experiments/get-by-name", "GET", "experiments/get-by-name?experiment_name={N}", null, "RESOURCE_DOES_NOT_EXIST"),
        Bad("experiments/get-by-name", "GET", "experiments/get-by-name", null, "INVALID_PARAMETER_VALUE"),
        Bad("experiments/search", "POST", "experiments/search", """{"filter": "owner = 'x'"}""", "INVALID_PARAMETER_VALUE"),
        Bad("experiments/search", "POST", "experiments/search", """{"max_results": 50001}""", "INVALID_PARAMETER_VALUE"),
        Bad("experiments/list", "GET", "experiments/list?view_type=SOME", null, "INVALID_PARAMETER_VALUE"),
        Bad("experiments/update", "POST", "experiments/update", """{"experiment_id": "{E}", "new_name": "Default"}""", "RESOURCE_ALREADY_EXISTS"),
        Bad("experiments/delete", "POST", "experiments/delete", """{"experiment_id": "0"}""", "INVALID_PARAMETER_VALUE"),
        Bad("experiments/restore", "POST", "experiments/restore", """{"experiment_id": "9007199254740993"}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("experiments/set-experiment-tag", "POST", "experiments/set-experiment-tag", """{"experiment_id": "{E}", "key": "a", "value": "{LT}"}""", "INVALID_PARAMETER_VALUE"),
        Bad("experiments/delete-experiment-tag", "POST", "experiments/delete-experiment-tag", """{"experiment_id": "{E}", "key": "absent"}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("runs/create", "POST", "runs/create", """{"experiment_id": "9007199254740993"}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("runs/create", "POST", "runs/create", """{"experiment_id": "{E}", "run_name": "a", "tags": [{"key": "mlflow.runName", "value": "b"}]}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/get", "GET", "runs/get?run_id=" + UnknownRun, null, "RESOURCE_DOES_NOT_EXIST"),
        Bad("runs/get", "GET", "runs/get", null, "INVALID_PARAMETER_VALUE"),
        Bad("runs/update", "POST", "runs/update", """{"run_id": "{R}", "status": "DONE"}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/delete", "POST", "runs/delete", """{"run_id": "not-a-run"}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("runs/restore", "POST", "runs/restore", """{"run_id": "UnknownRun"}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("runs/search", "POST", "runs/search", """{"experiment_ids": []}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/search", "POST", "runs/search", """{"experiment_ids": ["{E}"], "filter": "metrics.acc LIKE '1'"}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/search", "POST", "runs/search", """{"experiment_ids": ["{E}"], "filter": "params.lr IN ('0.1'"}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/search", "POST", "runs/search", """{"experiment_ids": ["{E}"], "filter": "metrics.acc IN ('1')"}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/search", "POST", "runs/search", """{"experiment_ids": ["{E}"], "filter": "metrics.acc > 1 or params.x = 'y'"}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/search", "POST", "runs/search", """{"experiment_ids": ["{E}"], "order_by": ["metrics. DESC"]}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/search", "POST", "runs/search", """{"experiment_ids": ["{E}"], "filter": "attributes.status LIKE 'RUN%'"}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/log-metric", "POST", "runs/log-metric", """{"run_id": "{R}", "key": "loss", "value": 1}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/log-metric", "POST", "runs/log-metric", """{"run_id": "{R}", "key": "{LK}", "value": 1, "timestamp": 1}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/log-metric", "POST", "runs/log-metric", """{"run_id": "{R}", "key": "a/../b", "value": 1, "timestamp": 1}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/log-parameter", "POST", "runs/log-parameter", """{"run_id": "{R}", "key": "lr", "value": "{LP}"}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/log-parameter", "POST", "runs/log-parameter", """{"run_id": "{R}", "key": "seed", "value": "2"}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/set-tag", "POST", "runs/set-tag", """{"run_id": "{R}", "key": "t", "value": "{LT}"}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/delete-tag", "POST", "runs/delete-tag", """{"run_id": "{R}", "key": "absent"}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("runs/log-batch", "POST", "runs/log-batch", """{"run_id": "{R}", "metrics": {M1001}}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/log-batch", "POST", "runs/log-batch", """{"run_id": "{R}", "params": {P101}}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/log-batch", "POST", "runs/log-batch", """{"run_id": "{R}", "tags": [{"key": "big", "value": "{HUGE}"}]}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/log-batch", "POST", "runs/log-batch", """{"run_id": "{R}", "metrics": [{"key": "x", "value": 1, "timestamp": 1, "step": -1}]}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/log-batch", "POST", "runs/log-batch", """{"run_id": "{R}", "metrics": [{"key": "x", "value": "high", "timestamp": 1}]}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/log-batch", "POST", "runs/log-batch", """{"run_id": """, "BAD_REQUEST"),
        Bad("runs/log-batch", "POST", "runs/log-batch", """{"run_id": "{R}", "params": [{"key": "{LK}", "value": "1"}]}""", "INVALID_PARAMETER_VALUE"),
        Bad("metrics/get-history", "GET", "metrics/get-history?run_id={R}", null, "INVALID_PARAMETER_VALUE"),
        Bad("metrics/get-history", "GET", "metrics/get-history?run_id=" + UnknownRun + "&metric_key=loss", null, "RESOURCE_DOES_NOT_EXIST"),
        Bad("metrics/get-history-bulk-interval", "GET", "metrics/get-history-bulk-interval?metric_key=loss", null, "INVALID_PARAMETER_VALUE"),
        Bad("metrics/get-history-bulk-interval", "GET", "metrics/get-history-bulk-interval?run_ids={R}&metric_key=loss&max_results=2501", null, "INVALID_PARAMETER_VALUE"),
        Bad("metrics/get-history-bulk-interval", "GET", "metrics/get-history-bulk-interval?run_ids=UnknownRun&metric_key=loss", null, "RESOURCE_DOES_NOT_EXIST"),
        Bad("runs/log-inputs", "POST", "runs/log-inputs", """{"run_id": "{R}", "datasets": [{"tags": []}]}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/log-inputs", "POST", "runs/log-inputs", """{"run_id": "{R}", "datasets": [{"dataset": {"name": "d", "digest": "0123456789012345678901234567890123456789"}}]}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/log-model", "POST", "runs/log-model", """{"run_id": "{R}", "model_json": "not json"}""", "INVALID_PARAMETER_VALUE"),
        Bad("runs/log-model", "POST", "runs/log-model", """{"run_id": "{R}"}""", "INVALID_PARAMETER_VALUE"),
        Bad("artifacts/list", "GET", "artifacts/list?run_id=UnknownRun", null, "RESOURCE_DOES_NOT_EXIST"),
        Bad("mlflow-artifacts/artifacts (PUT)", "PUT", "/api/2.0/mlflow-artifacts/artifacts/{E}/{R}/elsewhere/x.txt", "x", "INVALID_PARAMETER_VALUE"),
        Bad("mlflow-artifacts/artifacts (PUT)", "PUT", "/api/2.0/mlflow-artifacts/artifacts/{E}/UnknownRun/artifacts/x.txt", "x", "RESOURCE_DOES_NOT_EXIST"),
        Bad("mlflow-artifacts/artifacts (GET)", "GET", "{A}/dir/absent.txt", null, "RESOURCE_DOES_NOT_EXIST"),
        Bad("mlflow-artifacts/artifacts (DELETE)", "DELETE", "{A}/absent", null, "RESOURCE_DOES_NOT_EXIST"),
        Bad("mlflow-artifacts/artifacts (list)", "GET", "/api/2.0/mlflow-artifacts/artifacts?path={E}", null, "INVALID_PARAMETER_VALUE"),
        Bad("mlflow-artifacts/mpu/create", "POST", "{MPU}/create/{E}/{R}/artifacts/big.bin", """{"path": "big.bin", "num_parts": 0}""", "INVALID_PARAMETER_VALUE"),
        Bad("mlflow-artifacts/mpu/create", "POST", "{MPU}/create/{E}/{R}/elsewhere/big.bin", """{"path": "big.bin", "num_parts": 2}""", "INVALID_PARAMETER_VALUE"),
        Bad("mlflow-artifacts/mpu/part (PUT)", "PUT", "{MPU}/part/0123456789abcdef0123456789abcdef/1", "x", "RESOURCE_DOES_NOT_EXIST"),
        Bad("mlflow-artifacts/mpu/part (PUT)", "PUT", "{MPU}/part/{U}/9", "x", "INVALID_PARAMETER_VALUE"),
        Bad("mlflow-artifacts/mpu/complete", "POST", "{MPU}/complete/{E}/{R}/artifacts/big.bin",
            """{"path": "big.bin", "upload_id": "{U}", "parts": [{"part_number": 1, "etag": "{ET2}"}, {"part_number": 2, "etag": "{ET2}"}]}""", "INVALID_PARAMETER_VALUE"),
        Bad("mlflow-artifacts/mpu/complete", "POST", "{MPU}/complete/{E}/{R}/artifacts/big.bin",
            """{"path": "big.bin", "upload_id": "0123456789abcdef0123456789abcdef", "parts": [{"part_number": 1}]}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("mlflow-artifacts/mpu/abort", "POST", "{MPU}/abort/{E}/{R}/artifacts/big.bin", """{"upload_id": "0123456789abcdef0123456789abcdef"}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("registered-models/create", "POST", "registered-models/create", """{"name": "{M}"}""", "RESOURCE_ALREADY_EXISTS"),
        Bad("registered-models/create", "POST", "registered-models/create", """{}""", "INVALID_PARAMETER_VALUE"),
        Bad("registered-models/get", "GET", "registered-models/get?name={N}", null, "RESOURCE_DOES_NOT_EXIST"),
        Bad("registered-models/update", "PATCH", "registered-models/update", """{"name": "{N}"}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("registered-models/rename", "POST", "registered-models/rename", """{"name": "{N}", "new_name": "x"}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("registered-models/rename", "POST", "registered-models/rename", """{"name": "{M}"}""", "INVALID_PARAMETER_VALUE"),
        Bad("registered-models/delete", "DELETE", "registered-models/delete", """{"name": "{N}"}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("registered-models/search", "GET", "registered-models/search?filter=tags.x+%3D+%27y%27", null, "INVALID_PARAMETER_VALUE"),
        Bad("registered-models/get-latest-versions", "POST", "registered-models/get-latest-versions", """{"name": "{N}"}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("registered-models/set-tag", "POST", "registered-models/set-tag", """{"name": "{M}", "key": "a/../b", "value": "x"}""", "INVALID_PARAMETER_VALUE"),
        Bad("registered-models/delete-tag", "DELETE", "registered-models/delete-tag", """{"name": "{M}", "key": "absent"}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("registered-models/alias (POST)", "POST", "registered-models/alias", """{"name": "{M}", "alias": "prod", "version": "9"}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("registered-models/alias (POST)", "POST", "registered-models/alias", """{"name": "{M}", "alias": "no spaces", "version": "1"}""", "INVALID_PARAMETER_VALUE"),
        Bad("registered-models/alias (DELETE)", "DELETE", "registered-models/alias", """{"name": "{M}", "alias": "absent"}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("registered-models/alias (GET)", "GET", "registered-models/alias?name={M}&alias=absent", null, "RESOURCE_DOES_NOT_EXIST"),
        Bad("model-versions/create", "POST", "model-versions/create", """{"name": "{N}", "source": "x"}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("model-versions/create", "POST", "model-versions/create", """{"name": "{M}"}""", "INVALID_PARAMETER_VALUE"),
        Bad("model-versions/get", "GET", "model-versions/get?name={M}&version=9", null, "RESOURCE_DOES_NOT_EXIST"),
        Bad("model-versions/update", "PATCH", "model-versions/update", """{"name": "{M}", "version": "9"}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("model-versions/delete", "DELETE", "model-versions/delete", """{"name": "{M}", "version": "9"}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("model-versions/search", "GET", "model-versions/search?filter=source+%3D+%27x%27", null, "INVALID_PARAMETER_VALUE"),
        Bad("model-versions/set-tag", "POST", "model-versions/set-tag", """{"name": "{M}", "version": "1", "key": "k", "value": "{LT}"}""", "INVALID_PARAMETER_VALUE"),
        Bad("model-versions/delete-tag", "DELETE", "model-versions/delete-tag", """{"name": "{M}", "version": "1", "key": "absent"}""", "RESOURCE_DOES_NOT_EXIST"),
        Bad("model-versions/get-download-uri", "GET", "model-versions/get-download-uri?name={M}&version=9", null, "RESOURCE_DOES_NOT_EXIST"),
        Bad("model-versions/transition-stage", "POST", "model-versions/transition-stage", """{"name": "{M}", "version": "1", "stage": "Shipped"}""", "INVALID_PARAMETER_VALUE"),
        Bad("model-versions/transition-stage", "POST", "model-versions/transition-stage", """{"name": "{M}", "version": "1", "stage": "Archived", "archive_existing_versions": true}""", "INVALID_PARAMETER_VALUE"),
        Bad("model-versions/transition-stage", "POST", "model-versions/transition-stage", """{"name": "{M}", "version": "9", "stage": "Staging"}""", "RESOURCE_DOES_NOT_EXIST"),
    ];

    public static TheoryData<Row> GoodData() => [.. Good];

    public static TheoryData<Row> BadData() => [.. BadRows];

    [Theory]
    [MemberData(nameof(GoodData))]
    public async Task Good_requests_succeed(Row row)
    {
        var (status, body) = await SendAsync(row);
        Assert.True(status == HttpStatusCode.OK, $"{row} answered {(int)status}: {body}");
        Assert.False(body.TryGetProperty("error_code", out _));
        if (row.Endpoint == "mlflow-artifacts/artifacts (GET)")
        {
            Assert.Equal("seed", body.GetProperty("content").GetString());
        }
    }

    [Theory]
    [MemberData(nameof(BadData))]
    public async Task Bad_requests_answer_mlflow_errors(Row row)
    {
        var (status, body) = await SendAsync(row);
        Assert.True(status == row.Status, $"{row} answered {(int)status}: {body}");
        Assert.Equal(row.ErrorCode, body.GetProperty("error_code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(body.GetProperty("message").GetString()));
    }

    [Fact]
    public void Every_served_endpoint_has_good_and_bad_rows_and_a_line_in_the_compatibility_table()
    {
        var served = MlflowEndpoints.All.Select(e => e.Name).ToHashSet();
        Assert.Empty(served.Except(Good.Select(r => r.Endpoint)));
        Assert.Empty(served.Except(BadRows.Select(r => r.Endpoint)));
        Assert.Empty(Good.Select(r => r.Endpoint).Concat(BadRows.Select(r => r.Endpoint)).Except(served));

        var docs = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "mlflow.md"));
        foreach (var path in served)
        {
            Assert.Matches($@"\| `{System.Text.RegularExpressions.Regex.Escape(path)}` \| (supported|partial)", docs);
        }
    }

    private async Task<(HttpStatusCode, System.Text.Json.JsonElement)> SendAsync(Row row)
    {
        // A fresh experiment (tagged team=nlp) with a run that has a param seed=1 and a tag team=speech.
        var experimentName = "rows-" + Guid.NewGuid().ToString("N");
        var experimentId = (await _mlflow.OkAsync("POST", "experiments/create", MlflowClient.Json(new { name = experimentName, tags = new[] { new { key = "team", value = "nlp" } } })))
            .GetProperty("experiment_id").GetString()!;
        var runId = (await _mlflow.OkAsync("POST", "runs/create", MlflowClient.Json(new { experiment_id = experimentId, tags = new[] { new { key = "team", value = "speech" } } })))
            .GetProperty("run").GetProperty("info").GetProperty("run_id").GetString()!;
        await _mlflow.OkAsync("POST", "runs/log-parameter", MlflowClient.Json(new { run_id = runId, key = "seed", value = "1" }));
        var artifactRoot = $"/api/2.0/mlflow-artifacts/artifacts/{experimentId}/{runId}/artifacts";
        Assert.Equal(HttpStatusCode.OK, (await _mlflow.SendAsync("PUT", artifactRoot + "/dir/seed.txt", "seed", prefix: string.Empty)).Status);
        if (row.Endpoint == "experiments/restore" && row.Status == HttpStatusCode.OK)
        {
            await _mlflow.OkAsync("POST", "experiments/delete", MlflowClient.Json(new { experiment_id = experimentId }));
        }

        if (row.Endpoint == "runs/restore" && row.Status == HttpStatusCode.OK)
        {
            await _mlflow.OkAsync("POST", "runs/delete", MlflowClient.Json(new { run_id = runId }));
        }

        // Multipart rows run against an upload of two parts ("part one", "part two") of big.bin, already sent.
        var uploadId = string.Empty;
        if (row.Endpoint.StartsWith("mlflow-artifacts/mpu/", StringComparison.Ordinal))
        {
            var (created, upload) = await _mlflow.SendAsync("POST", $"/api/2.0/mlflow-artifacts/mpu/create/{experimentId}/{runId}/artifacts/big.bin", """{"path": "big.bin", "num_parts": 2}""", prefix: string.Empty);
            Assert.Equal(HttpStatusCode.OK, created);
            uploadId = upload.GetProperty("upload_id").GetString()!;
            foreach (var (part, content) in new[] { (1, "part one"), (2, "part two") })
            {
                Assert.Equal(HttpStatusCode.OK, (await _mlflow.SendAsync("PUT", $"/api/2.0/mlflow-artifacts/mpu/part/{uploadId}/{part}", content, prefix: string.Empty)).Status);
            }
        }

        var modelName = "model-" + Guid.NewGuid().ToString("N");
        if (row.Endpoint.StartsWith("registered-models", StringComparison.Ordinal) || row.Endpoint.StartsWith("model-versions", StringComparison.Ordinal))
        {
            await _mlflow.OkAsync("POST", "registered-models/create", MlflowClient.Json(new { name = modelName, tags = new[] { new { key = "team", value = "nlp" } } }));
            await _mlflow.OkAsync("POST", "model-versions/create", MlflowClient.Json(new
            {
                name = modelName,
                source = $"runs:/{runId}/model",
                run_id = runId,
                tags = new[] { new { key = "team", value = "nlp" } },
            }));
            await _mlflow.OkAsync("POST", "registered-models/alias", MlflowClient.Json(new { name = modelName, alias = "champion", version = "1" }));
        }

        string Fill(string text) => text
            .Replace("{M}", modelName, StringComparison.Ordinal)
            .Replace("{EN}", experimentName, StringComparison.Ordinal)
            .Replace("{A}", artifactRoot, StringComparison.Ordinal)
            .Replace("{MPU}", "/api/2.0/mlflow-artifacts/mpu", StringComparison.Ordinal)
            .Replace("{U}", uploadId, StringComparison.Ordinal)
            .Replace("{ET1}", Md5Hex("part one"), StringComparison.Ordinal)
            .Replace("{ET2}", Md5Hex("part two"), StringComparison.Ordinal)
            .Replace("{E}", experimentId, StringComparison.Ordinal)
            .Replace("{R}", runId, StringComparison.Ordinal)
            .Replace("{N}", "fresh-" + Guid.NewGuid().ToString("N"), StringComparison.Ordinal)
            .Replace("{LK}", LongKey, StringComparison.Ordinal)
            .Replace("{LP}", LongParam, StringComparison.Ordinal)
            .Replace("{LT}", LongTag, StringComparison.Ordinal)
            .Replace("{HUGE}", Huge, StringComparison.Ordinal)
            .Replace("{M1001}", Metrics1001, StringComparison.Ordinal)
            .Replace("{P101}", Params101, StringComparison.Ordinal)
            .Replace("UnknownRun", UnknownRun, StringComparison.Ordinal);

        var path = Fill(row.Path);
        return await _mlflow.SendAsync(row.Method, path, row.Body is null ? null : Fill(row.Body), prefix: path.StartsWith('/') ? string.Empty : "/api/2.0/mlflow/");
    }

    private static string Md5Hex(string text) => Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(System.Text.Encoding.UTF8.GetBytes(text)));

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "ModelBox.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("the repository root (ModelBox.slnx) is not above the test binaries");
    }
}
