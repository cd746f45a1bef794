using MySqlConnector;
using Npgsql;

namespace ModelBox.Testing;

/// <summary>A throw-away database on a server test.sh started, dropped again when disposed.</summary>
public interface IServerTestDatabase : IAsyncDisposable
{
    /// <summary>The backend's name in MODELBOX_METADATA_STORAGE ("postgres", "mysql").</summary>
    string Backend { get; }

    /// <summary>The database's name.</summary>
    string Name { get; }

    /// <summary>Connects to this database (as the admin-capable test user).</summary>
    string ConnectionString { get; }

    /// <summary>Runs one statement against this database and returns the first column of the first row.</summary>
    Task<object?> ScalarAsync(string sql);
}

/// <summary>
/// The database servers the storage and end-to-end suites run against. test.sh starts PostgreSQL and MariaDB on 127.0.0.1
/// and sets the variables; a missing variable fails the test (a missing server must not pass as a skipped test).
/// </summary>
public static class TestDatabases
{
    public const string PostgresVariable = "MODELBOX_TEST_POSTGRES_CONNECTION_STRING";
    public const string MySqlVariable = "MODELBOX_TEST_MYSQL_CONNECTION_STRING";

    public static string PostgresServerConnectionString => Required(PostgresVariable, "PostgreSQL");

    public static string MySqlServerConnectionString => Required(MySqlVariable, "MariaDB/MySQL");

    /// <summary>A fresh database of the backend named as in MODELBOX_METADATA_STORAGE.</summary>
    public static async Task<IServerTestDatabase> CreateAsync(string backend, string prefix = "mbtest") => backend switch
    {
        "postgres" => await PostgresTestDatabase.CreateAsync(prefix),
        "mysql" => await MySqlTestDatabase.CreateAsync(prefix),
        _ => throw new ArgumentOutOfRangeException(nameof(backend), backend, "not a server database backend"),
    };

    private static string Required(string variable, string server) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{variable} is not set: these tests need a {server} server. Run ./test.sh (it starts one on 127.0.0.1 and sets the "
                + $"variable), or set {variable} to an admin-capable connection string of a server on 127.0.0.1.");

    /// <summary>A unique database name: the prefix and 32 hex digits, within the servers' identifier limits.</summary>
    internal static string UniqueName(string prefix, int maxLength) => $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(maxLength, prefix.Length + 33)];
}

/// <summary>A fresh PostgreSQL database, created through the server's admin connection and dropped afterwards.</summary>
public sealed class PostgresTestDatabase : IServerTestDatabase
{
    private readonly string _server;

    private PostgresTestDatabase(string server, string name)
    {
        _server = server;
        Name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
    }

    public string Backend => "postgres";

    public string Name { get; }

    public string ConnectionString { get; }

    /// <param name="prefix">The start of the database's name.</param>
    /// <param name="linguisticCollation">Creates the database with a linguistic default collation (ICU en-US, where "alpha"
    /// sorts before "Alpha" and "_" before letters), as production databases usually have, instead of the test cluster's
    /// C.UTF-8 byte order: a store that relies on the database default for byte-order text fails then.</param>
    public static Task<PostgresTestDatabase> CreateAsync(string prefix = "mbtest", bool linguisticCollation = false) =>
        CreateAsync(TestDatabases.PostgresServerConnectionString, prefix, linguisticCollation);

    /// <summary>A fresh database on the server <paramref name="serverConnectionString"/> reaches (a private cluster).</summary>
    public static async Task<PostgresTestDatabase> CreateAsync(string serverConnectionString, string prefix, bool linguisticCollation = false)
    {
        var name = TestDatabases.UniqueName(prefix, 63);
        await using var connection = new NpgsqlConnection(serverConnectionString);
        await connection.OpenAsync();
        var options = linguisticCollation ? " LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8' TEMPLATE template0" : string.Empty;
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"{options}", connection);
        await command.ExecuteNonQueryAsync();
        return new PostgresTestDatabase(serverConnectionString, name);
    }

    public async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await using var connection = new NpgsqlConnection(_server);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", connection);
            await command.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
            // The server is gone (the resilience test's private cluster): nothing left to drop.
        }
    }
}

/// <summary>A fresh MariaDB/MySQL database, created through the server's admin connection and dropped afterwards.</summary>
public sealed class MySqlTestDatabase : IServerTestDatabase
{
    private readonly string _server;

    private MySqlTestDatabase(string server, string name)
    {
        _server = server;
        Name = name;
        ConnectionString = new MySqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
    }

    public string Backend => "mysql";

    public string Name { get; }

    public string ConnectionString { get; }

    public static Task<MySqlTestDatabase> CreateAsync(string prefix = "mbtest") => CreateAsync(TestDatabases.MySqlServerConnectionString, prefix);

    /// <summary>A fresh database on the server <paramref name="server"/> reaches (a private server).</summary>
    public static async Task<MySqlTestDatabase> CreateAsync(string server, string prefix)
    {
        var name = TestDatabases.UniqueName(prefix, 64);
        await using var connection = new MySqlConnection(server);
        await connection.OpenAsync();
        await using var command = new MySqlCommand($"CREATE DATABASE `{name}`", connection);
        await command.ExecuteNonQueryAsync();
        return new MySqlTestDatabase(server, name);
    }

    public async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = new MySqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new MySqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await using var connection = new MySqlConnection(_server);
            await connection.OpenAsync();
            await using var command = new MySqlCommand($"DROP DATABASE IF EXISTS `{Name}`", connection);
            await command.ExecuteNonQueryAsync();
        }
        catch (MySqlException)
        {
            // The server is gone (a test's private server): nothing left to drop.
        }
    }
}
