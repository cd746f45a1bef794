using ModelBox.Server.Configuration;
using ModelBox.Testing;

namespace ModelBox.EndToEnd.Tests.Infrastructure;

/// <summary>Pointing a ModelBox process at a test database (the databases themselves: test/Shared/TestDatabases.cs).</summary>
public static class ServerTestDatabase
{
    public static Task<IServerTestDatabase> CreateAsync(string backend, string prefix) => TestDatabases.CreateAsync(backend, prefix);

    /// <summary>The environment that makes `modelbox server` use <paramref name="database"/>.</summary>
    public static Dictionary<string, string> Environment(IServerTestDatabase database) => new()
    {
        ["MODELBOX_METADATA_STORAGE"] = database.Backend,
        [$"MODELBOX_{database.Backend.ToUpperInvariant()}_CONNECTION_STRING"] = database.ConnectionString,
    };

    /// <summary>The settings that make an in-process server use <paramref name="database"/>.</summary>
    public static ServerConfig Use(this ServerConfig config, IServerTestDatabase database) => database.Backend switch
    {
        "postgres" => config with { MetadataStorage = "postgres", Postgres = new DatabaseServerConfig { ConnectionString = database.ConnectionString } },
        "mysql" => config with { MetadataStorage = "mysql", MySql = new DatabaseServerConfig { ConnectionString = database.ConnectionString } },
        _ => throw new ArgumentOutOfRangeException(nameof(database), database.Backend, "not a server database backend"),
    };
}
