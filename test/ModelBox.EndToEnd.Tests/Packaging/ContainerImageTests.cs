using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using ModelBox.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Packaging;

/// <summary>
/// The container image the .NET SDK builds (`dotnet publish -r linux-x64 /t:PublishContainer` to a tarball, no daemon),
/// checked as a runtime sees it (user, ports, entrypoint, data folder) and then run with Debian's podman (test.sh installs
/// it, with runc), reached through the published ports by the SDK, with the documented health probe run inside it.
/// </summary>
[Collection(PackagingCollection.Name)]
public sealed class ContainerImageTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("modelbox-container-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task The_sdk_built_image_runs_as_non_root_with_its_ports_and_serves_through_podman()
    {
        var archive = Path.Combine(_work, "modelbox.tar.gz");
        await using (var registry = await LocalBaseImageRegistry.StartAsync())
        {
            // The documented command, with the base image from the loopback registry (this machine reaches no public one) and
            // the single file (ReadyToRun) inside, as build/dist.sh makes it.
            await DotnetCommand.RunAsync(
                ["publish", "src/ModelBox/ModelBox.csproj", "-c", "Release", "-r", "linux-x64", "/t:PublishContainer", "-p:PublishSingleFile=true",
                 $"-p:ContainerArchiveOutputPath={archive}", $"-p:ContainerBaseImage={registry.BaseImage}", "-nologo"],
                environment: new Dictionary<string, string> { ["DOTNET_CONTAINER_INSECURE_REGISTRIES"] = registry.Registry });
        }

        var config = ReadImageConfig(archive).GetProperty("config");
        Assert.Equal("1654", config.GetProperty("User").GetString());
        Assert.Equal(["2112/tcp", "8081/tcp", "8085/tcp"], config.GetProperty("ExposedPorts").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(["/app/modelbox"], config.GetProperty("Entrypoint").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["server", "start"], config.GetProperty("Cmd").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("MODELBOX_DATA_DIR=/home/app/modelbox-data", config.GetProperty("Env").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("/app/", config.GetProperty("WorkingDir").GetString()?.TrimEnd('/') + "/");

        await RunWithPodmanAsync(archive);
    }

    private async Task RunWithPodmanAsync(string archive)
    {
        // This machine (and CI, a container itself) lets podman set no resource limits and has hybrid cgroups, which crun
        // refuses: the defaults are dropped and runc runs the container.
        var containersConf = Path.Combine(_work, "containers.conf");
        await File.WriteAllTextAsync(containersConf, "[containers]\ndefault_ulimits = []\n[engine]\nruntime = \"runc\"\n");
        var environment = new Dictionary<string, string> { ["CONTAINERS_CONF"] = containersConf };
        var loaded = await DotnetCommand.RunToolAsync("podman", ["load", "-q", "-i", archive], _work, environment);
        var image = loaded.Trim().Split(':', 2)[1].Trim();
        var name = "modelbox-test-" + Guid.NewGuid().ToString("N")[..8];
        var volume = name + "-data";
        var grpcPort = ModelBoxExecutable.FreePort();
        var httpPort = ModelBoxExecutable.FreePort();
        try
        {
            await DotnetCommand.RunToolAsync("podman",
                ["run", "-d", "--name", name, "-p", $"127.0.0.1:{grpcPort}:8085", "-p", $"127.0.0.1:{httpPort}:8081", "-v", $"{volume}:/home/app", image],
                _work, environment);

            await using var client = new ModelBoxClient($"127.0.0.1:{grpcPort}");
            var status = await WaitUntilServingAsync(client, name, environment);
            Assert.Equal("SERVING", status.Status);
            var created = await client.CreateExperimentAsync("in-a-container", "you@example.com", "containers", Framework.PyTorch);
            Assert.False(created.AlreadyExisted);
            using (var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") })
            {
                Assert.Contains("in-a-container", await http.GetStringAsync("/api/v1/namespaces/containers/experiments"), StringComparison.Ordinal);
            }

            // The probe docs/deployment.md gives for orchestrators, and the process runs as the app user on the volume.
            var health = await DotnetCommand.RunToolAsync("podman", ["exec", name, "/app/modelbox", "client", "health"], _work, environment);
            Assert.Contains("SERVING", health, StringComparison.Ordinal);
            var user = await DotnetCommand.RunToolAsync("podman", ["inspect", "--format", "{{.Config.User}}", name], _work, environment);
            Assert.Equal("1654", user.Trim());
            await DotnetCommand.RunToolAsync("podman", ["stop", "-t", "30", name], _work, environment);
            var exitCode = await DotnetCommand.RunToolAsync("podman", ["inspect", "--format", "{{.State.ExitCode}}", name], _work, environment);
            Assert.Equal("0", exitCode.Trim());
        }
        finally
        {
            await DotnetCommand.TryRunAsync("podman", ["rm", "-f", name], _work, environment);
            await DotnetCommand.TryRunAsync("podman", ["volume", "rm", "-f", volume], _work, environment);
            await DotnetCommand.TryRunAsync("podman", ["rmi", "-f", image], _work, environment);
        }
    }

    private async Task<ServerStatus> WaitUntilServingAsync(ModelBoxClient client, string name, IReadOnlyDictionary<string, string> environment)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        while (true)
        {
            try
            {
                return await client.GetServerStatusAsync(timeout.Token);
            }
            catch (ModelBoxUnavailableException) when (!timeout.IsCancellationRequested)
            {
                var state = await DotnetCommand.RunToolAsync("podman", ["inspect", "--format", "{{.State.Status}}", name], _work, environment);
                if (state.Trim() != "running")
                {
                    var (_, logs, errors) = await DotnetCommand.TryRunAsync("podman", ["logs", name], _work, environment);
                    Assert.Fail($"the container stopped ({state.Trim()}):\n{logs}\n{errors}");
                }

                await Task.Delay(200, timeout.Token);
            }
        }
    }

    private static bool IsGzip(string path)
    {
        Span<byte> magic = stackalloc byte[2];
        using var file = File.OpenRead(path);
        return file.Read(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    /// <summary>The image's config JSON, found through the archive's manifest.json as `podman load` and `docker load` find it.</summary>
    private static JsonElement ReadImageConfig(string archive)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        // The SDK writes a plain tar whatever the name says; a gzipped one (as `docker save | gzip`) reads as well.
        using (var stream = File.OpenRead(archive))
        using (var content = IsGzip(archive) ? new GZipStream(stream, CompressionMode.Decompress) : (Stream)stream)
        using (var reader = new TarReader(content))
        {
            while (reader.GetNextEntry() is { } entry)
            {
                if (entry.DataStream is not null && entry.Name.EndsWith(".json", StringComparison.Ordinal))
                {
                    using var copy = new MemoryStream();
                    entry.DataStream.CopyTo(copy);
                    files[entry.Name] = copy.ToArray();
                }
            }
        }

        Assert.True(files.ContainsKey("manifest.json"), $"no manifest.json in {archive}: {string.Join(", ", files.Keys)}");
        using var manifest = JsonDocument.Parse(files["manifest.json"]);
        var configName = manifest.RootElement[0].GetProperty("Config").GetString()!;
        using var config = JsonDocument.Parse(files[configName]);
        return config.RootElement.Clone();
    }
}

/// <summary>The tests that publish src/ModelBox for linux-x64 share its obj/ folder, so they run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class PackagingCollection
{
    public const string Name = "packaging";
}
