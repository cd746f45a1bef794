using System.Security.Cryptography;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Cli;

[Collection(ServerCollection.Name)]
public sealed class ArtifactCliTests(ModelBoxServerFixture server) : IDisposable
{
    private readonly CliRunner _cli = new(server);
    private readonly string _work = Directory.CreateTempSubdirectory("modelbox-cli-artifacts-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task Upload_a_directory_recursively_list_it_and_download_a_file_verified()
    {
        var experiment = await NewExperimentAsync();
        var dir = Path.Combine(_work, "run");
        Directory.CreateDirectory(Path.Combine(dir, "sub"));
        var a = RandomBytes(70_000);
        var b = RandomBytes(10);
        await File.WriteAllBytesAsync(Path.Combine(dir, "a.bin"), a);
        await File.WriteAllBytesAsync(Path.Combine(dir, "sub", "b.txt"), b);

        var upload = (await _cli.ClientAsync("artifacts", "upload", "--parent-id", experiment, "--path", dir, "--output", "json")).AssertSuccess().Json();

        Assert.Equal(["run/a.bin", "run/sub/b.txt"], upload.EnumerateArray().Select(f => f.GetProperty("path").GetString()));
        Assert.Equal(Convert.ToHexStringLower(MD5.HashData(a)), upload[0].GetProperty("checksum").GetString());

        var list = (await _cli.ClientAsync("artifacts", "list", "--parent-id", experiment)).AssertSuccess();
        Assert.Contains("run/sub/b.txt", list.Stdout, StringComparison.Ordinal);

        var target = Path.Combine(_work, "a-back.bin");
        var download = (await _cli.ClientAsync("artifacts", "download", "--id", upload[0].GetProperty("id").GetString()!, "--path", target)).AssertSuccess();
        Assert.Contains("checksum verified", download.Stdout, StringComparison.Ordinal);
        Assert.Equal(a, await File.ReadAllBytesAsync(target));
    }

    [Fact]
    public async Task Upload_prints_a_plain_line_per_file_when_redirected()
    {
        var experiment = await NewExperimentAsync();
        var file = Path.Combine(_work, "one.bin");
        await File.WriteAllBytesAsync(file, RandomBytes(5));

        var result = (await _cli.ClientAsync("artifacts", "upload", "--parent-id", experiment, "--path", file)).AssertSuccess();

        Assert.StartsWith($"uploaded {file} (5 B, md5 ", result.Stdout, StringComparison.Ordinal);
        Assert.Single(result.Stdout.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task Checkpoints_create_with_upload_attaches_the_file_bytes()
    {
        var experiment = await NewExperimentAsync();
        var file = Path.Combine(_work, "epoch7.pt");
        var data = RandomBytes(1234);
        await File.WriteAllBytesAsync(file, data);

        var checkpoint = (await _cli.ClientAsync("checkpoints", "create", "--experiment-id", experiment, "--epoch", "7", "--path", file, "--upload", "--output", "json"))
            .AssertSuccess().Json();

        var id = checkpoint.GetProperty("id").GetString()!;
        var files = (await _cli.ClientAsync("artifacts", "list", "--parent-id", id, "--output", "json")).AssertSuccess().Json();
        var stored = Assert.Single(files.EnumerateArray());
        Assert.Equal(1234, stored.GetProperty("size_bytes").GetInt64());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data)), stored.GetProperty("sha256").GetString());
        Assert.Equal(1, checkpoint.GetProperty("files").GetArrayLength());
    }

    [Fact]
    public async Task Errors_are_one_line_with_the_right_exit_code()
    {
        (await _cli.ClientAsync("artifacts", "upload", "--parent-id", await NewExperimentAsync(), "--path", Path.Combine(_work, "missing")))
            .AssertError(2, "neither a file nor a directory");
        (await _cli.ClientAsync("artifacts", "list", "--parent-id", Domain.ObjectIds.Experiment("nowhere", Guid.NewGuid().ToString())))
            .AssertError(1, "not found");
    }

    private async Task<string> NewExperimentAsync() =>
        (await _cli.ClientAsync("experiments", "create", "--name", "cli-art-" + Guid.NewGuid().ToString("N"), "--namespace", "cli-artifacts", "--output", "json"))
            .AssertSuccess().Json().GetProperty("id").GetString()!;

    private static byte[] RandomBytes(int count)
    {
        var data = new byte[count];
        Random.Shared.NextBytes(data);
        return data;
    }
}
