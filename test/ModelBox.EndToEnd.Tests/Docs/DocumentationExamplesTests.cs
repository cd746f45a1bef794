using System.Text;
using System.Text.RegularExpressions;
using ModelBox.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.EndToEnd.Tests.Packaging;

namespace ModelBox.EndToEnd.Tests.Docs;

/// <summary>
/// Every shell block of README.md, docs/*.md and the SDK's README runs, as written, against a real server, so the
/// documentation cannot rot. The convention (docs/architecture.md#documentation-examples):
/// <list type="bullet">
/// <item>```sh blocks are commands and run here, in file order, with bash -e (a failing line fails the test); `modelbox`
/// is the built executable and `curl` fails on an HTTP error; localhost:8085 and localhost:8081 are this server's gRPC and
/// HTTP listeners; $EXPERIMENT_ID, $CHECKPOINT_ID, $MODEL_ID, $VERSION_ID and $FILE_ID name objects the test made (the
/// model is langtech/wav2vec; the files model.bin, ckpt.pt and logs/ exist).</item>
/// <item>```sh manual blocks are commands this test cannot run (they start a server, need PostgreSQL, run the test
/// suite): each `modelbox` command in them must exist (its --help succeeds), and each test filter must name a test.</item>
/// <item>Everything else carries its language (toml, sql, csharp, text for output and diagrams); a bare ``` fails.</item>
/// </list>
/// </summary>
public sealed partial class DocumentationExamplesTests : IClassFixture<ModelBoxServerFixture>, IDisposable
{
    private static readonly string[] CommandLanguages = ["sh", "bash", "shell", "console"];

    /// <summary>namespace.Class of every class under test/.</summary>
    private static readonly Lazy<List<string>> TestClassNames = new(() =>
        Directory.EnumerateFiles(Path.Combine(DotnetCommand.RepositoryRoot, "test"), "*.cs", SearchOption.AllDirectories)
            .SelectMany(file =>
            {
                var text = File.ReadAllText(file);
                var ns = NamespacePattern().Match(text).Groups[1].Value;
                return ClassPattern().Matches(text).Select(c => $"{ns}.{c.Groups[1].Value}");
            })
            .ToList());

    private readonly ModelBoxServerFixture _server;
    private readonly string _work = Directory.CreateTempSubdirectory("modelbox-docs-").FullName;

    public DocumentationExamplesTests(ModelBoxServerFixture server) => _server = server;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    public static TheoryData<string> Documents()
    {
        var root = DotnetCommand.RepositoryRoot;
        var data = new TheoryData<string> { "README.md", "src/ModelBox.Client/README.md" };
        foreach (var doc in Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(root, doc).Replace('\\', '/'));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public async Task Every_command_block_runs_against_a_real_server(string document)
    {
        var blocks = CodeBlocks(await File.ReadAllTextAsync(Path.Combine(DotnetCommand.RepositoryRoot, document)));
        var unlabeled = blocks.Where(b => b.Language.Length == 0).Select(b => $"{document}:{b.Line}").ToList();
        Assert.True(unlabeled.Count == 0,
            $"code blocks without a language: {string.Join(", ", unlabeled)}; use ```sh for a command (run by this test), ```sh manual for one it cannot run, ```text for output or diagrams");

        var environment = await PrepareAsync();
        foreach (var block in blocks.Where(b => CommandLanguages.Contains(b.Language)))
        {
            if (block.Manual)
            {
                await CheckManualBlockAsync(document, block, environment);
                continue;
            }

            var script = block.Code
                .Replace("localhost:8085", _server.HostPort, StringComparison.Ordinal)
                .Replace("localhost:8081", new Uri(_server.HttpAddress).Authority, StringComparison.Ordinal);
            var (exitCode, stdout, stderr) = await DotnetCommand.TryRunAsync("bash", ["-e", "-o", "pipefail", "-c", script], _work, environment,
                TimeSpan.FromMinutes(3));
            Assert.True(exitCode == 0, $"{document}:{block.Line}: the block failed (exit {exitCode}):\n{block.Code}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        }
    }

    /// <summary>The objects and files the examples name, and `modelbox`/`curl` on PATH.</summary>
    private async Task<Dictionary<string, string>> PrepareAsync()
    {
        await using var client = new ModelBoxClient(_server.HostPort);
        var experiment = (await client.CreateExperimentAsync("wav2vec-lid", "your@email.com", "langtech", Framework.PyTorch)).Value;
        var checkpoint = (await client.CreateCheckpointAsync(experiment.Id, 1)).Value;
        var model = (await client.CreateModelAsync("wav2vec", "diptanuc@gmail.com", "langtech", "asr", "English ASR")).Value;
        var version = (await client.CreateModelVersionAsync(model.Id, "0.9", framework: Framework.PyTorch)).Value;
        await File.WriteAllTextAsync(Path.Combine(_work, "model.bin"), "weights");
        await File.WriteAllTextAsync(Path.Combine(_work, "ckpt.pt"), "checkpoint");
        Directory.CreateDirectory(Path.Combine(_work, "logs"));
        await File.WriteAllTextAsync(Path.Combine(_work, "logs", "train.log"), "step 1");
        await client.UploadFileAsync(version.Id, Path.Combine(_work, "model.bin"), FileKind.Model);
        var file = await client.UploadFileAsync(experiment.Id, Path.Combine(_work, "model.bin"), FileKind.Undefined);

        var bin = Path.Combine(_work, ".bin");
        ModelBoxExecutable.WriteWrapper(bin);
        ModelBoxExecutable.WriteScript(Path.Combine(bin, "curl"), "#!/bin/sh\nexec /usr/bin/curl --fail-with-body -sS \"$@\"\n");
        return new Dictionary<string, string>
        {
            ["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH"),
            ["HOME"] = _work,
            ["MODELBOX_SERVER_ADDR"] = _server.HostPort,
            ["EXPERIMENT_ID"] = experiment.Id,
            ["CHECKPOINT_ID"] = checkpoint.Id,
            ["MODEL_ID"] = model.Id,
            ["VERSION_ID"] = version.Id,
            ["FILE_ID"] = file.Id,
        };
    }

    private static async Task CheckManualBlockAsync(string document, CodeBlock block, IReadOnlyDictionary<string, string> environment)
    {
        foreach (var line in block.Code.Split('\n'))
        {
            var command = CommandPattern().Match(line);
            if (command.Success)
            {
                var words = command.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var (exitCode, stdout, stderr) = await DotnetCommand.TryRunAsync("dotnet", [ModelBoxExecutable.DllPath, .. words, "--help"], null, environment);
                Assert.True(exitCode == 0, $"{document}:{block.Line}: `modelbox {string.Join(' ', words)}` is no command:\n{stdout}\n{stderr}");
            }

            foreach (Match filter in FilterPattern().Matches(line))
            {
                // `~` matches a part of the fully qualified name, as `dotnet test --filter` does.
                Assert.True(TestClassNames.Value.Any(name => name.Contains(filter.Groups[1].Value, StringComparison.Ordinal)),
                    $"{document}:{block.Line}: the test filter FullyQualifiedName~{filter.Groups[1].Value} matches no test class");
            }
        }
    }

    private sealed record CodeBlock(int Line, string Language, bool Manual, string Code);

    private static List<CodeBlock> CodeBlocks(string markdown)
    {
        var blocks = new List<CodeBlock>();
        var lines = markdown.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (!lines[i].StartsWith("```", StringComparison.Ordinal))
            {
                continue;
            }

            var info = lines[i][3..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var start = i;
            var code = new StringBuilder();
            for (i++; i < lines.Length && !lines[i].StartsWith("```", StringComparison.Ordinal); i++)
            {
                code.Append(lines[i]).Append('\n');
            }

            blocks.Add(new CodeBlock(start + 1, info.FirstOrDefault() ?? "", info.Contains("manual"), code.ToString()));
        }

        return blocks;
    }

    // `modelbox` and the command words after it (an env assignment may come first), up to the first option or argument.
    [GeneratedRegex(@"^(?:[A-Z_]+=\S+ )*modelbox((?: [a-z][a-z-]*)+)")]
    private static partial Regex CommandPattern();

    [GeneratedRegex(@"FullyQualifiedName~([A-Za-z.]+)")]
    private static partial Regex FilterPattern();

    [GeneratedRegex(@"^namespace ([\w.]+);", RegexOptions.Multiline)]
    private static partial Regex NamespacePattern();

    [GeneratedRegex(@"\bclass (\w+)")]
    private static partial Regex ClassPattern();
}
