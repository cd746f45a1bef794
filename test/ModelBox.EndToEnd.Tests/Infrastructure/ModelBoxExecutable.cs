using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ModelBox.EndToEnd.Tests.Infrastructure;

/// <summary>Runs the real `modelbox` executable (built next to the tests by the project reference) as a child process.</summary>
public static class ModelBoxExecutable
{
    public static string DllPath { get; } = Path.Combine(AppContext.BaseDirectory, "modelbox.dll");

    /// <summary>Starts `dotnet modelbox.dll ARGS` with redirected output and extra environment variables; with
    /// <paramref name="openFileLimit"/>, under that `ulimit -n` (soft and hard).</summary>
    public static Process Start(
        IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null, int? openFileLimit = null)
    {
        if (!File.Exists(DllPath))
        {
            throw new FileNotFoundException("the modelbox executable was not built next to the tests", DllPath);
        }

        var info = new ProcessStartInfo(openFileLimit is null ? "dotnet" : "/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
        };
        if (openFileLimit is { } limit)
        {
            // exec keeps the process id: the server is the child the test kills and measures.
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add($"ulimit -n {limit} && exec dotnet \"$@\"");
            info.ArgumentList.Add("sh");
        }

        info.ArgumentList.Add(DllPath);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // The child must not inherit settings meant for this test process.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("MODELBOX_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(key);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        return Process.Start(info) ?? throw new InvalidOperationException("could not start dotnet");
    }

    /// <summary>Runs to completion and returns exit code and output.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(
        IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        using var process = Start(args, environment, workingDirectory);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Writes <c>DIR/modelbox</c>, a shell script that runs this executable: `modelbox` on PATH, as an installed binary would be.</summary>
    public static string WriteWrapper(string directory)
    {
        Directory.CreateDirectory(directory);
        var wrapper = Path.Combine(directory, "modelbox");
        WriteScript(wrapper, $"#!/bin/sh\nexec dotnet '{DllPath}' \"$@\"\n");
        return wrapper;
    }

    /// <summary>Writes an executable shell script.</summary>
    public static void WriteScript(string path, string content)
    {
        File.WriteAllText(path, content);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    /// <summary>A loopback port nothing listens on right now.</summary>
    public static int FreePort()
    {
        // The kernel may hand the same free port to two calls in a row (it is free again once the probe closes), and two
        // listeners of one server, or servers of tests running in parallel, must not get the same one: a gRPC client
        // that reached another server's HTTP/1.1 listener would wait for response headers forever.
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            if (HandedOut.TryAdd(port, 0))
            {
                return port;
            }
        }
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, byte> HandedOut = new();
}
