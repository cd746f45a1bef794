using MySqlConnector;
using Npgsql;

namespace ModelBox.Benchmarks;

/// <summary>
/// A throw-away database on the PostgreSQL or MariaDB server a benchmark is pointed at (the test variables' connection
/// strings, whose user may create databases): created empty, dropped with its connections on dispose.
/// </summary>
internal sealed class BenchDatabase : IAsyncDisposable
{
    private readonly Func<Task> _drop;

    private BenchDatabase(string connectionString, Func<Task> drop)
    {
        ConnectionString = connectionString;
        _drop = drop;
    }

    /// <summary>The new database's connection string (the admin one with the database set).</summary>
    public string ConnectionString { get; }

    public static async Task<BenchDatabase> CreatePostgresAsync(string admin)
    {
        var name = NewName();
        await ExecuteAsync(new NpgsqlConnection(admin), $"CREATE DATABASE {name}");
        return new BenchDatabase(
            new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString,
            async () =>
            {
                NpgsqlConnection.ClearAllPools();
                await ExecuteAsync(new NpgsqlConnection(admin), $"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            });
    }

    /// <param name="admin">An account that may create databases.</param>
    /// <param name="loadLocalInfile">Whether the new database's connection string allows <c>LOAD DATA LOCAL INFILE</c>.</param>
    public static async Task<BenchDatabase> CreateMySqlAsync(string admin, bool loadLocalInfile = false)
    {
        var name = NewName();
        await ExecuteAsync(new MySqlConnection(admin), $"CREATE DATABASE {name}");
        return new BenchDatabase(
            new MySqlConnectionStringBuilder(admin) { Database = name, AllowLoadLocalInfile = loadLocalInfile }.ConnectionString,
            async () =>
            {
                MySqlConnection.ClearAllPools();
                await ExecuteAsync(new MySqlConnection(admin), $"DROP DATABASE IF EXISTS {name}");
            });
    }

    public async ValueTask DisposeAsync() => await _drop();

    private static string NewName() => "mbbench_" + Guid.NewGuid().ToString("N")[..16];

    private static async Task ExecuteAsync(System.Data.Common.DbConnection connection, string sql)
    {
        await using (connection)
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            await command.ExecuteNonQueryAsync();
        }
    }
}
