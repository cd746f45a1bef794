using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Cli;

[Collection(ServerCollection.Name)]
public sealed class MetricCliTests(ModelBoxServerFixture server)
{
    private readonly CliRunner _cli = new(server);

    [Fact]
    public async Task Metrics_log_then_get_as_json_and_as_a_table()
    {
        var id = (await _cli.ClientAsync("experiments", "create", "--namespace", "cli-metrics", "--owner", "a@b.c", "--name", "m-" + Guid.NewGuid().ToString("N"),
            "--output", "json")).AssertSuccess().Json().GetProperty("id").GetString()!;

        (await _cli.ClientAsync("metrics", "log", "--parent-id", id, "--key", "loss", "--value", "0.25", "--step", "1", "--time", "1714564800")).AssertSuccess();
        (await _cli.ClientAsync("metrics", "log", "--parent-id", id, "--key", "loss", "--value", "nan", "--step", "2")).AssertSuccess();
        (await _cli.ClientAsync("metrics", "log", "--parent-id", id, "--key", "lr", "--value", "0.001")).AssertSuccess();

        var json = (await _cli.ClientAsync("metrics", "get", "--parent-id", id, "--output", "json")).AssertSuccess().Json();
        var table = (await _cli.ClientAsync("metrics", "get", "--parent-id", id, "--key", "loss", "--max-points", "10")).AssertSuccess();

        Assert.Equal(["loss", "lr"], json.EnumerateArray().Select(s => s.GetProperty("key").GetString()));
        var loss = json[0].GetProperty("points");
        Assert.Equal(0.25, loss[0].GetProperty("value").GetDouble());
        Assert.Equal("double", loss[0].GetProperty("kind").GetString());
        Assert.Equal(1, loss[0].GetProperty("step").GetInt64());
        Assert.Equal("NaN", loss[1].GetProperty("value").GetString());
        Assert.Contains("NaN", table.Stdout, StringComparison.Ordinal);
        Assert.Contains("2024-05-01 12:00:00Z", table.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("lr", table.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_get_with_several_parents_reads_one_key_of_each_in_one_call()
    {
        var ids = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var id = (await _cli.ClientAsync("experiments", "create", "--namespace", "cli-metrics", "--owner", "a@b.c", "--name", "cmp-" + Guid.NewGuid().ToString("N"),
                "--output", "json")).AssertSuccess().Json().GetProperty("id").GetString()!;
            (await _cli.ClientAsync("metrics", "log", "--parent-id", id, "--key", "loss", "--value", (i + 0.5).ToString(System.Globalization.CultureInfo.InvariantCulture), "--step", "3")).AssertSuccess();
            ids.Add(id);
        }

        var table = (await _cli.ClientAsync("metrics", "get", "--parent-id", ids[0], "--parent-id", ids[1], "--key", "loss")).AssertSuccess().Stdout;
        var json = (await _cli.ClientAsync("metrics", "get", "--parent-id", ids[0], "--parent-id", ids[1], "--key", "loss", "--output", "json")).AssertSuccess().Json();
        var noKey = await _cli.ClientAsync("metrics", "get", "--parent-id", ids[0], "--parent-id", ids[1]);
        var badAxis = await _cli.ClientAsync("metrics", "get", "--parent-id", ids[0], "--key", "loss", "--x-axis", "epochs");

        Assert.Contains("PARENT", table, StringComparison.Ordinal);
        Assert.Contains(ids[0], table, StringComparison.Ordinal);
        Assert.Contains(ids[1], table, StringComparison.Ordinal);
        Assert.Equal(ids, json.EnumerateArray().Select(s => s.GetProperty("parent_id").GetString()!));
        Assert.Equal([0.5, 1.5], json.EnumerateArray().Select(s => s.GetProperty("points")[0].GetProperty("value").GetDouble()));
        Assert.Equal(2, noKey.ExitCode);
        Assert.Contains("--key is required", noKey.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, badAxis.ExitCode);
        Assert.Contains("--x-axis", badAxis.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_log_with_a_non_number_is_a_usage_error_and_an_unknown_parent_a_server_error()
    {
        var usage = await _cli.ClientAsync("metrics", "log", "--parent-id", "exp-x", "--key", "loss", "--value", "lots");
        var unknown = await _cli.ClientAsync("metrics", "get", "--parent-id", ModelBox.Domain.ObjectIds.Experiment("nowhere", "none"));

        Assert.Equal(2, usage.ExitCode);
        Assert.Contains("--value", usage.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, unknown.ExitCode);
        Assert.StartsWith("error:", unknown.Stderr, StringComparison.Ordinal);
    }
}
