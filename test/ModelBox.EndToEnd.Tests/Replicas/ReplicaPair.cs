using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Replicas;

/// <summary>
/// Two real `modelbox server start` processes sharing one fresh PostgreSQL database and one blob folder, each with its
/// own data folder and ports: the deployment of docs/deployment.md, minus the load balancer. Both start at once, so
/// they also race to migrate the empty database.
/// </summary>
public sealed class ReplicaPair : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("modelbox-replicas-").FullName;
    private PostgresTestDatabase? _database;
    private ModelBoxProcess? _a;
    private ModelBoxProcess? _b;

    public ModelBoxProcess A => _a ?? throw new InvalidOperationException("not started");

    public ModelBoxProcess B => _b ?? throw new InvalidOperationException("not started");

    public PostgresTestDatabase Database => _database ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _database = await PostgresTestDatabase.CreateAsync("modelbox_replicas");
        var blobs = Directory.CreateDirectory(Path.Combine(_root, "blobs")).FullName;
        Dictionary<string, string> Replica(string name) => new()
        {
            ["MODELBOX_METADATA_STORAGE"] = "postgres",
            ["MODELBOX_POSTGRES_CONNECTION_STRING"] = _database.ConnectionString,
            ["MODELBOX_ARTIFACT_STORAGE"] = "filesystem",
            ["MODELBOX_FILESYSTEM_BASE_DIR"] = blobs,
            ["MODELBOX_DATA_DIR"] = Path.Combine(_root, name),
        };

        var a = ModelBoxProcess.StartAsync(Replica("a"), _root);
        var b = ModelBoxProcess.StartAsync(Replica("b"), _root);
        try
        {
            await Task.WhenAll(a, b);
        }
        finally
        {
            _a = a.IsCompletedSuccessfully ? a.Result : null;
            _b = b.IsCompletedSuccessfully ? b.Result : null;
        }
    }

    /// <summary>Fails when either replica logged an error (an unexpected exception, an unmapped failure).</summary>
    public void AssertNoErrorsLogged()
    {
        foreach (var (name, replica) in new[] { ("A", A), ("B", B) })
        {
            var errors = replica.Output.Split('\n').Where(line => line.Contains(" fail: ", StringComparison.Ordinal) || line.Contains(" crit: ", StringComparison.Ordinal)).ToList();
            Assert.True(errors.Count == 0, $"replica {name} logged errors:\n{string.Join('\n', errors)}");
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var replica in new[] { _a, _b })
        {
            if (replica is not null)
            {
                await replica.DisposeAsync();
            }
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }
}
