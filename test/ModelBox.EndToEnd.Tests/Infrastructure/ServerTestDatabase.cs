namespace ModelBox.EndToEnd.Tests.Infrastructure;

/// <summary>A fresh database on one of the servers test.sh started (PostgreSQL or MariaDB), dropped on dispose.</summary>
public interface IServerTestDatabase : IAsyncDisposable
{
    /// <summary>The backend's name in MODELBOX_METADATA_STORAGE ("postgres", "mysql").</summary>
    string Backend { get; }

    /// <summary>Connects to this database.</summary>
    string ConnectionString { get; }

    /// <summary>Runs one statement against this database and returns the first column of the first row.</summary>
    Task<object?> ScalarAsync(string sql);
}

/// <summary>Creating server test databases by backend name, and pointing a ModelBox process at one.</summary>
public static class ServerTestDatabase
{
    public static async Task<IServerTestDatabase> CreateAsync(string backend, string prefix) => backend switch
    {
        "postgres" => await PostgresTestDatabase.CreateAsync(prefix),
        "mysql" => await MySqlTestDatabase.CreateAsync(prefix),
        _ => throw new ArgumentOutOfRangeException(nameof(backend), backend, "not a server database backend"),
    };

    /// <summary>The environment that makes `modelbox server` use <paramref name="database"/>.</summary>
    public static Dictionary<string, string> Environment(IServerTestDatabase database) => new()
    {
        ["MODELBOX_METADATA_STORAGE"] = database.Backend,
        [$"MODELBOX_{database.Backend.ToUpperInvariant()}_CONNECTION_STRING"] = database.ConnectionString,
    };
}
