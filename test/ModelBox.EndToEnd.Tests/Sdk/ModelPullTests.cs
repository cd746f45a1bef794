using ModelBox.Client;
using ModelBox.EndToEnd.Tests.Cli;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Examples.InferenceService;

namespace ModelBox.EndToEnd.Tests.Sdk;

/// <summary>Loading models into services: pull by alias through the verified cache, the CLI pull, and the example service's swap.</summary>
[Collection(ServerCollection.Name)]
public sealed class ModelPullTests(ModelBoxServerFixture server) : SdkTestBase(server), IDisposable
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);
    private readonly string _work = Directory.CreateTempSubdirectory("modelbox-pull-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private async Task<(Model Model, ModelVersion V1, ModelVersion V2)> TwoVersionsAsync(string name)
    {
        var model = (await Client.CreateModelAsync(name, "ops", Namespace)).Value;
        var versions = new List<ModelVersion>();
        foreach (var label in new[] { "1", "2" })
        {
            var version = (await Client.CreateModelVersionAsync(model.Id, label)).Value;
            var source = Path.Combine(_work, $"weights-{label}.txt");
            await File.WriteAllTextAsync(source, $"weights-{label}");
            await Client.UploadFileAsync(version.Id, source, FileKind.Model);
            versions.Add(version);
        }

        return (model, versions[0], versions[1]);
    }

    [Fact]
    public async Task Pull_by_alias_verifies_caches_and_reuses_files_and_concurrent_pulls_agree()
    {
        var (model, v1, _) = await TwoVersionsAsync("pulled");
        await Client.SetAliasAsync(model.Id, "production", v1.Id);
        var cache = Path.Combine(_work, "cache");

        var pulls = await Task.WhenAll(Enumerable.Range(0, 4).Select(i =>
            Client.PullModelAsync($"{Namespace}/pulled@production", Path.Combine(_work, $"out-{i}"), cache)));
        Assert.All(pulls, p => Assert.Equal(v1.Id, p.Version.Id));
        var cached = pulls[0].Files.Single().CachePath;
        Assert.All(pulls, p => Assert.Equal(cached, p.Files.Single().CachePath));
        Assert.All(pulls, p => Assert.Equal("weights-1", File.ReadAllText(p.Files.Single().LocalPath)));
        Assert.Empty(Directory.GetFiles(cache, "*.tmp", SearchOption.AllDirectories));

        // A cached file is reused, not downloaded again: a file changed in the cache stays as it is.
        await File.WriteAllTextAsync(cached, "weights-1");
        var before = File.GetLastWriteTimeUtc(cached);
        var again = await new ModelCache(Client, cache).PullAsync($"{Namespace}/pulled:1");
        Assert.Equal(before, File.GetLastWriteTimeUtc(again.Files.Single().CachePath));
    }

    [Fact]
    public async Task Cli_pull_writes_the_files_of_the_alias_into_the_folder()
    {
        var (model, _, v2) = await TwoVersionsAsync("cli-pulled");
        await Client.SetAliasAsync(model.Id, "staging", v2.Id);
        var dir = Path.Combine(_work, "cli-out");
        var result = await new CliRunner(Server).ClientAsync(
            "models", "pull", $"{Namespace}/cli-pulled@staging", "--dir", dir, "--cache-dir", Path.Combine(_work, "cli-cache"), "--output", "json");
        var json = result.AssertSuccess().Json();
        Assert.Equal(v2.Id, json.GetProperty("version_id").GetString());
        var path = json.GetProperty("files")[0].GetProperty("path").GetString()!;
        Assert.Equal(dir, Path.GetDirectoryName(path));
        Assert.Equal("weights-2", await File.ReadAllTextAsync(path));
        (await new CliRunner(Server).ClientAsync("models", "pull", $"{Namespace}/cli-pulled@nothing", "--dir", dir)).AssertError(1, "not found");
    }

    [Fact]
    public async Task Pull_places_what_it_can_skips_unsafe_names_tracked_files_and_repeated_names_and_fails_only_when_strict()
    {
        var model = (await Client.CreateModelAsync("mixed", "ops", Namespace)).Value;
        var version = (await Client.CreateModelVersionAsync(model.Id, "1")).Value;
        async Task UploadAsync(string path, string content)
        {
            using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(content));
            await Client.UploadFileAsync(version.Id, stream, path, FileKind.Model);
        }

        await UploadAsync("weights.bin", "weights");
        await UploadAsync("..", "dot-dot");
        await UploadAsync("a/config.json", "first config");
        await UploadAsync("b/config.json", "second config");
        await Client.TrackArtifactsAsync([new TrackedFile { ParentId = version.Id, Kind = FileKind.Model, Path = "remote.bin", Uri = "s3://lake/remote.bin" }]);
        var dir = Path.Combine(_work, "mixed-out");
        var cli = new CliRunner(Server);
        var args = new[] { "models", "pull", $"{Namespace}/mixed:1", "--dir", dir, "--cache-dir", Path.Combine(_work, "mixed-cache") };

        var lenient = await cli.ClientAsync([.. args, "--output", "json"]);
        var strict = await cli.ClientAsync([.. args, "--strict"]);

        Assert.Equal(0, lenient.ExitCode);
        var json = lenient.Json();
        Assert.Equal(["config.json", "weights.bin"], Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal("weights", await File.ReadAllTextAsync(Path.Combine(dir, "weights.bin")));
        Assert.Equal(2, json.GetProperty("files").GetArrayLength());
        var reasons = json.GetProperty("skipped").EnumerateArray().ToDictionary(s => s.GetProperty("path").GetString()!, s => s.GetProperty("reason").GetString()!);
        Assert.Equal(3, reasons.Count);
        Assert.Contains("not a file name", reasons[".."], StringComparison.Ordinal);
        Assert.Contains("s3://lake/remote.bin", reasons["remote.bin"], StringComparison.Ordinal);
        Assert.Contains("already placed as 'config.json'", reasons.Single(r => r.Key.EndsWith("config.json", StringComparison.Ordinal)).Value, StringComparison.Ordinal);
        Assert.Equal(3, lenient.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.StartsWith("warning: skipped ", StringComparison.Ordinal)));
        Assert.True(Directory.Exists(_work)); // ".." wrote nothing above the folder

        Assert.Equal(1, strict.ExitCode);
        Assert.Contains("3 file(s)", strict.Stderr, StringComparison.Ordinal);
        Assert.Contains("--strict", strict.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_example_service_loads_by_alias_and_swaps_when_the_alias_moves()
    {
        var (model, v1, v2) = await TwoVersionsAsync("served");
        await Client.SetAliasAsync(model.Id, "production", v1.Id);

        await using var host = new AliasedModelHost(Client, $"{Namespace}/served@production", Path.Combine(_work, "service-cache"));
        var swappedToV2 = new TaskCompletionSource<LoadedModel>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Swapped += loaded =>
        {
            if (loaded.Version.Id == v2.Id)
            {
                swappedToV2.TrySetResult(loaded);
            }
        };
        await host.StartAsync();
        Assert.Equal("weights-1(x) by 1", await host.PredictAsync("x"));

        await Client.SetAliasAsync(model.Id, "production", v2.Id);
        var loaded = await swappedToV2.Task.WaitAsync(HangGuard);
        Assert.Equal(v2.Id, loaded.Version.Id);
        Assert.Equal("weights-2(y) by 2", await host.PredictAsync("y"));
    }
}
