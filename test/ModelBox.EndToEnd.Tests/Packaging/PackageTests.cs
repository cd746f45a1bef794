using System.IO.Compression;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Packaging;

/// <summary>
/// The NuGet packages as a user gets them: the SDK (ModelBox.Client, with ModelBox.Protocol) consumed from a local folder
/// feed by a fresh console project that runs the SDK README's snippet, and the CLI as a .NET tool. Each packs the
/// Release build `dotnet test` just made (--no-build), and restores into its own package folder, so nothing cached
/// from an earlier run (or the repository's own restore) stands in for the package under test.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed partial class PackageTests(ModelBoxServerFixture server) : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("modelbox-packages-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task The_sdk_package_from_a_local_feed_runs_its_readme_snippet_in_a_fresh_project()
    {
        var feed = Path.Combine(_work, "feed");
        await PackAsync("src/ModelBox.Protocol/ModelBox.Protocol.csproj", feed);
        await PackAsync("src/ModelBox.Client/ModelBox.Client.csproj", feed);

        // The package a user browses: README, XML docs next to the assembly, where it came from, and its one ModelBox dependency.
        using (var package = ZipFile.OpenRead(Path.Combine(feed, "ModelBox.Client.0.1.0.nupkg")))
        {
            var entries = package.Entries.Select(e => e.FullName).ToList();
            Assert.Contains("README.md", entries);
            Assert.Contains("lib/net10.0/ModelBox.Client.dll", entries);
            Assert.Contains("lib/net10.0/ModelBox.Client.xml", entries);
            var nuspec = XDocument.Load(package.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
            var ns = nuspec.Root!.Name.Namespace;
            var metadata = nuspec.Root.Element(ns + "metadata")!;
            Assert.Equal("README.md", metadata.Element(ns + "readme")?.Value);
            var repository = metadata.Element(ns + "repository");
            Assert.NotNull(repository);
            Assert.Equal("git", repository.Attribute("type")?.Value);
            Assert.Matches("^[0-9a-f]{40}$", repository.Attribute("commit")?.Value ?? "");
            Assert.Contains(metadata.Descendants(ns + "dependency"), d => d.Attribute("id")?.Value == "ModelBox.Protocol");
        }

        Assert.True(File.Exists(Path.Combine(feed, "ModelBox.Client.0.1.0.snupkg")), "the symbols package is missing");

        // A fresh console project outside the repository (no Directory.*.props of ours apply), ModelBox.* from the feed only.
        var app = Path.Combine(_work, "app");
        await DotnetCommand.RunAsync(["new", "console", "-o", app, "-n", "SdkReadme", "--no-restore"], _work);
        await File.WriteAllTextAsync(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="local"><package pattern="ModelBox.*" /></packageSource>
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        var project = Path.Combine(app, "SdkReadme.csproj");
        var csproj = await File.ReadAllTextAsync(project);
        await File.WriteAllTextAsync(project, csproj.Replace("</Project>",
            "  <ItemGroup>\n    <PackageReference Include=\"ModelBox.Client\" Version=\"0.1.0\" />\n  </ItemGroup>\n</Project>", StringComparison.Ordinal));
        var readme = await File.ReadAllTextAsync(Path.Combine(DotnetCommand.RepositoryRoot, "src", "ModelBox.Client", "README.md"));
        var snippet = SnippetPattern().Match(readme);
        Assert.True(snippet.Success, "src/ModelBox.Client/README.md has no ```csharp snippet");
        // The documented address is the default one; the test's server listens elsewhere.
        await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"),
            snippet.Groups[1].Value.Replace("\"localhost:8085\"", $"\"{server.HostPort}\"", StringComparison.Ordinal));

        var packages = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(_work, "packages") };
        var output = await DotnetCommand.RunAsync(["run", "--project", app, "-c", "Release"], app, packages, TimeSpan.FromMinutes(10));

        Assert.Contains("wav2vec-lid Running", output, StringComparison.Ordinal);
        Assert.Contains("train/loss: 3 points", output, StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.Combine(_work, "packages", "modelbox.client", "0.1.0")), "ModelBox.Client was not restored from the feed");
    }

    [Fact]
    public async Task The_cli_installs_as_a_dotnet_tool_and_talks_to_a_server()
    {
        var feed = Path.Combine(_work, "feed");
        await PackAsync("src/ModelBox/ModelBox.csproj", feed);
        var tools = Path.Combine(_work, "tools");
        var environment = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(_work, "packages") };

        await DotnetCommand.RunAsync(["tool", "install", "--tool-path", tools, "--add-source", feed, "modelbox"], _work, environment, TimeSpan.FromMinutes(10));

        var modelbox = Path.Combine(tools, "modelbox");
        var version = await DotnetCommand.RunToolAsync(modelbox, ["--version"], _work, environment);
        Assert.StartsWith("0.1.0", version.Trim(), StringComparison.Ordinal);
        var created = await DotnetCommand.RunToolAsync(modelbox,
            ["client", "--server-addr", server.HostPort, "experiments", "create", "--namespace", "tool-install", "--name", "from-the-tool", "-o", "json"],
            _work, environment);
        Assert.Contains("from-the-tool", created, StringComparison.Ordinal);
        Assert.Contains("exp-", created, StringComparison.Ordinal);
        var list = await DotnetCommand.RunToolAsync(modelbox, ["client", "--server-addr", server.HostPort, "experiments", "list", "--namespace", "tool-install"],
            _work, environment);
        Assert.Contains("from-the-tool", list, StringComparison.Ordinal);
    }

    private static Task PackAsync(string project, string feed) =>
        DotnetCommand.RunAsync(["pack", project, "-c", "Release", "--no-build", "-o", feed, "-nologo"], timeout: TimeSpan.FromMinutes(10));

    [GeneratedRegex("```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex SnippetPattern();
}
