using System.Diagnostics;
using System.Globalization;
using ModelBox.Testing;

namespace ModelBox.EndToEnd.Tests.Infrastructure;

/// <summary>
/// A PostgreSQL cluster of its own (initdb into a temporary folder, on a free loopback port) for tests that stop and
/// start the database: stopping the shared server would break every other test running at the time. Built from the
/// binaries test.sh names in MODELBOX_TEST_POSTGRES_BIN; initdb refuses to run as root, so under root the cluster
/// belongs to the `postgres` user.
/// </summary>
public sealed class PrivatePostgresCluster : IPrivateDatabaseServer
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

    public string Backend => "postgres";

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
                await ToolProcess.RunAsync("chown", ["postgres:postgres", root]);
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

    public async Task<IServerTestDatabase> CreateDatabaseAsync(string prefix) => await PostgresTestDatabase.CreateAsync(ConnectionString, prefix);

    /// <summary>SIGKILL of the postmaster and every backend and auxiliary process it started (collected before the kill,
    /// since they outlive it); the next <see cref="StartServerAsync"/> runs PostgreSQL's crash recovery.</summary>
    public async Task KillServerAsync()
    {
        var postmaster = int.Parse((await File.ReadAllLinesAsync(Path.Combine(_data, "postmaster.pid")))[0], CultureInfo.InvariantCulture);
        var processes = ChildrenOf(postmaster).Prepend(postmaster).ToList();
        foreach (var pid in processes)
        {
            Kill(pid);
        }

        foreach (var pid in processes)
        {
            await WaitUntilDeadAsync(pid);
        }
    }

    /// <summary>SIGKILL of one client backend of <paramref name="database"/>, mid-statement or mid-transaction as the load
    /// has it: the postmaster then ends every other session and recovers from the WAL on its own, without an operator.
    /// Returns the backend's title (its state at the kill: the statement it ran, "idle in transaction", ...).</summary>
    public async Task<string> KillBackendAsync(string database)
    {
        var postmaster = int.Parse((await File.ReadAllLinesAsync(Path.Combine(_data, "postmaster.pid")))[0], CultureInfo.InvariantCulture);
        var prefix = $"postgres: modelbox_test {database} ";
        for (var attempt = 0; attempt < 600; attempt++)
        {
            // Prefer a backend inside a statement or transaction; take an idle one if the load gives none in time.
            var backends = ChildrenOf(postmaster).Select(pid => (Pid: pid, Title: CommandLine(pid))).Where(b => b.Title.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            var busy = backends.Where(b => !b.Title.EndsWith(" idle", StringComparison.Ordinal)).ToList();
            if (busy.Count > 0 || (attempt > 100 && backends.Count > 0))
            {
                var victim = (busy.Count > 0 ? busy : backends)[0];
                Kill(victim.Pid);
                await WaitUntilDeadAsync(victim.Pid);
                return victim.Title;
            }

            await Task.Delay(10);
        }

        throw new InvalidOperationException($"no backend of database {database} appeared");
    }

    private static IEnumerable<int> ChildrenOf(int parent)
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && StatField(pid, 1) is { } ppid && ppid == parent.ToString(CultureInfo.InvariantCulture))
            {
                yield return pid;
            }
        }
    }

    /// <summary>A field of /proc/PID/stat after the command name (0: the state, 1: the parent's pid), or null when gone.</summary>
    private static string? StatField(int pid, int field)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[field];
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    private static void Kill(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
        }
        catch (ArgumentException)
        {
            // Already gone.
        }
    }

    /// <summary>Waits until the process is gone or a zombie (its parent may be an init that reaps late).</summary>
    private static async Task WaitUntilDeadAsync(int pid)
    {
        using var patience = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while (StatField(pid, 0) is { } state && state != "Z")
        {
            await Task.Delay(20, patience.Token);
        }
    }

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
            ? ToolProcess.RunAsync("runuser", ["-u", "postgres", "--", path, .. args])
            : ToolProcess.RunAsync(path, args);
    }
}
