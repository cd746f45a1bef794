using System.Globalization;
using ModelBox.Testing;
using MySqlConnector;

namespace ModelBox.EndToEnd.Tests.Infrastructure;

/// <summary>
/// A MariaDB server of its own (mariadb-install-db into a temporary folder, on a free loopback port) for tests that stop,
/// restart or kill the database. Runs the binaries test.sh names in MODELBOX_TEST_MARIADBD and MODELBOX_TEST_MARIADB_INSTALL_DB,
/// as the `mysql` user when the tests run as root; the server is a child of the test process.
/// </summary>
public sealed class PrivateMariaDbServer : IPrivateDatabaseServer
{
    public const string ServerVariable = "MODELBOX_TEST_MARIADBD";
    public const string InstallVariable = "MODELBOX_TEST_MARIADB_INSTALL_DB";

    private readonly string _mariadbd;
    private readonly string _root = Directory.CreateTempSubdirectory("modelbox-mariadb-").FullName;
    private readonly string _password = $"private-{Guid.NewGuid():N}";
    private readonly OwnedServerProcess _process = new();

    private PrivateMariaDbServer(string mariadbd, int port)
    {
        _mariadbd = mariadbd;
        Port = port;
    }

    public int Port { get; }

    public string Backend => "mysql";

    /// <summary>The test user's connection string (over TCP, as ModelBox connects), without a database.</summary>
    public string ConnectionString =>
        $"Server=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};User ID=modelbox_test;Password={_password};AllowLoadLocalInfile=true";

    private string DataDir => Path.Combine(_root, "data");

    private string Socket => Path.Combine(_root, "mysqld.sock");

    private static string User => Environment.IsPrivilegedProcess ? "mysql" : Environment.UserName;

    public static async Task<PrivateMariaDbServer> StartAsync()
    {
        var server = new PrivateMariaDbServer(Required(ServerVariable), ModelBoxExecutable.FreePort());
        try
        {
            Directory.CreateDirectory(server.DataDir);
            if (Environment.IsPrivilegedProcess)
            {
                await ToolProcess.RunAsync("chown", ["-R", "mysql:mysql", server._root]);
            }

            await ToolProcess.RunAsync(Required(InstallVariable), [
                "--no-defaults", $"--user={User}", $"--datadir={server.DataDir}", "--auth-root-authentication-method=normal", "--skip-test-db"]);
            await server.StartServerAsync();
            // root has no password and reaches the server through the socket only; ModelBox connects over TCP as a user.
            await using var connection = new MySqlConnection($"Server={server.Socket};Protocol=Unix;User ID=root");
            await connection.OpenAsync();
            await using var command = new MySqlCommand(
                $"CREATE USER 'modelbox_test'@'%' IDENTIFIED BY '{server._password}'; GRANT ALL PRIVILEGES ON *.* TO 'modelbox_test'@'%' WITH GRANT OPTION;",
                connection);
            await command.ExecuteNonQueryAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    public async Task<IServerTestDatabase> CreateDatabaseAsync(string prefix) => await MySqlTestDatabase.CreateAsync(ConnectionString, prefix);

    public async Task StartServerAsync()
    {
        _process.Start(_mariadbd, [
            "--no-defaults", $"--user={User}", $"--datadir={DataDir}", $"--socket={Socket}", $"--port={Port.ToString(CultureInfo.InvariantCulture)}",
            "--bind-address=127.0.0.1", $"--pid-file={Path.Combine(_root, "mysqld.pid")}", $"--log-error={Path.Combine(_root, "error.log")}",
            "--skip-log-bin", "--max-connections=300", "--innodb-buffer-pool-size=64M",
        ]);
        // Start-up includes InnoDB's crash recovery after a kill; a loaded machine makes both slow.
        var patience = DateTime.UtcNow.AddMinutes(3);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"mariadbd exited with {_process.ExitCode} at start-up:\n{ErrorLog()}");
            }

            try
            {
                await using var probe = new MySqlConnection($"Server={Socket};Protocol=Unix;User ID=root;Connection Timeout=5;Pooling=false");
                await probe.OpenAsync();
                return;
            }
            catch (MySqlException) when (DateTime.UtcNow < patience)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>SIGTERM, MariaDB's normal shutdown: connections are closed and InnoDB shuts down cleanly.</summary>
    public Task StopServerAsync() => _process.StopAsync(TimeSpan.FromMinutes(3));

    /// <summary>SIGKILL of mariadbd (one process): InnoDB recovers from its redo log at the next start.</summary>
    public Task KillServerAsync() => _process.KillAsync();

    public async ValueTask DisposeAsync()
    {
        await KillServerAsync();
        Directory.Delete(_root, recursive: true);
    }

    private string ErrorLog()
    {
        var path = Path.Combine(_root, "error.log");
        return File.Exists(path) ? string.Join('\n', File.ReadLines(path).TakeLast(30)) : "(no error log)";
    }

    private static string Required(string variable) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{variable} is not set: run the tests through ./test.sh, which finds the MariaDB binaries");
}
