using System.Text.Json;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Cli;

[Collection(ServerCollection.Name)]
public sealed class ClientCliTests(ModelBoxServerFixture server)
{
    private readonly CliRunner _cli = new(server);
    private readonly string _namespace = "cli-" + Guid.NewGuid().ToString("N")[..12];

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    [Fact]
    public async Task Experiment_create_json_prints_the_object_with_its_id_in_snake_case()
    {
        var name = Unique("exp");

        var created = (await _cli.ClientAsync(
            "experiments", "create", "--namespace", _namespace, "--owner", "a@b.c", "--name", name, "--framework", "PyTorch",
            "--task", "asr", "--external-id", "job-1", "--metadata", "lr=0.01", "--metadata", "dataset=librispeech",
            "--metadata", "layers=[1,2]", "--output", "json")).AssertSuccess().Json();

        Assert.StartsWith("exp-", created.GetProperty("id").GetString());
        Assert.Equal(name, created.GetProperty("name").GetString());
        Assert.Equal(_namespace, created.GetProperty("namespace").GetString());
        Assert.Equal("pytorch", created.GetProperty("framework").GetString());
        Assert.Equal("running", created.GetProperty("status").GetString());
        Assert.Equal("job-1", created.GetProperty("external_id").GetString());
        Assert.True(created.TryGetProperty("created_at", out _));
        var metadata = created.GetProperty("metadata");
        Assert.Equal(0.01, metadata.GetProperty("lr").GetDouble());
        Assert.Equal("librispeech", metadata.GetProperty("dataset").GetString());
        Assert.Equal(2, metadata.GetProperty("layers").GetArrayLength());
    }

    [Fact]
    public async Task Text_another_user_stored_reaches_the_terminal_with_its_control_characters_neutralised_and_json_stays_exact()
    {
        // A terminal title change, a screen clear, a fake second line and a right-to-left override.
        const string Hostile = "fine\u001b]0;pwned\u0007\u001b[2J\r\nerror: fake\u202Eevil\u009b";
        var name = Unique("hostile");
        var id = (await _cli.ClientAsync(
            "models", "create", "--name", name, "--owner", "a@b.c", "--namespace", _namespace, "--description", Hostile, "-o", "json"))
            .AssertSuccess().Json().GetProperty("id").GetString()!;

        var shown = (await _cli.ClientAsync("models", "get", id)).AssertSuccess().Stdout;
        var listed = (await _cli.ClientAsync("models", "list", "--namespace", _namespace)).AssertSuccess().Stdout;
        var json = (await _cli.ClientAsync("models", "get", id, "-o", "json")).AssertSuccess().Json();

        foreach (var text in new[] { shown, listed })
        {
            Assert.DoesNotContain('\u001b', text);
            Assert.DoesNotContain('\u0007', text);
            Assert.DoesNotContain('\r', text);
            Assert.DoesNotContain('\u202E', text);
            Assert.DoesNotContain('\u009b', text);
            Assert.DoesNotContain("\nerror: fake", text, StringComparison.Ordinal);
        }

        Assert.Contains(@"fine\x1B]0;pwned\x07\x1B[2J\x0D\x0Aerror: fake\u202Eevil\x9B", shown, StringComparison.Ordinal);
        Assert.Equal(Hostile, json.GetProperty("description").GetString());
    }

    [Fact]
    public async Task Experiment_list_json_is_an_array_of_the_namespace_experiments()
    {
        var names = new[] { Unique("first"), Unique("second") };
        foreach (var name in names)
        {
            (await _cli.ClientAsync("experiments", "create", "--namespace", _namespace, "--owner", "a@b.c", "--name", name, "--framework", "keras")).AssertSuccess();
        }

        var list = (await _cli.ClientAsync("--output", "json", "experiments", "list", "--namespace", _namespace)).AssertSuccess().Json();

        Assert.Equal(JsonValueKind.Array, list.ValueKind);
        Assert.Equal(names.Reverse(), list.EnumerateArray().Select(e => e.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task Experiment_get_update_delete_restore()
    {
        var id = await CreateExperimentAsync();

        var shown = (await _cli.ClientAsync("experiments", "get", id)).AssertSuccess();
        Assert.Contains(id, shown.Stdout);

        var updated = (await _cli.ClientAsync(
            "experiments", "update", id, "--status", "finished", "--description", "converged", "-o", "json")).AssertSuccess().Json();
        Assert.Equal("finished", updated.GetProperty("status").GetString());
        Assert.Equal("converged", updated.GetProperty("description").GetString());
        Assert.True(updated.TryGetProperty("ended_at", out _));

        var deleted = (await _cli.ClientAsync("experiments", "delete", id, "-o", "json")).AssertSuccess().Json();
        Assert.Equal(id, deleted.GetProperty("id").GetString());
        (await _cli.ClientAsync("experiments", "get", id)).AssertError(1, id);

        (await _cli.ClientAsync("experiments", "restore", id)).AssertSuccess();
        Assert.Equal("finished", (await _cli.ClientAsync("experiments", "get", id, "-o", "json")).AssertSuccess().Json().GetProperty("status").GetString());
    }

    [Fact]
    public async Task Checkpoints_create_list_get()
    {
        var experimentId = await CreateExperimentAsync();

        var created = (await _cli.ClientAsync(
            "checkpoints", "create", "--experiment-id", experimentId, "--epoch", "2", "--metric", "loss=0.5", "--metric", "acc=0.75", "-o", "json"))
            .AssertSuccess().Json();
        var checkpointId = created.GetProperty("id").GetString()!;
        Assert.StartsWith("ckpt-", checkpointId);
        Assert.Equal(2, created.GetProperty("epoch").GetInt64());
        Assert.Equal(0.5, created.GetProperty("metrics").GetProperty("loss").GetDouble());

        (await _cli.ClientAsync("checkpoints", "create", "--experiment-id", experimentId, "--epoch", "1")).AssertSuccess();

        var table = (await _cli.ClientAsync("checkpoints", "list", "--experiment-id", experimentId)).AssertSuccess();
        Assert.Contains(checkpointId, table.Stdout);
        Assert.Contains("acc=0.75, loss=0.5", table.Stdout);

        var list = (await _cli.ClientAsync("checkpoints", "list", "--experiment-id", experimentId, "-o", "json")).AssertSuccess().Json();
        Assert.Equal([1L, 2L], list.EnumerateArray().Select(c => c.GetProperty("epoch").GetInt64()));

        var shown = (await _cli.ClientAsync("checkpoints", "get", checkpointId)).AssertSuccess();
        Assert.Contains(experimentId, shown.Stdout);
    }

    [Fact]
    public async Task Models_and_model_versions()
    {
        var modelName = Unique("model");
        var model = (await _cli.ClientAsync(
            "models", "create", "--name", modelName, "--owner", "a@b.c", "--namespace", _namespace, "--task", "asr", "-o", "json")).AssertSuccess().Json();
        var modelId = model.GetProperty("id").GetString()!;
        Assert.StartsWith("mdl-", modelId);

        var models = (await _cli.ClientAsync("models", "list", "--namespace", _namespace)).AssertSuccess();
        Assert.Contains(modelName, models.Stdout);
        Assert.Contains(modelName, (await _cli.ClientAsync("models", "get", modelId)).AssertSuccess().Stdout);

        var version = (await _cli.ClientAsync(
            "model-versions", "create", "--model", modelId, "--version", "v1", "--name", "first", "--framework", "TRANSFORMERS",
            "--unique-tag", "production", "--unique-tag", "latest", "-o", "json")).AssertSuccess().Json();
        var versionId = version.GetProperty("id").GetString()!;
        Assert.StartsWith("mver-", versionId);
        Assert.Equal("transformers", version.GetProperty("framework").GetString());
        Assert.Equal(["latest", "production"], version.GetProperty("unique_tags").EnumerateArray().Select(t => t.GetString()).Order());

        var versions = (await _cli.ClientAsync("model-versions", "list", "--model", modelId)).AssertSuccess();
        Assert.Contains(versionId, versions.Stdout);
        Assert.Contains("production", versions.Stdout);
        Assert.Contains("first", (await _cli.ClientAsync("model-versions", "get", versionId)).AssertSuccess().Stdout);

        (await _cli.ClientAsync("model-versions", "delete", versionId)).AssertSuccess();
        Assert.Equal(0, (await _cli.ClientAsync("model-versions", "list", "--model", modelId, "-o", "json")).AssertSuccess().Json().GetArrayLength());
        (await _cli.ClientAsync("model-versions", "restore", versionId)).AssertSuccess();

        (await _cli.ClientAsync("models", "delete", modelId)).AssertSuccess();
        (await _cli.ClientAsync("models", "get", modelId)).AssertError(1, modelId);
        Assert.Equal(0, (await _cli.ClientAsync("list", "--namespace", _namespace, "-o", "json")).AssertSuccess().Json().GetArrayLength());
        (await _cli.ClientAsync("models", "restore", modelId)).AssertSuccess();
        Assert.Contains(versionId, (await _cli.ClientAsync("model-versions", "list", "--model", modelId)).AssertSuccess().Stdout);
    }

    [Fact]
    public async Task Namespaces_list_shows_the_namespace()
    {
        await CreateExperimentAsync();

        Assert.Contains(_namespace, (await _cli.ClientAsync("namespaces", "list")).AssertSuccess().Stdout);
        var json = (await _cli.ClientAsync("namespaces", "list", "-o", "json")).AssertSuccess().Json();
        Assert.Contains(json.EnumerateArray(), n => n.GetProperty("name").GetString() == _namespace);
    }

    [Fact]
    public async Task Server_errors_print_one_error_line_and_exit_1()
    {
        var id = "exp-" + Guid.NewGuid().ToString("N");

        (await _cli.ClientAsync("experiments", "get", id)).AssertError(1, id);
        (await _cli.ClientAsync("experiments", "create", "--name", "", "--namespace", _namespace)).AssertError(1, "name");
    }

    [Fact]
    public async Task Usage_errors_print_one_error_line_and_exit_2()
    {
        (await _cli.ClientAsync("experiments", "create", "--name", Unique("x"), "--framework", "caffe")).AssertError(2, "pytorch");
        (await _cli.ClientAsync("experiments", "create", "--owner", "x")).AssertError(2, "'--name' is required");
        (await _cli.ClientAsync("experiments", "frobnicate")).AssertError(2, "frobnicate");
        (await _cli.ClientAsync("experiments", "update", "exp-0", "--status", "paused")).AssertError(2, "--status");
        (await _cli.ClientAsync("experiments", "update", "exp-0")).AssertError(2, "nothing to update");
        (await _cli.ClientAsync("checkpoints", "create", "--experiment-id", "exp-0", "--epoch", "1", "--metric", "loss")).AssertError(2, "key=value");
        (await _cli.ClientAsync("checkpoints", "create", "--experiment-id", "exp-0", "--epoch", "1", "--metric", "loss=low")).AssertError(2, "not a number");
    }

    [Fact]
    public async Task An_unreachable_server_is_named_in_the_error()
    {
        var address = $"127.0.0.1:{ModelBoxExecutable.FreePort()}";

        var result = await CliRunner.RunAsync(["client", "--server-addr", address, "experiments", "list", "--namespace", "langtech"]);

        result.AssertError(1, $"cannot reach ModelBox server at {address}");
    }

    private async Task<string> CreateExperimentAsync()
    {
        var created = (await _cli.ClientAsync(
            "experiments", "create", "--namespace", _namespace, "--owner", "a@b.c", "--name", Unique("exp"), "--framework", "jax", "-o", "json")).AssertSuccess().Json();
        return created.GetProperty("id").GetString()!;
    }
}
