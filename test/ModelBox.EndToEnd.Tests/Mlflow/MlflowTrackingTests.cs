using System.Globalization;
using System.Net;
using System.Text.Json;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Mlflow;

/// <summary>
/// MLflow's tracking protocol end to end over HTTP/1.1, replaying the requests MLflow's Python client sends for a training
/// script (mlflow.set_experiment, start_run, log_params, log_metrics, end_run, search_runs), then reading the same run
/// back through ModelBox's gRPC API. The same requests run against every metadata backend (the subclasses at the end).
/// </summary>
public abstract class MlflowTrackingSpecification(ModelBoxServerFixture server) : IDisposable
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
        // Timestamps are milliseconds and read back as logged (a time with 123 ms past the second).
        var ts = (startTime / 1000 * 1000) + 123;
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
        Assert.Equal([ts, ts + 1000, ts + 2000], points.Select(p => p.GetProperty("timestamp").GetInt64()));
        var nan = await _mlflow.OkAsync("GET", $"metrics/get-history?run_id={runId}&metric_key=grad_norm&max_results=1");
        Assert.Equal("NaN", Assert.Single(nan.GetProperty("metrics").EnumerateArray()).GetProperty("value").GetString());
        Assert.True(nan.TryGetProperty("next_page_token", out _));

        // The charts of MLflow's UI: one metric of many runs, sampled (the first and last steps always kept).
        var sampled = await _mlflow.OkAsync("GET", $"metrics/get-history-bulk-interval?run_ids={runId}&metric_key=loss&max_results=2");
        var sampledPoints = sampled.GetProperty("metrics").EnumerateArray().ToList();
        Assert.Equal([0L, 2L], sampledPoints.Select(p => p.GetProperty("step").GetInt64()));
        Assert.All(sampledPoints, p => Assert.Equal(runId, p.GetProperty("run_id").GetString()));
        // Sampled points come from the stored summaries, which keep whole seconds; a range that fits max_results is exact.
        Assert.Equal([ts / 1000 * 1000, (ts + 2000) / 1000 * 1000], sampledPoints.Select(p => p.GetProperty("timestamp").GetInt64()));
        var whole = await _mlflow.OkAsync("GET", $"metrics/get-history-bulk-interval?run_ids={runId}&metric_key=loss&max_results=10");
        Assert.Equal([ts, ts + 1000, ts + 2000], whole.GetProperty("metrics").EnumerateArray().Select(p => p.GetProperty("timestamp").GetInt64()));

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
        var inList = await _mlflow.OkAsync("POST", "runs/search", MlflowClient.Json(new
        {
            experiment_ids = new[] { experimentId },
            filter = "params.optimizer IN ('sgd', 'adamw') and tags.team NOT IN ('vision', 'nlp') and attributes.run_id IN ('" + runId + "')",
        }));
        Assert.Equal(runId, Assert.Single(inList.GetProperty("runs").EnumerateArray()).GetProperty("info").GetProperty("run_id").GetString());
        var excluded = await _mlflow.OkAsync("POST", "runs/search", MlflowClient.Json(new { experiment_ids = new[] { experimentId }, filter = "tags.team NOT IN ('speech')" }));
        Assert.False(excluded.TryGetProperty("runs", out var excludedRuns) && excludedRuns.GetArrayLength() > 0);
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

        // transition_model_version_stage: version 1 to Production, then version 2 with archive_existing_versions.
        await _mlflow.OkAsync("POST", "model-versions/transition-stage", MlflowClient.Json(new { name = modelName, version = "1", stage = "Production" }));
        var promoted = (await _mlflow.OkAsync("POST", "model-versions/transition-stage", MlflowClient.Json(new { name = modelName, version = "2", stage = "Production", archive_existing_versions = true })))
            .GetProperty("model_version");
        Assert.Equal("Production", promoted.GetProperty("current_stage").GetString());
        var production = await _mlflow.OkAsync("GET", $"registered-models/get-latest-versions?name={modelName}&stages=Production");
        Assert.Equal("2", Assert.Single(production.GetProperty("model_versions").EnumerateArray()).GetProperty("version").GetString());
        var first = (await _mlflow.OkAsync("GET", $"model-versions/get?name={modelName}&version=1")).GetProperty("model_version");
        Assert.Equal("Archived", first.GetProperty("current_stage").GetString());
        var latestPerStage = (await _mlflow.OkAsync("GET", $"registered-models/get?name={modelName}")).GetProperty("registered_model").GetProperty("latest_versions");
        Assert.Equal(["Production", "Archived"], latestPerStage.EnumerateArray().Select(v => v.GetProperty("current_stage").GetString()));

        // rename_registered_model: versions, stages and aliases follow the model; the old name is gone and cannot be created again.
        var renamed = (await _mlflow.OkAsync("POST", "registered-models/rename", MlflowClient.Json(new { name = modelName, new_name = modelName + "-v2" })))
            .GetProperty("registered_model");
        Assert.Equal(modelName + "-v2", renamed.GetProperty("name").GetString());
        var byAlias = (await _mlflow.OkAsync("GET", $"registered-models/alias?name={modelName}-v2&alias=champion")).GetProperty("model_version");
        Assert.Equal(modelName + "-v2", byAlias.GetProperty("name").GetString());
        Assert.Equal("Archived", byAlias.GetProperty("current_stage").GetString());
        var (gone, goneError) = await _mlflow.GetAsync($"registered-models/get?name={modelName}");
        Assert.Equal(HttpStatusCode.NotFound, gone);
        Assert.Equal("RESOURCE_DOES_NOT_EXIST", goneError.GetProperty("error_code").GetString());
        var (taken, takenError) = await _mlflow.PostAsync("registered-models/create", MlflowClient.Json(new { name = modelName }));
        Assert.Equal(HttpStatusCode.BadRequest, taken);
        Assert.Equal("RESOURCE_ALREADY_EXISTS", takenError.GetProperty("error_code").GetString());
        var searched = await _mlflow.OkAsync("GET", $"registered-models/search?filter=" + Uri.EscapeDataString($"name = '{modelName}-v2'"));
        Assert.Equal(modelName + "-v2", Assert.Single(searched.GetProperty("registered_models").EnumerateArray()).GetProperty("name").GetString());
        await _mlflow.OkAsync("POST", "registered-models/rename", MlflowClient.Json(new { name = modelName + "-v2", new_name = modelName }));
        Assert.Equal(modelName, (await _mlflow.OkAsync("GET", $"registered-models/get?name={modelName}")).GetProperty("registered_model").GetProperty("name").GetString());

        // The same run through ModelBox's gRPC API: an experiment in the experiment's namespace, with its metrics stored once.
        var client = server.CreateGrpcClient(out var channel);
        using (channel)
        {
            var experiment = (await client.GetExperimentAsync(new GetExperimentRequest { Id = "exp-" + runId })).Experiment;
            Assert.Equal("bold-fox-7", experiment.Name);
            Assert.Equal("ana", experiment.Owner);
            Assert.Equal(ExperimentStatus.Finished, experiment.Status);
            var metrics = await client.GetMetricsAsync(new GetMetricsRequest { ParentId = experiment.Id });
            var loss = metrics.Metrics.Single(m => m.Key == "loss").Values;
            Assert.Equal(3, loss.Count);
            // The wire's seconds stay whole seconds; the milliseconds come in wallclock_time_ms.
            Assert.Equal([(ulong)ts / 1000, (ulong)(ts + 1000) / 1000, (ulong)(ts + 2000) / 1000], loss.Select(v => v.WallclockTime));
            Assert.Equal([(ulong)ts, (ulong)ts + 1000, (ulong)ts + 2000], loss.Select(v => v.WallclockTimeMs));
            Assert.Equal(2, metrics.Metrics.Single(m => m.Key == "grad_norm").Values.Count);
            var files = await client.ListArtifactsAsync(new ListArtifactsRequest { ParentId = experiment.Id });
            Assert.Equal("eval/confusion.txt", Assert.Single(files.Files).Path);
        }
    }

    [Fact]
    public async Task Two_identical_log_batch_requests_racing_each_other_store_their_points_once()
    {
        var experimentId = (await _mlflow.OkAsync("POST", "experiments/create", MlflowClient.Json(new { name = "race-" + Guid.NewGuid().ToString("N")[..8] })))
            .GetProperty("experiment_id").GetString()!;
        var runId = (await _mlflow.OkAsync("POST", "runs/create", MlflowClient.Json(new { experiment_id = experimentId })))
            .GetProperty("run").GetProperty("info").GetProperty("run_id").GetString()!;
        using var other = new MlflowClient(server.HttpAddress);
        var ts = 1_700_000_000_007L;
        const int Rounds = 12;
        for (var round = 0; round < Rounds; round++)
        {
            // A client that timed out sends the same batch again while the first copy is still being stored.
            var metrics = string.Join(",", Enumerable.Range(0, 20).Select(k => $$"""{"key": "m{{k}}", "value": {{round + (k / 100.0)}}, "timestamp": {{ts + round}}, "step": {{round}}}"""));
            var batch = $$"""{"run_id": "{{runId}}", "metrics": [{{metrics}}]}""";
            var answers = await Task.WhenAll(_mlflow.SendAsync("POST", "runs/log-batch", batch), other.SendAsync("POST", "runs/log-batch", batch));
            Assert.All(answers, answer => Assert.Equal(HttpStatusCode.OK, answer.Status));
        }

        for (var k = 0; k < 20; k += 7)
        {
            var history = (await _mlflow.OkAsync("GET", $"metrics/get-history?run_id={runId}&metric_key=m{k}")).GetProperty("metrics").EnumerateArray().ToList();
            Assert.Equal(Enumerable.Range(0, Rounds).Select(r => (long)r), history.Select(p => p.GetProperty("step").GetInt64()));
            Assert.Equal(Enumerable.Range(0, Rounds).Select(r => ts + r), history.Select(p => p.GetProperty("timestamp").GetInt64()));
        }

        // A batch that overlaps an earlier one stores only its new points (MLflow keeps a metric once per key, value, timestamp, step).
        await _mlflow.OkAsync("POST", "runs/log-batch", $$"""
            {"run_id": "{{runId}}", "metrics": [{"key": "m0", "value": 0, "timestamp": {{ts}}, "step": 0}, {"key": "m0", "value": 99, "timestamp": {{ts + 99}}, "step": 99}]}
            """);
        var m0 = (await _mlflow.OkAsync("GET", $"metrics/get-history?run_id={runId}&metric_key=m0")).GetProperty("metrics");
        Assert.Equal(Rounds + 1, m0.GetArrayLength());
    }

    [Fact]
    public async Task A_multipart_upload_through_the_part_urls_is_stored_as_one_verified_artifact()
    {
        var experimentId = "0";
        var runId = (await _mlflow.OkAsync("POST", "runs/create", MlflowClient.Json(new { experiment_id = experimentId })))
            .GetProperty("run").GetProperty("info").GetProperty("run_id").GetString()!;
        var parts = new[] { new byte[300_000], new byte[300_000], new byte[1234] };
        for (var i = 0; i < parts.Length; i++)
        {
            Random.Shared.NextBytes(parts[i]);
        }

        var mpu = $"/api/2.0/mlflow-artifacts/mpu/{{0}}/{experimentId}/{runId}/artifacts/weights/model.bin";
        var (status, created) = await _mlflow.SendAsync("POST", string.Format(CultureInfo.InvariantCulture, mpu, "create"), """{"path": "weights/model.bin", "num_parts": 3}""", prefix: string.Empty);
        Assert.Equal(HttpStatusCode.OK, status);
        var uploadId = created.GetProperty("upload_id").GetString()!;
        var credentials = created.GetProperty("credentials").EnumerateArray().ToList();
        Assert.Equal([1L, 2L, 3L], credentials.Select(c => c.GetProperty("part_number").GetInt64()));

        // The client PUTs each part to its URL (in any order) and keeps the ETag it gets back.
        using var http = new HttpClient();
        var etags = new string[parts.Length];
        foreach (var i in new[] { 2, 0, 1 })
        {
            using var response = await http.PutAsync(credentials[i].GetProperty("url").GetString(), new ByteArrayContent(parts[i]));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            etags[i] = response.Headers.ETag!.Tag.Trim('"');
        }

        var complete = MlflowClient.Json(new { path = "weights/model.bin", upload_id = uploadId, parts = etags.Select((etag, i) => new { part_number = i + 1, etag }) });
        Assert.Equal(HttpStatusCode.OK, (await _mlflow.SendAsync("POST", string.Format(CultureInfo.InvariantCulture, mpu, "complete"), complete, prefix: string.Empty)).Status);
        var stored = await http.GetByteArrayAsync(new Uri(new Uri(server.HttpAddress), $"/api/2.0/mlflow-artifacts/artifacts/{experimentId}/{runId}/artifacts/weights/model.bin"));
        Assert.Equal(parts.SelectMany(p => p).ToArray(), stored);

        // Completed: the upload is gone, and ModelBox lists one verified file.
        var (again, error) = await _mlflow.SendAsync("POST", string.Format(CultureInfo.InvariantCulture, mpu, "complete"), complete, prefix: string.Empty);
        Assert.Equal(HttpStatusCode.NotFound, again);
        Assert.Equal("RESOURCE_DOES_NOT_EXIST", error.GetProperty("error_code").GetString());
        var client = server.CreateGrpcClient(out var channel);
        using (channel)
        {
            var file = Assert.Single((await client.ListArtifactsAsync(new ListArtifactsRequest { ParentId = "exp-" + runId })).Files);
            Assert.Equal("weights/model.bin", file.Path);
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(stored)), file.Checksum);
        }
    }

    [Fact]
    public async Task Runs_are_found_with_like_and_ilike_and_ordered_by_a_metric_a_param_or_a_tag()
    {
        var experimentId = (await _mlflow.OkAsync("POST", "experiments/create", MlflowClient.Json(new { name = "order-" + Guid.NewGuid().ToString("N")[..8] })))
            .GetProperty("experiment_id").GetString()!;
        var runs = new Dictionary<string, string>();
        foreach (var (name, accuracy, lr, team) in new[] { ("bert-base", 0.7, "0.1", "NLP"), ("bert-large", 0.9, "0.01", "nlp"), ("resnet", 0.8, "0.001", "vision") })
        {
            var runId = (await _mlflow.OkAsync("POST", "runs/create", MlflowClient.Json(new { experiment_id = experimentId, run_name = name })))
                .GetProperty("run").GetProperty("info").GetProperty("run_id").GetString()!;
            await _mlflow.OkAsync("POST", "runs/log-batch", $$"""
                {"run_id": "{{runId}}", "metrics": [{"key": "acc", "value": 0.1, "timestamp": 1, "step": 0}, {"key": "acc", "value": {{accuracy.ToString(CultureInfo.InvariantCulture)}}, "timestamp": 2, "step": 1}],
                 "params": [{"key": "lr", "value": "{{lr}}"}], "tags": [{"key": "team", "value": "{{team}}"}]}
                """);
            runs[runId] = name;
        }

        async Task<List<string>> NamesAsync(string? filter, string? orderBy)
        {
            var answer = await _mlflow.OkAsync("POST", "runs/search", MlflowClient.Json(new
            {
                experiment_ids = new[] { experimentId },
                filter = filter ?? string.Empty,
                order_by = orderBy is null ? Array.Empty<string>() : [orderBy],
            }));
            return answer.TryGetProperty("runs", out var found) ? found.EnumerateArray().Select(r => r.GetProperty("info").GetProperty("run_name").GetString()!).ToList() : [];
        }

        Assert.Equal(["bert-base", "bert-large"], await NamesAsync("attributes.run_name LIKE 'bert%'", "run_name ASC"));
        Assert.Equal(["bert-large"], await NamesAsync("tags.team LIKE 'nl_'", null));
        Assert.Equal(["bert-base", "bert-large"], await NamesAsync("tags.team ILIKE 'nlp' and params.lr != '0.001'", "metrics.acc ASC"));
        Assert.Equal(["bert-large", "resnet", "bert-base"], await NamesAsync(null, "metrics.acc DESC"));
        Assert.Equal(["resnet", "bert-large", "bert-base"], await NamesAsync(null, "params.lr ASC"));
        Assert.Equal(["bert-base", "bert-large", "resnet"], await NamesAsync(null, "tags.team ASC"));

        // Paging through an order computed on the server.
        var first = await _mlflow.OkAsync("POST", "runs/search", MlflowClient.Json(new { experiment_ids = new[] { experimentId }, order_by = new[] { "metrics.acc DESC" }, max_results = 2 }));
        Assert.Equal(2, first.GetProperty("runs").GetArrayLength());
        var second = await _mlflow.OkAsync("POST", "runs/search", MlflowClient.Json(new
        {
            experiment_ids = new[] { experimentId }, order_by = new[] { "metrics.acc DESC" }, max_results = 2, page_token = first.GetProperty("next_page_token").GetString(),
        }));
        Assert.Equal("bert-base", Assert.Single(second.GetProperty("runs").EnumerateArray()).GetProperty("info").GetProperty("run_name").GetString());
        Assert.False(second.TryGetProperty("next_page_token", out _));
    }

    [Fact]
    public async Task A_deleted_run_is_answered_with_lifecycle_stage_deleted_until_restored()
    {
        var runId = (await _mlflow.OkAsync("POST", "runs/create", MlflowClient.Json(new { experiment_id = "0", run_name = "to-delete" })))
            .GetProperty("run").GetProperty("info").GetProperty("run_id").GetString()!;
        await _mlflow.OkAsync("POST", "runs/log-parameter", MlflowClient.Json(new { run_id = runId, key = "lr", value = "0.1" }));
        await _mlflow.OkAsync("POST", "runs/delete", MlflowClient.Json(new { run_id = runId }));
        var deleted = (await _mlflow.OkAsync("GET", "runs/get?run_id=" + runId)).GetProperty("run");
        Assert.Equal("deleted", deleted.GetProperty("info").GetProperty("lifecycle_stage").GetString());
        Assert.Equal("0.1", Find(deleted.GetProperty("data").GetProperty("params"), "lr").GetProperty("value").GetString());
        var (status, error) = await _mlflow.PostAsync("runs/log-parameter", MlflowClient.Json(new { run_id = runId, key = "seed", value = "1" }));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("INVALID_PARAMETER_VALUE", error.GetProperty("error_code").GetString());
        await _mlflow.OkAsync("POST", "runs/restore", MlflowClient.Json(new { run_id = runId }));
        Assert.Equal("active", (await _mlflow.OkAsync("GET", "runs/get?run_id=" + runId)).GetProperty("run").GetProperty("info").GetProperty("lifecycle_stage").GetString());
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

        // Every change of the MLflow experiment record is a change record of its namespace, in order.
        var watcher = server.CreateGrpcClient(out var watchChannel);
        using (watchChannel)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            using var watch = watcher.WatchNamespace(new WatchNamespaceRequest { Namespace = name, Since = 0 }, cancellationToken: timeout.Token);
            var states = new List<(ChangeEvent Event, string Name, string Lifecycle, string StageTag)>();
            while (states.Count < 5 && await watch.ResponseStream.MoveNext(timeout.Token))
            {
                var change = watch.ResponseStream.Current;
                if (change.ObjectKind == "mlflow_experiment")
                {
                    Assert.Equal("mlflow-experiment-" + id, change.ObjectId);
                    var fields = change.Payload.StructValue.Fields;
                    var tags = fields["tags"].StructValue.Fields;
                    states.Add((change.Event, fields["name"].StringValue, fields["lifecycle_stage"].StringValue, tags.TryGetValue("stage", out var stage) ? stage.StringValue : ""));
                }
            }

            Assert.Equal(
                [
                    (ChangeEvent.ObjectCreated, name, "active", ""),
                    (ChangeEvent.ObjectUpdated, name, "active", "dev"),
                    (ChangeEvent.ObjectUpdated, name + "-renamed", "active", "dev"),
                    (ChangeEvent.ObjectUpdated, name + "-renamed", "deleted", "dev"),
                    (ChangeEvent.ObjectUpdated, name + "-renamed", "active", "dev"),
                ],
                states);
        }

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

/// <summary>On the embedded store (SQLite), the shared in-process server.</summary>
[Collection(ServerCollection.Name)]
public sealed class MlflowTrackingTests(ModelBoxServerFixture server) : MlflowTrackingSpecification(server);

/// <summary>On PostgreSQL.</summary>
public sealed class MlflowPostgresTrackingTests(MlflowPostgresServer server) : MlflowTrackingSpecification(server.Server), IClassFixture<MlflowPostgresServer>;

/// <summary>On MariaDB.</summary>
public sealed class MlflowMariaDbTrackingTests(MlflowMariaDbServer server) : MlflowTrackingSpecification(server.Server), IClassFixture<MlflowMariaDbServer>;
