using System.Diagnostics;
using System.Globalization;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Health.V1;
using Grpc.Net.Client;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Infrastructure;

/// <summary>
/// A running `modelbox server start` child process with every listener on a free loopback port. Its output is drained
/// continuously (a full pipe would block the server's logging) and kept for failure messages.
/// </summary>
public sealed class ModelBoxProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Task _drain;

    private ModelBoxProcess(Process process, int grpcPort, int prometheusPort)
    {
        _process = process;
        GrpcPort = grpcPort;
        PrometheusAddress = $"http://127.0.0.1:{prometheusPort}";
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        Store = new ModelStore.ModelStoreClient(Channel);
        Health = new Health.HealthClient(Channel);
        _drain = Task.WhenAll(DrainAsync(process.StandardOutput), DrainAsync(process.StandardError));
    }

    public int GrpcPort { get; }

    public string Address => $"127.0.0.1:{GrpcPort}";

    /// <summary>The Prometheus listener's URL (its metrics are this process's alone).</summary>
    public string PrometheusAddress { get; }

    public GrpcChannel Channel { get; }

    /// <summary>Calls over <see cref="Channel"/> that carry <paramref name="token"/> as a bearer token.</summary>
    public CallInvoker WithToken(string token) =>
        Channel.Intercept(metadata =>
        {
            metadata.Add("authorization", "Bearer " + token);
            return metadata;
        });

    public ModelStore.ModelStoreClient Store { get; }

    public Health.HealthClient Health { get; }

    /// <summary>Everything the process wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts `modelbox server start` with <paramref name="environment"/> plus free listener ports and waits until
    /// its health check says SERVING.</summary>
    public static async Task<ModelBoxProcess> StartAsync(IReadOnlyDictionary<string, string> environment, string workingDirectory)
    {
        var grpcPort = ModelBoxExecutable.FreePort();
        var prometheusPort = ModelBoxExecutable.FreePort();
        var variables = new Dictionary<string, string>(environment)
        {
            ["MODELBOX_LISTEN_ADDR"] = $"127.0.0.1:{grpcPort}",
            ["MODELBOX_HTTP_LISTEN_ADDR"] = $"127.0.0.1:{ModelBoxExecutable.FreePort()}",
            ["MODELBOX_PROMETHEUS_LISTEN_ADDR"] = $"127.0.0.1:{prometheusPort}",
        };
        var server = new ModelBoxProcess(ModelBoxExecutable.Start(["server", "start"], variables, workingDirectory), grpcPort, prometheusPort);
        try
        {
            await server.WaitUntilServingAsync(TimeSpan.FromSeconds(60));
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>The readiness status the health service reports right now.</summary>
    public async Task<HealthCheckResponse.Types.ServingStatus> HealthStatusAsync()
    {
        var response = await Health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
        return response.Status;
    }

    private async Task WaitUntilServingAsync(TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        while (true)
        {
            if (_process.HasExited)
            {
                await _drain;
                throw new InvalidOperationException($"the server exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                if (await HealthStatusAsync() == HealthCheckResponse.Types.ServingStatus.Serving)
                {
                    return;
                }
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
            {
                // Not listening yet.
            }

            try
            {
                await Task.Delay(100, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"the server did not report SERVING within {limit.TotalSeconds} s:\n{Output}");
            }
        }
    }

    /// <summary>SIGKILL: no shutdown code runs (streams are cut, nothing is flushed), exactly like a crash or an OOM kill.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: false);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await _process.WaitForExitAsync(timeout.Token);
        await _drain;
    }

    /// <summary>Stops the server with SIGTERM and returns its exit code.</summary>
    public async Task<int> StopAsync()
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(timeout.Token);
        await _drain;
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        if (!_process.HasExited)
        {
            try
            {
                await StopAsync();
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
    }

    private async Task DrainAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }
}
