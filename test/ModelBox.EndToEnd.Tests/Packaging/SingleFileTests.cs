using System.Diagnostics;
using System.Globalization;
using System.Text;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Packaging;

/// <summary>
/// What a user with only the released binary does: `modelbox server start` on a fresh folder, then the README's CLI
/// lines against it, with no .NET SDK or runtime reachable.
/// </summary>
[Collection(PackagingCollection.Name)]
public sealed class SingleFileTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("modelbox-single-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_home, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task The_published_single_file_serves_and_its_cli_works_without_dotnet_on_the_machine()
    {
        var executable = await SingleFileExecutable.PathAsync();

        // One file: the runtime, the app and SQLite's native library are all inside it.
        Assert.Equal(["modelbox"], Directory.GetFiles(Path.GetDirectoryName(executable)!).Select(Path.GetFileName));

        var port = ModelBoxExecutable.FreePort();
        var httpPort = ModelBoxExecutable.FreePort();
        var serverEnvironment = new Dictionary<string, string>
        {
            ["MODELBOX_LISTEN_ADDR"] = $"127.0.0.1:{port}",
            ["MODELBOX_HTTP_LISTEN_ADDR"] = $"127.0.0.1:{httpPort}",
            ["MODELBOX_PROMETHEUS_LISTEN_ADDR"] = $"127.0.0.1:{ModelBoxExecutable.FreePort()}",
        };
        using var server = SingleFileExecutable.Start(executable, ["server", "start"], serverEnvironment, _home);
        var output = new StringBuilder();
        server.OutputDataReceived += (_, e) => Append(output, e.Data);
        server.ErrorDataReceived += (_, e) => Append(output, e.Data);
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            var client = new Dictionary<string, string> { ["MODELBOX_SERVER_ADDR"] = $"127.0.0.1:{port}" };
            await WaitUntilHealthyAsync(executable, client, server, output);

            var create = await RunAsync(executable, client,
                "client experiments create --namespace langtech --owner your@email.com --name wav2vec-lid --framework pytorch");
            Assert.Contains("exp-", create);
            var list = await RunAsync(executable, client, "client experiments list --namespace langtech");
            Assert.Contains("wav2vec-lid", list);
            await RunAsync(executable, client,
                "client models create --name wav2vec --owner diptanuc@gmail.com --task asr --description English-ASR --namespace langtech");
            var models = await RunAsync(executable, client, "client list --namespace langtech");
            Assert.Contains("English-ASR", models);

            // The web UI travels inside the one file.
            using (var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") })
            {
                Assert.Contains("/ui/app.js", await http.GetStringAsync("/"), StringComparison.Ordinal);
                Assert.Contains("class LineChart", await http.GetStringAsync("/ui/chart.js"), StringComparison.Ordinal);
            }

            // The embedded default, under the working directory, created on this first start.
            Assert.True(File.Exists(Path.Combine(_home, "modelbox-data", "modelbox.db")));
            Assert.Contains("First start", Snapshot(output));
        }
        finally
        {
            if (!server.HasExited)
            {
                using var kill = Process.Start("kill", ["-TERM", server.Id.ToString(CultureInfo.InvariantCulture)]);
                await kill.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await server.WaitForExitAsync(timeout.Token);
        }

        Assert.True(server.ExitCode == 0, $"the server exited with {server.ExitCode}:\n{Snapshot(output)}");
    }

    private async Task<string> RunAsync(string executable, IReadOnlyDictionary<string, string> environment, string commandLine)
    {
        var (exitCode, stdout, stderr) = await SingleFileExecutable.RunAsync(executable, commandLine.Split(' '), environment, _home);
        Assert.True(exitCode == 0, $"`modelbox {commandLine}` exited with {exitCode}:\n{stdout}\n{stderr}");
        return stdout;
    }

    private async Task WaitUntilHealthyAsync(string executable, IReadOnlyDictionary<string, string> environment, Process server, StringBuilder output)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            Assert.False(server.HasExited, $"the server exited:\n{Snapshot(output)}");
            var (exitCode, _, _) = await SingleFileExecutable.RunAsync(executable, ["client", "health"], environment, _home);
            if (exitCode == 0)
            {
                return;
            }

            try
            {
                await Task.Delay(100, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"the server was not healthy within 60 s:\n{Snapshot(output)}");
            }
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }

    private static string Snapshot(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }
}
