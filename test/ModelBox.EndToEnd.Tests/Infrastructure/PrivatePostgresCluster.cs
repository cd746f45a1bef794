using System.Diagnostics;
using System.Globalization;

namespace ModelBox.EndToEnd.Tests.Infrastructure;

/// <summary>
/// A PostgreSQL cluster of its own (initdb into a temporary folder, on a free loopback port) for tests that stop and
/// start the database: stopping the shared server would break every other test running at the time. Built from the
/// binaries test.sh names in MODELBOX_TEST_POSTGRES_BIN; initdb refuses to run as root, so under root the cluster
/// belongs to the `postgres` user.
/// </summary>
public sealed class PrivatePostgresCluster : IAsyncDisposable
{
    public const string BinVariable = "MODELBOX_TEST_POSTGRES_BIN";

    private readonly string _bin;
    private readonly string _root;
    private readonly string _data;

    private PrivatePostgresCluster(string bin, string root, int port)
    {
        _bin = bin;
        _root = root;
        _data = Path.Combine(root, "data");
        Port = port;
    }

    public int Port { get; }

    /// <summary>The superuser's connection string to the <c>postgres</c> database.</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=modelbox_test;Database=postgres";

    public static async Task<PrivatePostgresCluster> StartAsync()
    {
        var bin = Environment.GetEnvironmentVariable(BinVariable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{BinVariable} is not set: run the tests through ./test.sh, which finds the PostgreSQL binaries");
        var root = Directory.CreateTempSubdirectory("modelbox-pg-").FullName;
        var cluster = new PrivatePostgresCluster(bin, root, ModelBoxExecutable.FreePort());
        try
        {
            if (Environment.IsPrivilegedProcess)
            {
                await RunAsync("chown", ["postgres:postgres", root]);
            }

            await cluster.RunAsPostgresAsync("initdb", ["-D", cluster._data, "-U", "modelbox_test", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]);
            await cluster.StartServerAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the server and waits until it accepts connections.</summary>
    public Task StartServerAsync() => RunAsPostgresAsync("pg_ctl", [
        "-D", _data, "-l", Path.Combine(_root, "server.log"), "-w", "-t", "60",
        "-o", $"-c listen_addresses=127.0.0.1 -p {Port.ToString(CultureInfo.InvariantCulture)} -k {_data} -c fsync=off",
        "start"]);

    /// <summary>Stops the server the way an operator's restart does: connected sessions are ended, then it shuts down.</summary>
    public Task StopServerAsync() => RunAsPostgresAsync("pg_ctl", ["-D", _data, "-m", "fast", "-w", "stop"]);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await RunAsPostgresAsync("pg_ctl", ["-D", _data, "-m", "immediate", "-w", "stop"]);
        }
        catch (InvalidOperationException)
        {
            // Not running (never started, or already stopped).
        }

        Directory.Delete(_root, recursive: true);
    }

    private Task RunAsPostgresAsync(string program, IReadOnlyList<string> args)
    {
        var path = Path.Combine(_bin, program);
        return Environment.IsPrivilegedProcess
            ? RunAsync("runuser", ["-u", "postgres", "--", path, .. args])
            : RunAsync(path, args);
    }

    private static async Task RunAsync(string program, IReadOnlyList<string> args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited with {process.ExitCode}: {await stdout}{await stderr}");
        }
    }
}
