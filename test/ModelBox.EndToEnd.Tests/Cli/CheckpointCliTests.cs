using System.Security.Cryptography;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Cli;

/// <summary>`checkpoints create --path` with and without `--upload`, and what a repeated epoch answers.</summary>
[Collection(ServerCollection.Name)]
public sealed class CheckpointCliTests(ModelBoxServerFixture server) : IDisposable
{
    private readonly CliRunner _cli = new(server);
    private readonly string _work = Directory.CreateTempSubdirectory("modelbox-cli-checkpoints-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task Create_with_a_path_and_no_upload_records_a_reference_with_size_sha256_and_file_uri()
    {
        var experiment = await NewExperimentAsync();
        var file = Path.Combine(_work, "epoch3.pt");
        var data = RandomNumberGenerator.GetBytes(4321);
        await File.WriteAllBytesAsync(file, data);

        var checkpoint = (await _cli.ClientAsync("checkpoints", "create", "--experiment-id", experiment, "--epoch", "3", "--path", file, "-o", "json"))
            .AssertSuccess().Json();

        var files = (await _cli.ClientAsync("artifacts", "list", "--parent-id", checkpoint.GetProperty("id").GetString()!, "-o", "json")).AssertSuccess().Json();
        var reference = Assert.Single(files.EnumerateArray());
        Assert.Equal(4321, reference.GetProperty("size_bytes").GetInt64());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data)), reference.GetProperty("sha256").GetString());
        Assert.Equal(Convert.ToHexStringLower(MD5.HashData(data)), reference.GetProperty("checksum").GetString());
        Assert.Equal(new Uri(file).AbsoluteUri, reference.GetProperty("uri").GetString());
        Assert.StartsWith("file:///", reference.GetProperty("uri").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upload_on_an_existing_epoch_attaches_the_file_and_says_so()
    {
        var experiment = await NewExperimentAsync();
        (await _cli.ClientAsync("checkpoints", "create", "--experiment-id", experiment, "--epoch", "5", "--metric", "loss=0.5")).AssertSuccess();
        var file = Path.Combine(_work, "late.pt");
        await File.WriteAllBytesAsync(file, RandomNumberGenerator.GetBytes(100));

        var again = (await _cli.ClientAsync("checkpoints", "create", "--experiment-id", experiment, "--epoch", "5", "--metric", "loss=0.1", "--path", file, "--upload"))
            .AssertSuccess();

        Assert.Contains("already had a checkpoint at epoch 5: its metrics and metadata were kept, and 1 file was uploaded and attached to it", again.Stdout);
        var checkpoint = (await _cli.ClientAsync("checkpoints", "list", "--experiment-id", experiment, "-o", "json")).AssertSuccess().Json()[0];
        Assert.Equal(0.5, checkpoint.GetProperty("metrics").GetProperty("loss").GetDouble());
        var stored = Assert.Single(checkpoint.GetProperty("files").EnumerateArray());
        Assert.Equal(100, stored.GetProperty("size_bytes").GetInt64());

        var unchanged = (await _cli.ClientAsync("checkpoints", "create", "--experiment-id", experiment, "--epoch", "5")).AssertSuccess();
        Assert.Contains("already had a checkpoint at epoch 5; nothing was changed", unchanged.Stdout);
    }

    [Theory]
    [InlineData("http")]
    [InlineData("metrics")]
    public async Task A_client_pointed_at_an_http_port_says_so_in_one_line(string listener)
    {
        var address = new Uri(listener == "http" ? server.HttpAddress : server.PrometheusAddress).Authority;

        // Several fresh processes: a cold client's HTTP handler sometimes loses the listener's HTTP_1_1_REQUIRED answer
        // (about one run in seven before the client learned to ask over HTTP/1.1), and every run must say the same.
        for (var run = 0; run < 6; run++)
        {
            var result = await CliRunner.RunAsync(["client", "--server-addr", address, "experiments", "list", "--namespace", "langtech"]);

            result.AssertError(1, $"{address} answers HTTP/1.1, not gRPC: it is ModelBox's REST/web port (default 8081) or the metrics port (2112)");
        }
    }

    private async Task<string> NewExperimentAsync() =>
        (await _cli.ClientAsync("experiments", "create", "--name", "ckpt-" + Guid.NewGuid().ToString("N")[..8], "--namespace", "cli-checkpoints", "-o", "json"))
        .AssertSuccess().Json().GetProperty("id").GetString()!;
}
