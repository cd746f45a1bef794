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
    private readonly OwnedServerProcess _process = new();

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
        _process.Start("node", [_main, "-d", _data, "-a", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-s"]);
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
    public Task KillAsync() => _process.KillAsync();

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        Directory.Delete(_data, recursive: true);
    }
}
