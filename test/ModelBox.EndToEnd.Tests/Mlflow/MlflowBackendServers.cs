using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Testing;

namespace ModelBox.EndToEnd.Tests.Mlflow;

/// <summary>An in-process server on a fresh database of a server backend (test.sh starts PostgreSQL and MariaDB).</summary>
public abstract class MlflowBackendServer(string backend) : IAsyncLifetime
{
    private IServerTestDatabase? _database;
    private ModelBoxServerFixture? _server;

    public ModelBoxServerFixture Server => _server ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _database = await ServerTestDatabase.CreateAsync(backend, "modelbox_mlflow");
        var database = _database;
        _server = new ModelBoxServerFixture { Configure = config => config.Use(database) };
        await _server.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }
}

public sealed class MlflowPostgresServer() : MlflowBackendServer("postgres");

public sealed class MlflowMariaDbServer() : MlflowBackendServer("mysql");
