using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace ModelBox.EndToEnd.Tests.Infrastructure;

/// <summary>
/// The real `modelbox server start` as a child process on a given data folder, every listener on a free loopback port.
/// Its output is drained continuously (a full pipe would block the server) and kept for failure messages.
/// </summary>
public sealed class ChildServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly ConcurrentQueue<string> _errors = new();

    private ChildServer(Process process, int port)
    {
        _process = process;
        Port = port;
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Port { get; }

    public GrpcChannel Channel { get; }

    public int ProcessId => _process.Id;

    /// <summary>Everything the server wrote to stdout and stderr.</summary>
    public IEnumerable<string> Output => _output;

    /// <summary>Lines the server logged at error or critical level (simple console format: "fail:" / "crit:").</summary>
    public IEnumerable<string> ErrorLines => _errors;

    /// <summary>
    /// Log levels for a server whose downloads a test watches: every call's status and duration and each download's
    /// phases (window, blob opened, first message written, bytes sent), so that a stalled download shows how far it got.
    /// </summary>
    public static IReadOnlyDictionary<string, string> DownloadDiagnostics { get; } = new Dictionary<string, string>
    {
        ["Logging__LogLevel__ModelBox.Server.Services.ModelStoreService"] = "Debug",
        ["Logging__LogLevel__ModelBox.Server.Observability.CallTelemetryInterceptor"] = "Debug",
    };

    /// <summary>Starts the server on <paramref name="dataDir"/> and waits until its health check answers SERVING. The gRPC
    /// listener takes <paramref name="grpcPort"/> when given (a restart on the port clients know), a free port otherwise.</summary>
    public static async Task<ChildServer> StartAsync(
        string dataDir, IReadOnlyDictionary<string, string>? extraEnvironment = null, int? openFileLimit = null, int? grpcPort = null)
    {
        var port = grpcPort ?? ModelBoxExecutable.FreePort();
        var environment = new Dictionary<string, string>
        {
            ["MODELBOX_DATA_DIR"] = dataDir,
            ["MODELBOX_LISTEN_ADDR"] = $"127.0.0.1:{port}",
            ["MODELBOX_HTTP_LISTEN_ADDR"] = $"127.0.0.1:{ModelBoxExecutable.FreePort()}",
            ["MODELBOX_PROMETHEUS_LISTEN_ADDR"] = $"127.0.0.1:{ModelBoxExecutable.FreePort()}",
        };
        foreach (var (key, value) in extraEnvironment ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        var server = new ChildServer(ModelBoxExecutable.Start(["server", "start"], environment, dataDir, openFileLimit), port);
        try
        {
            await server.WaitUntilServingAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGKILL: no shutdown code runs, exactly like a crash or an OOM kill.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: false);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(timeout.Token);
    }

    /// <summary>SIGTERM and wait for a graceful exit.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }

    /// <summary>Keeps the last 100,000 lines (a stall is at the end of a long debug log) and every error line apart, so
    /// that none is lost to the bound.</summary>
    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 100_000 && _output.TryDequeue(out _))
        {
        }

        if ((line.Contains("fail:", StringComparison.Ordinal) || line.Contains("crit:", StringComparison.Ordinal)) && _errors.Count < 10_000)
        {
            _errors.Enqueue(line);
        }
    }

    private async Task WaitUntilServingAsync()
    {
        var health = new Health.HealthClient(Channel);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the server exited with {_process.ExitCode}:\n{string.Join("\n", _output)}");
            }

            try
            {
                var status = await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: timeout.Token);
                if (status.Status == HealthCheckResponse.Types.ServingStatus.Serving)
                {
                    return;
                }
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
            {
                // Not listening yet: poll again (bounded by the timeout above).
            }

            await Task.Delay(50, timeout.Token);
        }
    }
}
