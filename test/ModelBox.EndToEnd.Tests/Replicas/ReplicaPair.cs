using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Testing;

namespace ModelBox.EndToEnd.Tests.Replicas;

/// <summary>
/// Two real `modelbox server start` processes sharing one fresh database and one blob folder, each with its own data
/// folder and ports: the deployment of docs/deployment.md, minus the load balancer. Both start at once, so they also
/// race to migrate the empty database.
/// </summary>
public abstract class ReplicaPair(string backend) : IAsyncLifetime
{
    private IServerTestDatabase? _database;
    private readonly string _root = Directory.CreateTempSubdirectory("modelbox-replicas-").FullName;
    private ModelBoxProcess? _a;
    private ModelBoxProcess? _b;

    public ModelBoxProcess A => _a ?? throw new InvalidOperationException("not started");

    public ModelBoxProcess B => _b ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _database = await ServerTestDatabase.CreateAsync(backend, "modelbox_replicas");
        var database = ServerTestDatabase.Environment(_database);
        var blobs = Directory.CreateDirectory(Path.Combine(_root, "blobs")).FullName;
        Dictionary<string, string> Replica(string name) => new(database.Concat(Settings))
        {
            ["MODELBOX_ARTIFACT_STORAGE"] = "filesystem",
            ["MODELBOX_FILESYSTEM_BASE_DIR"] = blobs,
            ["MODELBOX_DATA_DIR"] = Path.Combine(_root, name),
        };

        await PrepareAsync(Replica("setup"), _root);
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

    /// <summary>Settings both replicas start with, beside the database and folders.</summary>
    protected virtual IReadOnlyDictionary<string, string> Settings { get; } = new Dictionary<string, string>();

    /// <summary>Runs before the replicas start, with a replica's environment (e.g. a maintenance command on the database).</summary>
    protected virtual Task PrepareAsync(IReadOnlyDictionary<string, string> environment, string workingDirectory) => Task.CompletedTask;

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

/// <summary>Two replicas on PostgreSQL: LISTEN/NOTIFY wakes the watchers of the other replica.</summary>
public sealed class PostgresReplicaPair() : ReplicaPair("postgres");

/// <summary>Two replicas on MariaDB: each replica polls the change log for the other's commits.</summary>
public sealed class MySqlReplicaPair() : ReplicaPair("mysql");
