using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ModelBox.EndToEnd.Tests.Packaging;

/// <summary>
/// The single-file, self-contained `modelbox` for linux-x64, published once per test run (the publish takes minutes:
/// ReadyToRun compiles every assembly), or the one <c>MODELBOX_SINGLE_FILE</c> names (CI publishes with build/dist.sh
/// and passes it on). It runs in an environment without the .NET SDK: no <c>dotnet</c> on <c>PATH</c>, no
/// <c>DOTNET_ROOT</c>, a fresh <c>HOME</c>.
/// </summary>
public static class SingleFileExecutable
{
    private static readonly Lazy<Task<string>> Published = new(PublishAsync);

    /// <summary>The published folder (which must hold only the executable) and the executable in it.</summary>
    public static Task<string> PathAsync() => Published.Value;

    /// <summary>Runs the executable with only the variables given (plus an empty PATH folder and HOME) and returns what it printed.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(
        string executable, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment, string home)
    {
        using var process = Start(executable, args, environment, home);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts the executable in a clean environment: nothing inherited from this (SDK-hosted) test process.</summary>
    public static Process Start(string executable, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment, string home)
    {
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = home,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment.Clear();
        var emptyBin = Path.Combine(home, "bin");
        Directory.CreateDirectory(emptyBin);
        info.Environment["PATH"] = emptyBin;
        info.Environment["HOME"] = home;
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        return Process.Start(info) ?? throw new InvalidOperationException($"could not start {executable}");
    }

    private static async Task<string> PublishAsync()
    {
        if (Environment.GetEnvironmentVariable("MODELBOX_SINGLE_FILE") is { Length: > 0 } given)
        {
            Assert.True(File.Exists(given), $"MODELBOX_SINGLE_FILE names {given}, which does not exist");
            return given;
        }

        Assert.True(RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && RuntimeInformation.OSArchitecture == Architecture.X64,
            "the single-file test publishes linux-x64 and runs it: it needs a linux-x64 machine");
        var output = Path.Combine(DotnetCommand.RepositoryRoot, "artifacts", "single-file-test", "linux-x64");
        if (Directory.Exists(output))
        {
            Directory.Delete(output, recursive: true);
        }

        // Exactly the documented command; the project file supplies ReadyToRun and the native libraries.
        await DotnetCommand.RunAsync(["publish", "src/ModelBox/ModelBox.csproj", "-c", "Release", "-r", "linux-x64", "--self-contained",
            "-p:PublishSingleFile=true", "-o", output, "-nologo"]);
        return Path.Combine(output, "modelbox");
    }
}
