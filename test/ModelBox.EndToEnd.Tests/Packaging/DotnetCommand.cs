using System.Diagnostics;

namespace ModelBox.EndToEnd.Tests.Packaging;

/// <summary>Runs the .NET SDK (`dotnet publish`, `pack`, `tool install`, ...) or another tool from a test, as a user would.</summary>
public static class DotnetCommand
{
    /// <summary>The folder that holds ModelBox.slnx.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>Runs `dotnet ARGS` and fails the test with its output unless it exits 0; returns stdout.</summary>
    public static Task<string> RunAsync(IEnumerable<string> args, string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null, TimeSpan? timeout = null) =>
        RunToolAsync("dotnet", args, workingDirectory, environment, timeout);

    /// <summary>Runs FILE ARGS and fails the test with its output unless it exits 0; returns stdout.</summary>
    public static async Task<string> RunToolAsync(string fileName, IEnumerable<string> args, string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var (exitCode, stdout, stderr) = await TryRunAsync(fileName, args, workingDirectory, environment, timeout);
        Assert.True(exitCode == 0, $"`{fileName} {string.Join(' ', args)}` exited with {exitCode}:\n{stdout}\n{stderr}");
        return stdout;
    }

    /// <summary>Runs FILE ARGS and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> TryRunAsync(string fileName, IEnumerable<string> args,
        string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? RepositoryRoot,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // This process runs under `dotnet test`: its MSBuild variables would redirect a child's build, and the test's own
        // MODELBOX_ settings are not the child's.
        foreach (var key in info.Environment.Keys
                     .Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k == "VSTEST_HOST_DEBUG" || k.StartsWith("MODELBOX_", StringComparison.Ordinal))
                     .ToList())
        {
            info.Environment.Remove(key);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(30));
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"`{fileName} {string.Join(' ', args)}` did not finish within {timeout}:\n{await stdout}\n{await stderr}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ModelBox.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no ModelBox.slnx above {AppContext.BaseDirectory}");
    }
}
