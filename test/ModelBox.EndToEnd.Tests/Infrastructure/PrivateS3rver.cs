using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace ModelBox.EndToEnd.Tests.Infrastructure;

/// <summary>
/// An s3rver of its own (a temporary data folder, a free loopback port) for tests that kill and restart the S3 server:
/// killing the shared one would break every other test. Runs the s3rver test.sh installed (MODELBOX_TEST_S3RVER).
/// </summary>
public sealed class PrivateS3rver : IAsyncDisposable
{
    public const string MainVariable = "MODELBOX_TEST_S3RVER";

    private readonly string _main;
    private readonly string _data = Directory.CreateTempSubdirectory("modelbox-s3rver-").FullName;
    private Process? _process;

    private PrivateS3rver(string main, int port)
    {
        _main = main;
        Port = port;
    }

    public int Port { get; }

    public string Endpoint => $"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public static async Task<PrivateS3rver> StartAsync()
    {
        var main = Environment.GetEnvironmentVariable(MainVariable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{MainVariable} is not set: run the tests through ./test.sh, which installs s3rver");
        var server = new PrivateS3rver(main, ModelBoxExecutable.FreePort());
        await server.StartServerAsync();
        return server;
    }

    /// <summary>Starts s3rver on the same port and data folder (what it stored is still there) and waits for its port.</summary>
    public async Task StartServerAsync()
    {
        var start = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { _main, "-d", _data, "-a", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-s" })
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"s3rver exited with {_process.ExitCode} at start-up");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", Port, timeout.Token);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100, timeout.Token);
            }
        }
    }

    /// <summary>SIGKILL: connections in flight are cut, nothing is flushed.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        _process?.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        Directory.Delete(_data, recursive: true);
    }
}
