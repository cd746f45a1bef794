using Npgsql;

namespace ModelBox.EndToEnd.Tests.Infrastructure;

/// <summary>
/// A fresh, empty PostgreSQL database on the server test.sh started (MODELBOX_TEST_POSTGRES_CONNECTION_STRING), dropped
/// again on dispose. Without the variable the test fails: a missing server must not pass as a skipped test.
/// </summary>
public sealed class PostgresTestDatabase : IServerTestDatabase
{
    public const string Variable = "MODELBOX_TEST_POSTGRES_CONNECTION_STRING";

    private readonly string _adminConnectionString;

    private PostgresTestDatabase(string adminConnectionString, string name)
    {
        _adminConnectionString = adminConnectionString;
        Name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = name }.ConnectionString;
    }

    public string Name { get; }

    public string Backend => "postgres";

    /// <summary>Connects to this database (as the test superuser).</summary>
    public string ConnectionString { get; }

    /// <summary>The server's connection string, from the environment; throws when it is not set.</summary>
    public static string ServerConnectionString =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{Variable} is not set: run the tests through ./test.sh, which starts PostgreSQL on loopback");

    public static Task<PostgresTestDatabase> CreateAsync(string prefix) => CreateAsync(ServerConnectionString, prefix);

    public static async Task<PostgresTestDatabase> CreateAsync(string serverConnectionString, string prefix)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(63, prefix.Length + 33)];
        await using var connection = new NpgsqlConnection(serverConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return new PostgresTestDatabase(serverConnectionString, name);
    }

    /// <summary>Runs one statement against this database.</summary>
    public async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        try
        {
            await using var connection = new NpgsqlConnection(_adminConnectionString);
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
