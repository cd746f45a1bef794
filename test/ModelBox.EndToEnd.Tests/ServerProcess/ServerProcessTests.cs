using System.Diagnostics;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.ServerProcess;

/// <summary>`modelbox server ...` as users run it: a child process, configured by file and environment, stopped by signal.</summary>
public sealed class ServerProcessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("modelbox-proc-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task Init_config_then_start_serves_persists_across_restart_and_stops_on_sigterm()
    {
        var configPath = Path.Combine(_dir, "modelbox.toml");
        var init = await ModelBoxExecutable.RunAsync(["server", "init-config", "--path", configPath]);
        Assert.Equal(0, init.ExitCode);
        Assert.Contains("listen_addr = \"0.0.0.0:8085\"", await File.ReadAllTextAsync(configPath), StringComparison.Ordinal);

        var again = await ModelBoxExecutable.RunAsync(["server", "init-config", "--path", configPath]);
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains("error:", again.Stderr, StringComparison.Ordinal);

        // The file's data_dir is relative: it resolves against the working directory, like the embedded default.
        var port = ModelBoxExecutable.FreePort();
        var environment = Listeners(port);
        string experimentId;
        using (var server = ModelBoxExecutable.Start(["server", "start", "--config-path", configPath], environment, _dir))
        {
            var client = await ConnectAsync(port, server);
            experimentId = (await client.CreateExperimentAsync(new CreateExperimentRequest { Name = "persisted", Namespace = "proc" })).ExperimentId;
            await StopWithSigtermAsync(server);
        }

        Assert.True(File.Exists(Path.Combine(_dir, "modelbox-data", "modelbox.db")));
        using (var server = ModelBoxExecutable.Start(["server", "start", "--config-path", configPath], environment, _dir))
        {
            var client = await ConnectAsync(port, server);
            var experiment = await client.GetExperimentAsync(new GetExperimentRequest { Id = experimentId });
            Assert.Equal("persisted", experiment.Experiment.Name);
            await StopWithSigtermAsync(server);
        }
    }

    [Fact]
    public async Task Start_without_config_uses_the_embedded_default_under_the_working_directory()
    {
        var port = ModelBoxExecutable.FreePort();
        using var server = ModelBoxExecutable.Start(["server", "start"], Listeners(port), _dir);
        var client = await ConnectAsync(port, server);
        var created = await client.CreateModelAsync(new CreateModelRequest { Name = "embedded" });
        Assert.False(created.Exists);
        Assert.True(File.Exists(Path.Combine(_dir, "modelbox-data", "modelbox.db")));
        await StopWithSigtermAsync(server);
    }

    [Fact]
    public async Task Json_logs_have_one_object_per_line_and_at_debug_level_one_line_per_request()
    {
        var port = ModelBoxExecutable.FreePort();
        var environment = Listeners(port);
        environment["MODELBOX_LOG_LEVEL"] = "debug";
        using var server = ModelBoxExecutable.Start(["server", "start", "--log-format", "json"], environment, _dir);
        var client = await ConnectAsync(port, server);
        await client.CreateModelAsync(new CreateModelRequest { Name = "logged" });
        var stdout = await StopWithSigtermAsync(server);

        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        var entries = lines.Select(line => System.Text.Json.JsonDocument.Parse(line).RootElement).ToList();
        var request = Assert.Single(entries, e => e.GetProperty("EventId").GetInt32() == 5
            && e.GetProperty("State").GetProperty("Method").GetString() == "/modelbox.ModelStore/CreateModel");
        Assert.Equal("OK", request.GetProperty("State").GetProperty("Status").GetString());
        Assert.Contains("127.0.0.1", request.GetProperty("State").GetProperty("Peer").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Info_logs_name_the_bound_addresses_and_the_first_start_but_not_each_request()
    {
        var port = ModelBoxExecutable.FreePort();
        var environment = Listeners(port);
        environment["MODELBOX_LISTEN_ADDR"] = $"0.0.0.0:{port}";
        // A call is logged at info only when slow; on a loaded machine the first call may be, which is not what this checks.
        environment["MODELBOX_SLOW_CALL_MS"] = "0";
        using var server = ModelBoxExecutable.Start(["server", "start"], environment, _dir);
        var client = await ConnectAsync(port, server);
        await client.CreateModelAsync(new CreateModelRequest { Name = "quiet" });
        var output = await StopWithSigtermAsync(server);

        // Bound to every interface, and it says so (it used to print 127.0.0.1), with the URL a local client uses.
        Assert.Contains($"serving gRPC on 0.0.0.0:{port} (all IPv4 interfaces), http://127.0.0.1:{port}", output, StringComparison.Ordinal);
        Assert.Contains($"First start: created the data folder {Path.Combine(_dir, "modelbox-data")}", output, StringComparison.Ordinal);
        Assert.DoesNotContain("/modelbox.ModelStore/CreateModel", output, StringComparison.Ordinal);
        // Only the migrations of the backend in use are mentioned.
        Assert.DoesNotContain("Postgres", output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("MySql", output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_second_server_on_the_same_data_folder_refuses_to_start_and_names_the_first_ones_pid()
    {
        var port = ModelBoxExecutable.FreePort();
        using var first = ModelBoxExecutable.Start(["server", "start"], Listeners(port), _dir);
        await ConnectAsync(port, first);

        var second = await ModelBoxExecutable.RunAsync(["server", "start"], Listeners(ModelBoxExecutable.FreePort()), _dir);

        Assert.Equal(1, second.ExitCode);
        Assert.StartsWith("error: the data folder ", second.Stderr, StringComparison.Ordinal);
        Assert.Contains($"in use by another ModelBox server (PID {first.Id})", second.Stderr, StringComparison.Ordinal);
        await StopWithSigtermAsync(first);

        // The lock goes with the process: the folder is free again.
        using var third = ModelBoxExecutable.Start(["server", "start"], Listeners(port), _dir);
        await ConnectAsync(port, third);
        await StopWithSigtermAsync(third);
    }

    [Fact]
    public async Task Client_health_reports_serving_version_backend_and_when_the_process_started()
    {
        var port = ModelBoxExecutable.FreePort();
        using var server = ModelBoxExecutable.Start(["server", "start"], Listeners(port), _dir);
        await ConnectAsync(port, server);
        var beforeFirstStatusCall = DateTimeOffset.UtcNow;
        var health = await ModelBoxExecutable.RunAsync(["client", "health", "--server-addr", $"127.0.0.1:{port}", "--output", "json"]);
        Assert.Equal(0, health.ExitCode);
        using var json = System.Text.Json.JsonDocument.Parse(health.Stdout);
        Assert.Equal("SERVING", json.RootElement.GetProperty("status").GetString());
        Assert.Equal("integrated", json.RootElement.GetProperty("metadata_storage").GetString());
        Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("version").GetString()));
        // The process's start, which precedes the first status call (it used to be the time of that call).
        var startedAt = json.RootElement.GetProperty("started_at").GetDateTimeOffset();
        Assert.True(startedAt < beforeFirstStatusCall, $"started_at {startedAt:O} is not before the first status call at {beforeFirstStatusCall:O}");
        Assert.True(startedAt >= server.StartTime.ToUniversalTime().AddSeconds(-1), $"started_at {startedAt:O}, process started {server.StartTime.ToUniversalTime():O}");
        await StopWithSigtermAsync(server);

        var down = await ModelBoxExecutable.RunAsync(["client", "health", "--server-addr", $"127.0.0.1:{port}"]);
        Assert.Equal(1, down.ExitCode);
        Assert.Contains($"127.0.0.1:{port}", down.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("listen_adress = \"0.0.0.0:1\"", "listen_adress")]
    [InlineData("metadata_storage = \"oracle\"", "metadata_storage")]
    public async Task A_bad_config_stops_start_up_with_a_message_naming_the_key(string toml, string key)
    {
        var configPath = Path.Combine(_dir, "bad.toml");
        await File.WriteAllTextAsync(configPath, toml);
        var result = await ModelBoxExecutable.RunAsync(["server", "start", "--config-path", configPath], workingDirectory: _dir);
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: ", result.Stderr, StringComparison.Ordinal);
        Assert.Contains(key, result.Stderr, StringComparison.Ordinal);
    }

    /// <summary>Every listener on a free loopback port, so parallel tests never collide on the defaults.</summary>
    private static Dictionary<string, string> Listeners(int grpcPort) => new()
    {
        ["MODELBOX_LISTEN_ADDR"] = $"127.0.0.1:{grpcPort}",
        ["MODELBOX_HTTP_LISTEN_ADDR"] = $"127.0.0.1:{ModelBoxExecutable.FreePort()}",
        ["MODELBOX_PROMETHEUS_LISTEN_ADDR"] = $"127.0.0.1:{ModelBoxExecutable.FreePort()}",
    };

    private static async Task<ModelStore.ModelStoreClient> ConnectAsync(int port, Process server)
    {
        var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        var health = new Health.HealthClient(channel);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            if (server.HasExited)
            {
                throw new InvalidOperationException($"server exited with {server.ExitCode}: {await server.StandardError.ReadToEndAsync()}");
            }

            try
            {
                var status = await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: timeout.Token);
                if (status.Status == HealthCheckResponse.Types.ServingStatus.Serving)
                {
                    return new ModelStore.ModelStoreClient(channel);
                }
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
            {
                // Not listening yet: poll again (bounded by the timeout above).
            }

            await Task.Delay(100, timeout.Token);
        }
    }

    private static async Task<string> StopWithSigtermAsync(Process server)
    {
        using (var kill = Process.Start("kill", ["-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stdout = server.StandardOutput.ReadToEndAsync(timeout.Token);
        await server.WaitForExitAsync(timeout.Token);
        Assert.Equal(0, server.ExitCode);
        var output = await stdout;
        Assert.Contains("shutting down", output, StringComparison.Ordinal);
        return output;
    }
}
