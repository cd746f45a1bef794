using System.Text.Json;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Cli;

[Collection(ServerCollection.Name)]
public sealed class ChangeCliTests(ModelBoxServerFixture server)
{
    private readonly CliRunner _cli = new(server);
    private readonly string _namespace = "cli-watch-" + Guid.NewGuid().ToString("N")[..12];

    [Fact]
    public async Task Metadata_set_get_and_delete()
    {
        var id = await CreateExperimentAsync("meta");

        var set = (await _cli.ClientAsync("metadata", "set", "--parent-id", id, "lr=0.01", "dataset=librispeech", "layers=[1,2]", "--output", "json"))
            .AssertSuccess().Json();
        (await _cli.ClientAsync("metadata", "delete", "--parent-id", id, "--key", "layers")).AssertSuccess();
        var got = (await _cli.ClientAsync("metadata", "get", "--parent-id", id, "--output", "json")).AssertSuccess().Json();
        var table = (await _cli.ClientAsync("metadata", "get", "--parent-id", id)).AssertSuccess().Stdout;

        Assert.Equal(3, set.GetProperty("num_keys_written").GetInt32());
        Assert.Equal(0.01, got.GetProperty("lr").GetDouble());
        Assert.Equal("librispeech", got.GetProperty("dataset").GetString());
        Assert.False(got.TryGetProperty("layers", out _));
        Assert.Contains("\"librispeech\"", table, StringComparison.Ordinal);
        (await _cli.ClientAsync("metadata", "get", "--parent-id", "mdl-00000000000000000000000000000000")).AssertError(1, "not found");
        (await _cli.ClientAsync("metadata", "set", "--parent-id", id, "novalue")).AssertError(2, "key=value");
    }

    [Fact]
    public async Task Events_log_and_list_with_since()
    {
        var id = await CreateExperimentAsync("events");

        (await _cli.ClientAsync("events", "log", "--parent-id", id, "--name", "started", "--source", "slurm", "--time", "2024-05-01T12:00:00Z")).AssertSuccess();
        (await _cli.ClientAsync("events", "log", "--parent-id", id, "--name", "finished", "--time", "2024-05-01T13:00:00Z")).AssertSuccess();
        var all = (await _cli.ClientAsync("events", "list", "--parent-id", id, "--output", "json")).AssertSuccess().Json();
        var since = (await _cli.ClientAsync("events", "list", "--parent-id", id, "--since", "2024-05-01T12:30:00Z", "--output", "json")).AssertSuccess().Json();

        Assert.Equal(["started", "finished"], all.EnumerateArray().Select(e => e.GetProperty("name").GetString()));
        Assert.Equal("slurm", all[0].GetProperty("source").GetString());
        Assert.Equal(["finished"], since.EnumerateArray().Select(e => e.GetProperty("name").GetString()));
        (await _cli.ClientAsync("events", "list", "--parent-id", id, "--since", "yesterday")).AssertError(2, "--since");
    }

    [Fact]
    public async Task Watch_prints_one_json_line_per_change_and_keeps_running()
    {
        var id = await CreateExperimentAsync("watched");
        using var process = ModelBoxExecutable.Start(["client", "--server-addr", server.HostPort, "watch", "--namespace", _namespace]);
        try
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var first = JsonDocument.Parse((await process.StandardOutput.ReadLineAsync(cancel.Token))!).RootElement;
            await _cli.ClientAsync("experiments", "delete", id);
            var second = JsonDocument.Parse((await process.StandardOutput.ReadLineAsync(cancel.Token))!).RootElement;

            Assert.Equal(("created", "experiment", id), (first.GetProperty("event").GetString(), first.GetProperty("object_kind").GetString(), first.GetProperty("object_id").GetString()));
            Assert.Equal("deleted", second.GetProperty("event").GetString());
            Assert.True(second.GetProperty("sequence").GetInt64() > first.GetProperty("sequence").GetInt64());
            Assert.Equal(_namespace, second.GetProperty("payload").GetProperty("namespace").GetString());
            Assert.False(process.HasExited);


            // --since resumes right after the given change.
            using var resumed = ModelBoxExecutable.Start(
                ["client", "--server-addr", server.HostPort, "watch", "--namespace", _namespace, "--since", first.GetProperty("sequence").GetRawText()]);
            try
            {
                var next = JsonDocument.Parse((await resumed.StandardOutput.ReadLineAsync(cancel.Token))!).RootElement;
                Assert.Equal(second.GetProperty("sequence").GetInt64(), next.GetProperty("sequence").GetInt64());
            }
            finally
            {
                resumed.Kill(entireProcessTree: true);
                await resumed.WaitForExitAsync();
            }
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private async Task<string> CreateExperimentAsync(string prefix) =>
        (await _cli.ClientAsync("experiments", "create", "--namespace", _namespace, "--name", $"{prefix}-{Guid.NewGuid():N}", "--output", "json"))
            .AssertSuccess().Json().GetProperty("id").GetString()!;
}
