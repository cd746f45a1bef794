using MySqlConnector;

namespace ModelBox.EndToEnd.Tests.Infrastructure;

/// <summary>
/// A fresh, empty MariaDB/MySQL database on the server test.sh started (MODELBOX_TEST_MYSQL_CONNECTION_STRING), dropped
/// again on dispose. Without the variable the test fails: a missing server must not pass as a skipped test.
/// </summary>
public sealed class MySqlTestDatabase : IServerTestDatabase
{
    public const string Variable = "MODELBOX_TEST_MYSQL_CONNECTION_STRING";

    private readonly string _adminConnectionString;

    private MySqlTestDatabase(string adminConnectionString, string name)
    {
        _adminConnectionString = adminConnectionString;
        Name = name;
        ConnectionString = new MySqlConnectionStringBuilder(adminConnectionString) { Database = name }.ConnectionString;
    }

    public string Name { get; }

    public string Backend => "mysql";

    /// <summary>Connects to this database (as the test user).</summary>
    public string ConnectionString { get; }

    /// <summary>The server's connection string, from the environment; throws when it is not set.</summary>
    public static string ServerConnectionString =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{Variable} is not set: run the tests through ./test.sh, which starts MariaDB on loopback");

    public static async Task<MySqlTestDatabase> CreateAsync(string prefix)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(64, prefix.Length + 33)];
        await using var connection = new MySqlConnection(ServerConnectionString);
        await connection.OpenAsync();
        await using var command = new MySqlCommand($"CREATE DATABASE `{name}`", connection);
        await command.ExecuteNonQueryAsync();
        return new MySqlTestDatabase(ServerConnectionString, name);
    }

    /// <summary>Runs one statement against this database.</summary>
    public async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = new MySqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new MySqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    public async ValueTask DisposeAsync()
    {
        MySqlConnection.ClearAllPools();
        await using var connection = new MySqlConnection(_adminConnectionString);
        await connection.OpenAsync();
        await using var command = new MySqlCommand($"DROP DATABASE IF EXISTS `{Name}`", connection);
        await command.ExecuteNonQueryAsync();
    }
}
