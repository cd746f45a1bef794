using System.Diagnostics;

namespace ModelBox.EndToEnd.Tests.Infrastructure;

/// <summary>Runs a database tool (initdb, pg_ctl, mariadb-install-db, chown) to completion.</summary>
public static class ToolProcess
{
    /// <summary>Runs <paramref name="program"/> and fails with its output when it exits non-zero.</summary>
    public static async Task RunAsync(string program, IReadOnlyList<string> args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // Generous: the machine running the tests may be heavily loaded, and a start includes crash recovery.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited with {process.ExitCode}: {await stdout}{await stderr}");
        }
    }
}
