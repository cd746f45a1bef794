using System.Diagnostics;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Cli;

/// <summary>Lineage, experiment labels, dataset digests and many metric points at once, through the CLI.</summary>
[Collection(ServerCollection.Name)]
public sealed class CliWorkflowTests(ModelBoxServerFixture server) : IDisposable
{
    private readonly CliRunner _cli = new(server);
    private readonly string _namespace = "cli-flow-" + Guid.NewGuid().ToString("N")[..12];
    private readonly string _work = Directory.CreateTempSubdirectory("modelbox-cli-flow-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task Model_versions_create_records_lineage_and_lineage_set_and_unset_change_it()
    {
        var experiment = await IdAsync("experiments", "create", "--name", "train", "--namespace", _namespace);
        var checkpoint = await IdAsync("checkpoints", "create", "--experiment-id", experiment, "--epoch", "2");
        var dataset = (await _cli.ClientAsync("datasets", "create", "--namespace", _namespace, "--name", "speech",
            "--digest", "sha256:" + new string('a', 64), "--output", "json")).AssertSuccess().Json();
        var datasetVersion = dataset.GetProperty("version").GetProperty("id").GetString()!;
        var model = await IdAsync("models", "create", "--name", "asr", "--namespace", _namespace);

        var version = await IdAsync("model-versions", "create", "--model", model, "--version", "1",
            "--experiment-id", experiment, "--checkpoint-id", checkpoint, "--dataset", datasetVersion + ":evaluation");

        var lineage = (await _cli.ClientAsync("lineage", version, "--output", "json")).AssertSuccess().Json();
        Assert.Equal(experiment, lineage.GetProperty("experiment").GetProperty("id").GetString());
        Assert.Equal(checkpoint, lineage.GetProperty("checkpoint").GetProperty("id").GetString());
        Assert.Equal((int)ModelBox.Client.DatasetRole.Evaluation, lineage.GetProperty("datasets")[0].GetProperty("role").GetInt32());

        var child = await IdAsync("model-versions", "create", "--model", model, "--version", "2");
        var set = (await _cli.ClientAsync("lineage", "set", child, "--derived-from", version + ":fine-tuned", "--output", "json")).AssertSuccess().Json();
        Assert.Equal(version, set.GetProperty("ancestors")[0].GetProperty("version").GetProperty("id").GetString());
        Assert.Equal("fine-tuned", set.GetProperty("ancestors")[0].GetProperty("relation").GetString());

        (await _cli.ClientAsync("lineage", "unset", version)).AssertSuccess();
        var cleared = (await _cli.ClientAsync("lineage", version, "--output", "json")).AssertSuccess().Json();
        Assert.True(!cleared.TryGetProperty("experiment", out var experimentAfter) || experimentAfter.ValueKind == System.Text.Json.JsonValueKind.Null, cleared.ToString());
        Assert.Equal(0, cleared.GetProperty("datasets").GetArrayLength());
        (await _cli.ClientAsync("lineage", "set", version)).AssertError(2, "--experiment-id");
    }

    [Fact]
    public async Task Experiments_take_labels()
    {
        var experiment = await IdAsync("experiments", "create", "--name", "labeled", "--namespace", _namespace);

        var labeled = (await _cli.ClientAsync("experiments", "label", experiment, "team=speech", "gpu=a100", "--output", "json")).AssertSuccess().Json();
        Assert.Equal("speech", labeled.GetProperty("labels").GetProperty("team").GetString());
        var unlabeled = (await _cli.ClientAsync("experiments", "unlabel", experiment, "gpu", "--output", "json")).AssertSuccess().Json();
        Assert.False(unlabeled.GetProperty("labels").TryGetProperty("gpu", out _));
    }

    [Theory]
    [InlineData("sha256:ff", "64 hex digits")]
    [InlineData("sha256:" + "zz00000000000000000000000000000000000000000000000000000000000000", "64 hex digits")]
    [InlineData("not a digest", "ALGORITHM:")]
    public async Task Dataset_digests_are_validated(string digest, string message)
    {
        var result = await _cli.ClientAsync("datasets", "create", "--namespace", _namespace, "--name", "bad", "--digest", digest);

        result.AssertError(1, "digest");
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_log_takes_points_from_a_csv_or_jsonl_file_and_from_stdin()
    {
        var experiment = await IdAsync("experiments", "create", "--name", "curves", "--namespace", _namespace);
        var csv = Path.Combine(_work, "points.csv");
        await File.WriteAllLinesAsync(csv, ["key,value,step", .. Enumerable.Range(0, 500).Select(i => $"loss,{1.0 / (i + 1)},{i}")]);
        var jsonl = Path.Combine(_work, "points.jsonl");
        await File.WriteAllLinesAsync(jsonl, ["{\"key\":\"acc\",\"value\":0.5,\"step\":1}", "{\"key\":\"acc\",\"value\":\"nan\",\"step\":2,\"time\":1714550400}"]);

        var fromCsv = (await _cli.ClientAsync("metrics", "log", "--parent-id", experiment, "--file", csv, "--output", "json")).AssertSuccess().Json();
        Assert.Equal(500, fromCsv.GetProperty("points").GetInt64());
        (await _cli.ClientAsync("metrics", "log", "--parent-id", experiment, "--file", jsonl)).AssertSuccess();
        var stdin = await RunWithStdinAsync(["client", "--server-addr", server.HostPort, "metrics", "log", "--parent-id", experiment, "--file", "-"],
            "key,value,step\nlr,0.001,7\n");
        Assert.True(stdin.ExitCode == 0, stdin.Stderr);

        var series = (await _cli.ClientAsync("metrics", "get", "--parent-id", experiment, "--output", "json")).AssertSuccess().Json();
        var counts = series.EnumerateArray().ToDictionary(s => s.GetProperty("key").GetString()!, s => s.GetProperty("points").GetArrayLength());
        Assert.Equal(500, counts["loss"]);
        Assert.Equal(2, counts["acc"]);
        Assert.Equal(1, counts["lr"]);

        var bad = Path.Combine(_work, "bad.csv");
        await File.WriteAllLinesAsync(bad, ["key,value,step", "loss,0.1,1", "loss,high,2"]);
        (await _cli.ClientAsync("metrics", "log", "--parent-id", experiment, "--file", bad)).AssertError(2, $"{bad} line 3");
    }

    private async Task<string> IdAsync(params string[] args) =>
        (await _cli.ClientAsync([.. args, "--output", "json"])).AssertSuccess().Json().GetProperty("id").GetString()!;

    private static async Task<CliResult> RunWithStdinAsync(string[] args, string input)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(ModelBoxExecutable.DllPath);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }
}
