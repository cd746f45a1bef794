using System.Globalization;
using System.Net;
using System.Text.Json;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Mlflow;

/// <summary>
/// MLflow's tracking protocol end to end over HTTP/1.1, replaying the requests MLflow's Python client sends for a training
/// script (mlflow.set_experiment, start_run, log_params, log_metrics, end_run, search_runs), then reading the same run
/// back through ModelBox's gRPC API.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class MlflowTrackingTests(ModelBoxServerFixture server) : IDisposable
{
    private readonly MlflowClient _mlflow = new(server.HttpAddress);

    public void Dispose() => _mlflow.Dispose();

    [Fact]
    public async Task A_training_script_logs_through_the_mlflow_protocol_and_reads_back_through_mlflow_and_grpc()
    {
        var name = "/Users/ana@example.com/speech lid " + Guid.NewGuid().ToString("N")[..6];

        // mlflow.set_experiment(name): get-by-name, then create when missing.
        var (missing, error) = await _mlflow.GetAsync("experiments/get-by-name?experiment_name=" + Uri.EscapeDataString(name));
        Assert.Equal(HttpStatusCode.NotFound, missing);
        Assert.Equal("RESOURCE_DOES_NOT_EXIST", error.GetProperty("error_code").GetString());
        var experimentId = (await _mlflow.OkAsync("POST", "experiments/create", MlflowClient.Json(new { name }))).GetProperty("experiment_id").GetString()!;
        Assert.True(long.TryParse(experimentId, NumberStyles.None, CultureInfo.InvariantCulture, out _));

        // mlflow.start_run(): runs/create with the client's system tags.
        var startTime = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var created = await _mlflow.OkAsync("POST", "runs/create", $$"""
            {"experiment_id": "{{experimentId}}", "user_id": "ana", "start_time": {{startTime}}, "run_name": "bold-fox-7",
             "tags": [{"key": "mlflow.user", "value": "ana"}, {"key": "mlflow.source.name", "value": "train.py"},
                      {"key": "mlflow.source.type", "value": "LOCAL"}, {"key": "mlflow.runName", "value": "bold-fox-7"}]}
            """);
        var info = created.GetProperty("run").GetProperty("info");
        var runId = info.GetProperty("run_id").GetString()!;
        Assert.Equal(32, runId.Length);
        Assert.Equal("RUNNING", info.GetProperty("status").GetString());
        Assert.Equal(startTime, info.GetProperty("start_time").GetInt64());
        Assert.Equal(experimentId, info.GetProperty("experiment_id").GetString());
        Assert.Equal($"mlflow-artifacts:/{experimentId}/{runId}/artifacts", info.GetProperty("artifact_uri").GetString());

        // log_params + log_metrics → log-batch, with NaN and infinity as Python's json writes them; the client retries it.
        var ts = startTime;
        var batch = $$"""
            {"run_id": "{{runId}}", "params": [{"key": "lr", "value": "0.01"}, {"key": "optimizer", "value": "adamw"}],
             "metrics": [{"key": "loss", "value": 0.5, "timestamp": {{ts}}, "step": 0},
                         {"key": "loss", "value": 0.25, "timestamp": {{ts + 1000}}, "step": 1},
                         {"key": "grad_norm", "value": NaN, "timestamp": {{ts}}, "step": 0},
                         {"key": "grad_norm", "value": Infinity, "timestamp": {{ts + 1000}}, "step": 1},
                         {"key": "acc", "value": 0.91, "timestamp": {{ts + 1000}}, "step": 1}],
             "tags": [{"key": "team", "value": "speech"}]}
            """;
        await _mlflow.OkAsync("POST", "runs/log-batch", batch);
        await _mlflow.OkAsync("POST", "runs/log-batch", batch);
        await _mlflow.OkAsync("POST", "runs/log-metric", $$"""{"run_id": "{{runId}}", "key": "loss", "value": 0.125, "timestamp": {{ts + 2000}}, "step": 2}""");

        // mlflow.log_artifact("confusion.txt", "eval") → a PUT to the proxied artifact API below the run's artifact root.
        var artifactRoot = $"/api/2.0/mlflow-artifacts/artifacts/{experimentId}/{runId}/artifacts";
        var (put, _) = await _mlflow.SendAsync("PUT", artifactRoot + "/eval/confusion.txt", "tp=9 fp=1", prefix: string.Empty);
        Assert.Equal(HttpStatusCode.OK, put);
        var listed = await _mlflow.OkAsync("GET", $"artifacts/list?run_id={runId}");
        var directory = Assert.Single(listed.GetProperty("files").EnumerateArray());
        Assert.Equal("eval", directory.GetProperty("path").GetString());
        Assert.True(directory.GetProperty("is_dir").GetBoolean());
        var inside = await _mlflow.OkAsync("GET", $"artifacts/list?run_id={runId}&path=eval");
        Assert.Equal(9, Assert.Single(inside.GetProperty("files").EnumerateArray()).GetProperty("file_size").GetInt64());
        using (var http = new HttpClient { BaseAddress = new Uri(server.HttpAddress) })
        {
            Assert.Equal("tp=9 fp=1", await http.GetStringAsync(artifactRoot + "/eval/confusion.txt"));
        }

        // end_run(): runs/update.
        var updated = await _mlflow.OkAsync("POST", "runs/update", $$"""{"run_id": "{{runId}}", "status": "FINISHED", "end_time": {{ts + 5000}}}""");
        Assert.Equal("FINISHED", updated.GetProperty("run_info").GetProperty("status").GetString());
        Assert.Equal(ts + 5000, updated.GetProperty("run_info").GetProperty("end_time").GetInt64());

        // Read back through MLflow.
        var run = (await _mlflow.OkAsync("GET", "runs/get?run_id=" + runId)).GetProperty("run");
        var data = run.GetProperty("data");
        Assert.Equal("0.01", Find(data.GetProperty("params"), "lr").GetProperty("value").GetString());
        Assert.Equal("bold-fox-7", Find(data.GetProperty("tags"), "mlflow.runName").GetProperty("value").GetString());
        Assert.Equal("train.py", Find(data.GetProperty("tags"), "mlflow.source.name").GetProperty("value").GetString());
        Assert.Equal(0.125, Find(data.GetProperty("metrics"), "loss").GetProperty("value").GetDouble());
        Assert.Equal("Infinity", Find(data.GetProperty("metrics"), "grad_norm").GetProperty("value").GetString());
        Assert.Equal("bold-fox-7", run.GetProperty("info").GetProperty("run_name").GetString());

        var history = await _mlflow.OkAsync("GET", $"metrics/get-history?run_id={runId}&metric_key=loss");
        var points = history.GetProperty("metrics").EnumerateArray().ToList();
        Assert.Equal([0.5, 0.25, 0.125], points.Select(p => p.GetProperty("value").GetDouble()));
        Assert.Equal([0L, 1L, 2L], points.Select(p => p.GetProperty("step").GetInt64()));
        Assert.Equal(ts / 1000 * 1000 + 1000, points[1].GetProperty("timestamp").GetInt64());
        var nan = await _mlflow.OkAsync("GET", $"metrics/get-history?run_id={runId}&metric_key=grad_norm&max_results=1");
        Assert.Equal("NaN", Assert.Single(nan.GetProperty("metrics").EnumerateArray()).GetProperty("value").GetString());
        Assert.True(nan.TryGetProperty("next_page_token", out _));

        // The charts of MLflow's UI: one metric of many runs, sampled (the first and last steps always kept).
        var sampled = await _mlflow.OkAsync("GET", $"metrics/get-history-bulk-interval?run_ids={runId}&metric_key=loss&max_results=2");
        var sampledPoints = sampled.GetProperty("metrics").EnumerateArray().ToList();
        Assert.Equal([0L, 2L], sampledPoints.Select(p => p.GetProperty("step").GetInt64()));
        Assert.All(sampledPoints, p => Assert.Equal(runId, p.GetProperty("run_id").GetString()));

        // mlflow.log_input(dataset, context="training") → log-inputs; the run shows it and ModelBox has the dataset.
        await _mlflow.OkAsync("POST", "runs/log-inputs", $$$"""
            {"run_id": "{{{runId}}}", "datasets": [{"tags": [{"key": "mlflow.data.context", "value": "training"}],
             "dataset": {"name": "librispeech-100h", "digest": "9f86d081", "source_type": "local", "source": "/data/ls", "schema": "{}", "profile": "{\"num_rows\": 28539}"}}]}
            """);
        var withInputs = (await _mlflow.OkAsync("GET", "runs/get?run_id=" + runId)).GetProperty("run").GetProperty("inputs").GetProperty("dataset_inputs");
        Assert.Equal("librispeech-100h", Assert.Single(withInputs.EnumerateArray()).GetProperty("dataset").GetProperty("name").GetString());

        // search_runs with MLflow's filter syntax.
        var search = await _mlflow.OkAsync("POST", "runs/search", MlflowClient.Json(new
        {
            experiment_ids = new[] { experimentId },
            filter = "metrics.acc > 0.9 and params.lr = '0.01' and tags.team = 'speech' and attributes.status = 'FINISHED'",
            max_results = 10,
        }));
        Assert.Equal(runId, Assert.Single(search.GetProperty("runs").EnumerateArray()).GetProperty("info").GetProperty("run_id").GetString());
        var none = await _mlflow.OkAsync("POST", "runs/search", MlflowClient.Json(new { experiment_ids = new[] { experimentId }, filter = "metrics.acc > 0.95" }));
        Assert.False(none.TryGetProperty("runs", out var runs) && runs.GetArrayLength() > 0);

        // mlflow.register_model("runs:/<run>/model", name) and an alias, read back by alias.
        var modelName = "lid-" + runId[..8];
        await _mlflow.OkAsync("POST", "registered-models/create", MlflowClient.Json(new { name = modelName }));
        var version = (await _mlflow.OkAsync("POST", "model-versions/create", MlflowClient.Json(new { name = modelName, source = $"runs:/{runId}/model", run_id = runId })))
            .GetProperty("model_version");
        Assert.Equal("1", version.GetProperty("version").GetString());
        await _mlflow.OkAsync("POST", "registered-models/alias", MlflowClient.Json(new { name = modelName, alias = "champion", version = "1" }));
        var champion = (await _mlflow.OkAsync("GET", $"registered-models/alias?name={modelName}&alias=champion")).GetProperty("model_version");
        Assert.Equal(runId, champion.GetProperty("run_id").GetString());
        Assert.Equal(["champion"], champion.GetProperty("aliases").EnumerateArray().Select(a => a.GetString()));
        var second = (await _mlflow.OkAsync("POST", "model-versions/create", MlflowClient.Json(new { name = modelName, source = "s3://bucket/model" }))).GetProperty("model_version");
        Assert.Equal("2", second.GetProperty("version").GetString());

        // The same run through ModelBox's gRPC API: an experiment in the experiment's namespace, with its metrics stored once.
        var client = server.CreateGrpcClient(out var channel);
        using (channel)
        {
            var experiment = (await client.GetExperimentAsync(new GetExperimentRequest { Id = "exp-" + runId })).Experiment;
            Assert.Equal("bold-fox-7", experiment.Name);
            Assert.Equal("ana", experiment.Owner);
            Assert.Equal(ExperimentStatus.Finished, experiment.Status);
            var metrics = await client.GetMetricsAsync(new GetMetricsRequest { ParentId = experiment.Id });
            Assert.Equal(3, metrics.Metrics.Single(m => m.Key == "loss").Values.Count);
            Assert.Equal(2, metrics.Metrics.Single(m => m.Key == "grad_norm").Values.Count);
            var files = await client.ListArtifactsAsync(new ListArtifactsRequest { ParentId = experiment.Id });
            Assert.Equal("eval/confusion.txt", Assert.Single(files.Files).Path);
        }
    }

    [Fact]
    public async Task Experiments_are_renamed_tagged_deleted_restored_and_searched_by_name_and_tag()
    {
        var name = "exp-" + Guid.NewGuid().ToString("N")[..8];
        var id = (await _mlflow.OkAsync("POST", "experiments/create", MlflowClient.Json(new { name, tags = new[] { new { key = "team", value = "nlp" } } })))
            .GetProperty("experiment_id").GetString()!;
        await _mlflow.OkAsync("POST", "experiments/set-experiment-tag", MlflowClient.Json(new { experiment_id = id, key = "stage", value = "dev" }));
        await _mlflow.OkAsync("POST", "experiments/update", MlflowClient.Json(new { experiment_id = id, new_name = name + "-renamed" }));
        var experiment = (await _mlflow.OkAsync("GET", "experiments/get?experiment_id=" + id)).GetProperty("experiment");
        Assert.Equal(name + "-renamed", experiment.GetProperty("name").GetString());
        Assert.Equal("dev", Find(experiment.GetProperty("tags"), "stage").GetProperty("value").GetString());

        var found = await _mlflow.OkAsync("POST", "experiments/search", MlflowClient.Json(new { filter = $"name LIKE '{name}%' and tags.team = 'nlp'", max_results = 5 }));
        Assert.Equal(id, Assert.Single(found.GetProperty("experiments").EnumerateArray()).GetProperty("experiment_id").GetString());

        await _mlflow.OkAsync("POST", "experiments/delete", MlflowClient.Json(new { experiment_id = id }));
        Assert.Equal("deleted", (await _mlflow.OkAsync("GET", "experiments/get?experiment_id=" + id)).GetProperty("experiment").GetProperty("lifecycle_stage").GetString());
        var active = await _mlflow.OkAsync("POST", "experiments/search", MlflowClient.Json(new { filter = $"name = '{name}-renamed'" }));
        Assert.False(active.TryGetProperty("experiments", out var list) && list.GetArrayLength() > 0);
        await _mlflow.OkAsync("POST", "experiments/restore", MlflowClient.Json(new { experiment_id = id }));
        Assert.Equal("active", (await _mlflow.OkAsync("GET", "experiments/get?experiment_id=" + id)).GetProperty("experiment").GetProperty("lifecycle_stage").GetString());

        // The default experiment exists from the start, and namespaces made through ModelBox's API are experiments too.
        Assert.Equal("Default", (await _mlflow.OkAsync("GET", "experiments/get?experiment_id=0")).GetProperty("experiment").GetProperty("name").GetString());
        var client = server.CreateGrpcClient(out var channel);
        using (channel)
        {
            var ns = "grpc-" + Guid.NewGuid().ToString("N")[..8];
            await client.CreateExperimentAsync(new CreateExperimentRequest { Namespace = ns, Name = "made-by-grpc" });
            var adopted = (await _mlflow.OkAsync("GET", "experiments/get-by-name?experiment_name=" + ns)).GetProperty("experiment");
            var runs = await _mlflow.OkAsync("POST", "runs/search", MlflowClient.Json(new { experiment_ids = new[] { adopted.GetProperty("experiment_id").GetString() } }));
            Assert.Equal("made-by-grpc", Assert.Single(runs.GetProperty("runs").EnumerateArray()).GetProperty("info").GetProperty("run_name").GetString());
        }
    }

    [Fact]
    public async Task The_ajax_prefix_serves_the_same_api_and_unknown_endpoints_answer_endpoint_not_found()
    {
        var (status, body) = await _mlflow.SendAsync("GET", "experiments/get?experiment_id=0", prefix: "/ajax-api/2.0/mlflow/");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("0", body.GetProperty("experiment").GetProperty("experiment_id").GetString());
        var (unknown, error) = await _mlflow.SendAsync("POST", "runs/no-such-thing", "{}");
        Assert.Equal(HttpStatusCode.NotFound, unknown);
        Assert.Equal("ENDPOINT_NOT_FOUND", error.GetProperty("error_code").GetString());
    }

    private static JsonElement Find(JsonElement array, string key) =>
        array.EnumerateArray().Single(e => e.GetProperty("key").GetString() == key);
}
