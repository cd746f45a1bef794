using System.Diagnostics;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Cli;

/// <summary>What a user who mistypes sees, and shell completion.</summary>
public sealed class CliUsageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("modelbox-cli-usage-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_mistyped_command_suggests_the_nearest_one()
    {
        var result = await CliRunner.RunAsync(["client", "experimnts", "list"]);

        result.AssertError(2, "`experimnts` is not a command of `modelbox client`; did you mean `experiments`?");
        Assert.Contains("(see `modelbox client --help`)", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_argument_is_named()
    {
        var result = await CliRunner.RunAsync(["client", "experiments", "get"]);

        result.AssertError(2, "`modelbox client experiments get` needs <id>");
    }

    [Fact]
    public async Task A_group_without_a_command_lists_its_commands()
    {
        var result = await CliRunner.RunAsync(["client", "artifacts"]);

        result.AssertError(2, "`modelbox client artifacts` needs a command: upload, download, list, delete");
        Assert.DoesNotContain("  ", result.Stderr.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_command_group_has_a_description_in_help()
    {
        var help = await CliRunner.RunAsync(["client", "--help"]);

        Assert.Equal(0, help.ExitCode);
        var commands = help.Stdout[help.Stdout.IndexOf("Commands:", StringComparison.Ordinal)..].Split('\n').Skip(1)
            .Where(line => line.StartsWith("  ", StringComparison.Ordinal) && line.Trim().Length > 0).ToList();
        Assert.NotEmpty(commands);
        // "name   description": a line holding only a command name has no description.
        Assert.All(commands, line => Assert.Contains("  ", line.Trim(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bash_completion_completes_commands_through_the_executable()
    {
        var script = await CliRunner.RunAsync(["completion", "bash"]);
        Assert.Equal(0, script.ExitCode);
        var scriptPath = Path.Combine(_dir, "modelbox.bash");
        await File.WriteAllTextAsync(scriptPath, script.Stdout);
        // `modelbox` on PATH, as an installed binary would be.
        var bin = Path.Combine(_dir, "bin");
        ModelBoxExecutable.WriteWrapper(bin);

        const string Line = "modelbox client exp";
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"source '{scriptPath}'; COMP_LINE='{Line}'; COMP_POINT={Line.Length}; COMP_WORDS=(modelbox client exp); COMP_CWORD=2; _modelbox_complete; printf '%s\\n' \"${{COMPREPLY[@]}}\"");
        info.Environment["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH");
        using var bash = Process.Start(info)!;
        var stdout = await bash.StandardOutput.ReadToEndAsync();
        var stderr = await bash.StandardError.ReadToEndAsync();
        await bash.WaitForExitAsync();

        Assert.True(bash.ExitCode == 0, stderr);
        Assert.Contains("experiments", stdout.Split('\n'));
        Assert.DoesNotContain("models", stdout.Split('\n'));
    }
}
