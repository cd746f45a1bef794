using System.Diagnostics;
using System.Globalization;

namespace ModelBox.EndToEnd.Tests.Infrastructure;

/// <summary>
/// The process of a server a test owns and may kill, stop and start again (a private s3rver, a private mariadbd): started
/// with its output drained, so a full pipe never blocks it; killed with SIGKILL or stopped with SIGTERM, each waiting
/// until it is gone. One at a time: starting again after a kill or stop runs a new process.
/// </summary>
internal sealed class OwnedServerProcess : IAsyncDisposable
{
    private Process? _process;

    /// <summary>Whether no process runs (never started, ended, killed or stopped).</summary>
    public bool HasExited => _process is not { HasExited: false };

    /// <summary>The exit code of the process that ended.</summary>
    public int ExitCode => _process?.ExitCode ?? throw new InvalidOperationException("no process was started");

    public void Start(string program, IEnumerable<string> arguments)
    {
        if (!HasExited)
        {
            throw new InvalidOperationException($"{program} is already running");
        }

        _process?.Dispose();
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>SIGKILL: connections in flight are cut, nothing is flushed.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        Forget();
    }

    /// <summary>SIGTERM, the server's normal shutdown, waiting up to <paramref name="patience"/> for it to end.</summary>
    public async Task StopAsync(TimeSpan patience)
    {
        if (_process is { HasExited: false } process)
        {
            using (var term = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(patience);
            await process.WaitForExitAsync(timeout.Token);
        }

        Forget();
    }

    public async ValueTask DisposeAsync() => await KillAsync();

    private void Forget()
    {
        _process?.Dispose();
        _process = null;
    }
}
