using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Cli;

/// <summary>`artifacts download` and `artifacts delete` as a user types them: folders, missing parents, errors naming their path.</summary>
[Collection(ServerCollection.Name)]
public sealed class ArtifactTransferCliTests(ModelBoxServerFixture server) : IDisposable
{
    private readonly CliRunner _cli = new(server);
    private readonly string _work = Directory.CreateTempSubdirectory("modelbox-cli-transfer-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task Download_into_an_existing_folder_writes_the_files_own_name()
    {
        var (_, fileId, bytes) = await UploadAsync("weights.bin", 3000);
        var folder = Directory.CreateDirectory(Path.Combine(_work, "into")).FullName;

        var result = (await _cli.ClientAsync("artifacts", "download", "--id", fileId, "--path", folder)).AssertSuccess();

        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(folder, "weights.bin")));
        Assert.Contains(Path.Combine(folder, "weights.bin"), result.Stdout, StringComparison.Ordinal);
        Assert.Equal(["weights.bin"], Directory.GetFiles(folder).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Download_creates_missing_parent_folders()
    {
        var (_, fileId, bytes) = await UploadAsync("model.pt", 10);
        var target = Path.Combine(_work, "new", "deeper", "model-copy.pt");

        (await _cli.ClientAsync("artifacts", "download", "--id", fileId, "--path", target)).AssertSuccess();

        Assert.Equal(bytes, await File.ReadAllBytesAsync(target));
    }

    [Fact]
    public async Task A_failed_download_names_the_users_path_and_leaves_no_part_file()
    {
        var (_, fileId, _) = await UploadAsync("x.bin", 10);
        // A regular file where a folder of the path should be: the file system refuses.
        var blocker = Path.Combine(_work, "blocker");
        await File.WriteAllTextAsync(blocker, "not a folder");
        var target = Path.Combine(blocker, "x.bin");

        var result = await _cli.ClientAsync("artifacts", "download", "--id", fileId, "--path", target);

        result.AssertError(1, $"cannot write {target}: ");
        Assert.DoesNotContain("Exception", result.Stderr, StringComparison.Ordinal);
        Assert.Equal([blocker], Directory.GetFileSystemEntries(_work));

        var unknown = await _cli.ClientAsync("artifacts", "download", "--id", "file-0123456789abcdef0123456789abcdef", "--path", Path.Combine(_work, "none.bin"));
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Equal([blocker], Directory.GetFileSystemEntries(_work));
    }

    [Fact]
    public async Task Download_a_parents_files_as_a_folder_keeps_their_relative_paths()
    {
        var experiment = await NewExperimentAsync();
        var source = Path.Combine(_work, "run");
        Directory.CreateDirectory(Path.Combine(source, "logs"));
        await File.WriteAllTextAsync(Path.Combine(source, "a.txt"), "first");
        await File.WriteAllTextAsync(Path.Combine(source, "logs", "b.txt"), "second");
        (await _cli.ClientAsync("artifacts", "upload", "--parent-id", experiment, "--path", source)).AssertSuccess();
        var dir = Path.Combine(_work, "copy");

        var result = (await _cli.ClientAsync("artifacts", "download", "--parent-id", experiment, "--dir", dir)).AssertSuccess();

        Assert.Equal("first", await File.ReadAllTextAsync(Path.Combine(dir, "run", "a.txt")));
        Assert.Equal("second", await File.ReadAllTextAsync(Path.Combine(dir, "run", "logs", "b.txt")));
        Assert.Equal(2, result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        (await _cli.ClientAsync("artifacts", "download", "--parent-id", experiment)).AssertError(2, "--dir");
        (await _cli.ClientAsync("artifacts", "download", "--dir", dir)).AssertError(2, "either --id");
    }

    [Fact]
    public async Task Delete_removes_the_file_from_the_listing()
    {
        var (experiment, fileId, _) = await UploadAsync("gone.bin", 5);

        (await _cli.ClientAsync("artifacts", "delete", "--id", fileId)).AssertSuccess();

        var list = (await _cli.ClientAsync("artifacts", "list", "--parent-id", experiment)).AssertSuccess();
        Assert.DoesNotContain(fileId, list.Stdout, StringComparison.Ordinal);
        (await _cli.ClientAsync("artifacts", "delete", "--id", fileId)).AssertError(1, fileId);
    }

    private async Task<(string Experiment, string FileId, byte[] Bytes)> UploadAsync(string name, int size)
    {
        var experiment = await NewExperimentAsync();
        var sourceDir = Directory.CreateTempSubdirectory("modelbox-cli-source-").FullName;
        try
        {
            var bytes = new byte[size];
            Random.Shared.NextBytes(bytes);
            var path = Path.Combine(sourceDir, name);
            await File.WriteAllBytesAsync(path, bytes);
            var upload = (await _cli.ClientAsync("artifacts", "upload", "--parent-id", experiment, "--path", path, "--output", "json")).AssertSuccess().Json();
            return (experiment, upload[0].GetProperty("id").GetString()!, bytes);
        }
        finally
        {
            Directory.Delete(sourceDir, recursive: true);
        }
    }

    private async Task<string> NewExperimentAsync() =>
        (await _cli.ClientAsync("experiments", "create", "--name", "cli-transfer-" + Guid.NewGuid().ToString("N"), "--namespace", "cli-transfer", "--output", "json"))
            .AssertSuccess().Json().GetProperty("id").GetString()!;
}
