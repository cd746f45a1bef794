using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace ModelBox.EndToEnd.Tests.Infrastructure;

/// <summary>
/// What a call that takes far longer than it should was doing, taken while it still hangs: the client's view of it (when
/// its response headers and its last message came) and, when the .NET diagnostic tools are installed
/// (<c>dotnet tool install -g dotnet-stack</c>), the managed stacks of the server process and of this test process. For
/// a failure message, so that a stall that only a loaded CI machine shows says where it stood.
/// </summary>
public sealed class StallCapture : IAsyncDisposable
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly CancellationTokenSource _done = new();
    private readonly Task _watch;
    private long _headersAt;
    private long _lastMessageAt;
    private int _messages;
    private long _bytes;

    /// <summary>Starts watching a call to <paramref name="server"/>: past <paramref name="after"/> its state is captured once.</summary>
    public StallCapture(string what, ChildServer? server, TimeSpan after)
    {
        // On the thread pool, not the test framework's synchronization context: a capture must not wait for what it observes.
        _watch = Task.Run(() => WatchAsync(what, server, after));
    }

    /// <summary>The report taken when the call passed its time (empty while it has not).</summary>
    public string Report { get; private set; } = string.Empty;

    public void HeadersReceived() => Interlocked.Exchange(ref _headersAt, Stopwatch.GetTimestamp());

    public void MessageReceived(int bytes)
    {
        Interlocked.Increment(ref _messages);
        Interlocked.Add(ref _bytes, bytes);
        Interlocked.Exchange(ref _lastMessageAt, Stopwatch.GetTimestamp());
    }

    /// <summary>The client's view: elapsed, headers, messages, bytes, last message.</summary>
    public string ClientView()
    {
        static string Since(long start, long at) =>
            at == 0 ? "never" : "+" + Stopwatch.GetElapsedTime(start, at).TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms";

        return $"after {Stopwatch.GetElapsedTime(_started).TotalSeconds:0.0} s: response headers {Since(_started, Interlocked.Read(ref _headersAt))}, "
            + $"{Volatile.Read(ref _messages)} messages ({Interlocked.Read(ref _bytes)} bytes of chunks), the last {Since(_started, Interlocked.Read(ref _lastMessageAt))}";
    }

    public async ValueTask DisposeAsync()
    {
        await _done.CancelAsync();
        await _watch;
        _done.Dispose();
    }

    private async Task WatchAsync(string what, ChildServer? server, TimeSpan after)
    {
        try
        {
            await Task.Delay(after, _done.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        var report = new StringBuilder($"{what} has not ended: {ClientView()}\n")
            .AppendLine($"this process's thread pool: {ThreadPool.ThreadCount} threads, {ThreadPool.PendingWorkItemCount} work items queued, {ThreadPool.CompletedWorkItemCount} completed");
        var tool = FindTool("dotnet-stack");
        if (tool is null)
        {
            report.AppendLine("(dotnet-stack is not installed: no stacks)");
        }
        else
        {
            if (server is not null)
            {
                report.AppendLine($"-- managed stacks of the server (pid {server.ProcessId}) --").AppendLine(await RunAsync(tool, ["report", "-p", Pid(server.ProcessId)]));
            }

            report.AppendLine($"-- managed stacks of the test process (pid {Environment.ProcessId}) --").AppendLine(await RunAsync(tool, ["report", "-p", Pid(Environment.ProcessId)]));
        }

        var directory = Environment.GetEnvironmentVariable("MODELBOX_STALL_DIR");
        if (!string.IsNullOrEmpty(directory))
        {
            // Dumps for `dotnet-dump analyze` (dumpasync shows where each awaiting call stands), when asked for.
            Directory.CreateDirectory(directory);
            var stamp = $"{DateTime.UtcNow:HHmmss.fff}-{Environment.ProcessId}";
            if (FindTool("dotnet-dump") is { } dump && server is not null)
            {
                var file = Path.Combine(directory, $"server-{stamp}.dmp");
                report.AppendLine($"-- dump of the server: {file} --").AppendLine(await RunAsync(dump, ["collect", "--type", "Heap", "-p", Pid(server.ProcessId), "-o", file]));
                var own = Path.Combine(directory, $"client-{stamp}.dmp");
                report.AppendLine($"-- dump of the test process: {own} --").AppendLine(await RunAsync(dump, ["collect", "--type", "Heap", "-p", Pid(Environment.ProcessId), "-o", own]));
            }

            Report = report.ToString();
            await File.WriteAllTextAsync(Path.Combine(directory, $"stall-{stamp}.txt"), Report);
        }

        Report = report.ToString();
    }

    private static string? FindTool(string name)
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append(Path.Combine(home, ".dotnet", "tools"));
        return candidates.Select(directory => Path.Combine(directory, name)).FirstOrDefault(File.Exists);
    }

    private static string Pid(int processId) => processId.ToString(CultureInfo.InvariantCulture);

    private static async Task<string> RunAsync(string tool, string[] arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(tool, arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);
            return await stdout + await stderr;
        }
        catch (Exception exception) when (exception is OperationCanceledException or System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return $"({tool} failed: {exception.Message})";
        }
    }
}
