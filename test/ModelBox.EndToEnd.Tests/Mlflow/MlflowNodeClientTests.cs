using System.Diagnostics;
using System.Text.Json;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Mlflow;

/// <summary>
/// A third-party MLflow REST client (the npm package "mlflow", pinned and installed by test.sh into .tools/mlflow-js)
/// drives the server from Node.js: experiments, runs, log-batch, search, history, errors. The tools are requirements:
/// without node or the package the test fails (test.sh installs both and sets MODELBOX_TEST_MLFLOW_JS).
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class MlflowNodeClientTests(ModelBoxServerFixture server)
{
    [Fact]
    public async Task A_nodejs_mlflow_client_logs_a_run_and_reads_it_back()
    {
        var modules = Environment.GetEnvironmentVariable("MODELBOX_TEST_MLFLOW_JS");
        Assert.True(!string.IsNullOrEmpty(modules) && Directory.Exists(Path.Combine(modules, "mlflow")),
            "MODELBOX_TEST_MLFLOW_JS must name a node_modules folder holding the npm package mlflow; run ./test.sh, which installs it");
        var name = "node-" + Guid.NewGuid().ToString("N")[..8];
        var start = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Mlflow", "mlflow_js_client.js"));
        start.ArgumentList.Add(server.HttpAddress);
        start.ArgumentList.Add(name);
        start.Environment["NODE_PATH"] = modules;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.True(process.ExitCode == 0, $"node exited with {process.ExitCode}:\n{await errors}\n{await output}");

        var line = (await output).Split('\n').Single(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        using var document = JsonDocument.Parse(line["RESULT ".Length..]);
        var result = document.RootElement;
        var runId = result.GetProperty("run_id").GetString();
        Assert.Equal(runId, Assert.Single(result.GetProperty("found").GetProperty("runs").EnumerateArray()).GetProperty("info").GetProperty("run_id").GetString());
        Assert.Equal([1.0, 0.5, 1 / 3.0, 0.25, 0.2], result.GetProperty("history").GetProperty("metrics").EnumerateArray().Select(m => m.GetProperty("value").GetDouble()));
        var run = result.GetProperty("got").GetProperty("run");
        Assert.Equal("FINISHED", run.GetProperty("info").GetProperty("status").GetString());
        Assert.Equal("node-run", run.GetProperty("info").GetProperty("run_name").GetString());
        Assert.Equal(1700000010000, run.GetProperty("info").GetProperty("end_time").GetInt64());
        Assert.Equal(["epochs", "lr"], run.GetProperty("data").GetProperty("params").EnumerateArray().Select(p => p.GetProperty("key").GetString()));
        Assert.Contains(result.GetProperty("listed").GetProperty("experiments").EnumerateArray(), e => e.GetProperty("name").GetString() == name);
        Assert.Equal(JsonValueKind.Array, result.GetProperty("artifacts").GetProperty("files").ValueKind);
        var missing = result.GetProperty("missing");
        Assert.Equal(404, missing.GetProperty("status").GetInt32());
        Assert.Equal("RESOURCE_DOES_NOT_EXIST", missing.GetProperty("data").GetProperty("error_code").GetString());
    }
}
