using MySqlConnector;
using Npgsql;

namespace ModelBox.Storage.Tests.Relational;

/// <summary>
/// The database servers the relational suites run against. test.sh starts PostgreSQL and MariaDB on 127.0.0.1 and sets
/// the variables; a missing variable fails the test (nothing is skipped).
/// </summary>
internal static class TestDatabases
{
    public const string PostgresVariable = "MODELBOX_TEST_POSTGRES_CONNECTION_STRING";
    public const string MySqlVariable = "MODELBOX_TEST_MYSQL_CONNECTION_STRING";

    public static string PostgresAdminConnectionString => Required(PostgresVariable, "PostgreSQL");

    public static string MySqlAdminConnectionString => Required(MySqlVariable, "MariaDB/MySQL");

    private static string Required(string variable, string server) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{variable} is not set: these tests need a {server} server. Run ./test.sh (it starts one on 127.0.0.1 and sets the "
                + $"variable), or set {variable} to an admin-capable connection string of a server on 127.0.0.1.");

    public static string UniqueName() => "mbtest_" + Guid.NewGuid().ToString("N")[..20];
}

/// <summary>A fresh PostgreSQL database, created through the admin connection and dropped afterwards.</summary>
internal sealed class PostgresTestDatabase : IAsyncDisposable
{
    private readonly string _admin;

    private PostgresTestDatabase(string admin, string name, string connectionString)
    {
        _admin = admin;
        Name = name;
        ConnectionString = connectionString;
    }

    public string Name { get; }

    public string ConnectionString { get; }

    /// <param name="linguisticCollation">Creates the database with a linguistic default collation (ICU en-US, where "alpha"
    /// sorts before "Alpha" and "_" before letters), as production databases usually have, instead of the test cluster's
    /// C.UTF-8 byte order: a store that relies on the database default for byte-order text fails then.</param>
    public static async Task<PostgresTestDatabase> CreateAsync(bool linguisticCollation = false)
    {
        var admin = TestDatabases.PostgresAdminConnectionString;
        var name = TestDatabases.UniqueName();
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            var options = linguisticCollation ? " LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8' TEMPLATE template0" : string.Empty;
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name}{options}", connection);
            await command.ExecuteNonQueryAsync();
        }

        return new PostgresTestDatabase(admin, name, new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        await using var connection = new NpgsqlConnection(_admin);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>A fresh MariaDB/MySQL database, created through the admin connection and dropped afterwards.</summary>
internal sealed class MySqlTestDatabase : IAsyncDisposable
{
    private readonly string _admin;

    private MySqlTestDatabase(string admin, string name, string connectionString)
    {
        _admin = admin;
        Name = name;
        ConnectionString = connectionString;
    }

    public string Name { get; }

    public string ConnectionString { get; }

    public static async Task<MySqlTestDatabase> CreateAsync()
    {
        var admin = TestDatabases.MySqlAdminConnectionString;
        var name = TestDatabases.UniqueName();
        await using (var connection = new MySqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var command = new MySqlCommand($"CREATE DATABASE {name}", connection);
            await command.ExecuteNonQueryAsync();
        }

        return new MySqlTestDatabase(admin, name, new MySqlConnectionStringBuilder(admin) { Database = name }.ConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        await using var connection = new MySqlConnection(_admin);
        await connection.OpenAsync();
        await using var command = new MySqlCommand($"DROP DATABASE IF EXISTS {Name}", connection);
        await command.ExecuteNonQueryAsync();
    }
}
