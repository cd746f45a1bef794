using System.Text.Json;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Cli;

/// <summary>The result of one run of the real <c>modelbox</c> executable.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public JsonElement Json()
    {
        using var document = JsonDocument.Parse(Stdout);
        return document.RootElement.Clone();
    }

    public CliResult AssertSuccess()
    {
        Assert.True(ExitCode == 0, $"exit code {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
        Assert.Equal("", Stderr);
        return this;
    }

    /// <summary>Asserts the CLI failed the way users see it: one <c>error:</c> line on stderr, nothing on stdout.</summary>
    public CliResult AssertError(int exitCode, string messagePart)
    {
        Assert.True(ExitCode == exitCode, $"expected exit code {exitCode}, got {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
        Assert.StartsWith("error: ", Stderr);
        Assert.Contains(messagePart, Stderr);
        Assert.Single(Stderr.TrimEnd().Split('\n'));
        Assert.DoesNotContain("   at ", Stderr);
        Assert.Equal("", Stdout);
        return this;
    }
}

/// <summary>Runs <c>modelbox client ...</c> as a child process against the shared server.</summary>
public sealed class CliRunner(ModelBoxServerFixture server)
{
    /// <summary>Runs <c>modelbox client --server-addr HOST:PORT ARGS</c>.</summary>
    public Task<CliResult> ClientAsync(params string[] args) =>
        RunAsync(["client", "--server-addr", server.HostPort, .. args]);

    /// <summary>Runs <c>modelbox ARGS</c> exactly as given.</summary>
    public static async Task<CliResult> RunAsync(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var (exitCode, stdout, stderr) = await ModelBoxExecutable.RunAsync(args, environment, workingDirectory);
        return new CliResult(exitCode, stdout, stderr);
    }

    /// <summary>Runs a README line such as <c>modelbox client experiments list --namespace langtech</c>, pointed at the test server.</summary>
    public Task<CliResult> ReadmeLineAsync(string commandLine)
    {
        var words = SplitCommandLine(commandLine);
        Assert.Equal(["modelbox", "client"], words[..2]);
        return RunAsync(words.Skip(1), new Dictionary<string, string> { ["MODELBOX_SERVER_ADDR"] = server.HostPort });
    }

    // Enough of the POSIX shell's quoting for the documented lines: words split on spaces, "double quotes" group.
    private static string[] SplitCommandLine(string commandLine)
    {
        var words = new List<string>();
        var current = new System.Text.StringBuilder();
        var quoted = false;
        foreach (var c in commandLine)
        {
            if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == ' ' && !quoted)
            {
                if (current.Length > 0)
                {
                    words.Add(current.ToString());
                    current.Clear();
                }
            }
            else
            {
                current.Append(c);
            }
        }

        if (current.Length > 0)
        {
            words.Add(current.ToString());
        }

        return [.. words];
    }
}
