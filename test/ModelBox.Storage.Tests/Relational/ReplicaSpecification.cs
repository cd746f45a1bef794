using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Storage;
using ModelBox.Storage.Relational;

namespace ModelBox.Storage.Tests.Relational;

/// <summary>
/// Several stores on one database behave like one: what every server database backend must show when replicas share it.
/// Each "replica" is a store with its own connection pool and its own in-process signal, as a second server process has.
/// </summary>
public abstract class ReplicaSpecification : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2024, 5, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    private RelationalBackendFactory? _factory;
    private readonly List<RelationalMetadataStore> _replicas = [];

    private protected abstract RelationalBackendFactory CreateFactory();

    private RelationalBackendFactory Factory => _factory!;

    public async Task InitializeAsync()
    {
        _factory = CreateFactory();
        await _factory.CreateAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var replica in _replicas)
        {
            await ((IAsyncDisposable)replica.Dialect).DisposeAsync();
        }

        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }
    }

    private RelationalMetadataStore Replica()
    {
        var replica = Factory.OpenReplica(new InProcessChangeSignal());
        _replicas.Add(replica);
        return replica;
    }

    private static Experiment Experiment(string @namespace, string name) => new(
        ObjectIds.Experiment(@namespace, name), @namespace, name, "owner", Framework.PyTorch, "task", string.Empty, string.Empty,
        ExperimentStatus.Running, EndedAt: null, new Dictionary<string, string>(), T0, T0);

    [Fact]
    public async Task Concurrent_writers_on_two_replicas_give_gapless_sequences_that_a_polling_reader_sees_in_order()
    {
        const int WritersPerReplica = 4;
        const int PerWriter = 40;
        IMetadataStore[] stores = [Factory.Store, Replica()];
        var done = new CancellationTokenSource();

        // The reader asks only for sequence > last, as a watcher does: a sequence that became visible after a higher one
        // would be skipped for good, and the comparison with the full log below would show the gap.
        var seen = new List<ChangeRecord>();
        var reader = Task.Run(async () =>
        {
            long last = 0;
            while (true)
            {
                var finished = done.IsCancellationRequested;
                var batch = await Factory.Store.ReadChangesAsync("lab", last, 50);
                seen.AddRange(batch);
                last = batch.Count > 0 ? batch[^1].Sequence : last;
                if (finished && batch.Count == 0)
                {
                    return;
                }
            }
        });

        var writers = stores.SelectMany((store, r) => Enumerable.Range(0, WritersPerReplica).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < PerWriter; i++)
            {
                var created = await store.CreateExperimentAsync(Experiment("lab", $"r{r}-w{w}-{i}"));
                await store.UpdateExperimentAsync(created.Value.Id, new ExperimentChanges(null, $"step {i}", null), T0.AddSeconds(i));
            }
        }))).ToList();
        await Task.WhenAll(writers).WaitAsync(HangGuard);
        await done.CancelAsync();
        await reader.WaitAsync(HangGuard);

        var total = stores.Length * WritersPerReplica * PerWriter * 2;
        var log = await Factory.Store.ReadChangesAsync("lab", 0, total + 10);
        Assert.Equal(Enumerable.Range(1, total).Select(i => (long)i), log.Select(record => record.Sequence));
        Assert.Equal(log.Select(record => record.Sequence), seen.Select(record => record.Sequence));
        Assert.Equal(total, await Factory.Store.ReadLastSequenceAsync());
    }

    [Fact]
    public async Task The_same_create_sent_to_two_replicas_at_once_stores_one_object_and_one_change()
    {
        IMetadataStore[] stores = [Factory.Store, Replica(), Replica()];

        for (var round = 0; round < 20; round++)
        {
            var experiment = Experiment($"ns{round}", "run");
            var results = await Task.WhenAll(stores.SelectMany(store => new[]
            {
                Task.Run(() => store.CreateExperimentAsync(experiment)),
                Task.Run(() => store.CreateExperimentAsync(experiment)),
            }));

            Assert.Single(results, result => !result.Existed);
            Assert.All(results, result => Assert.Equal(experiment.Id, result.Value.Id));
            Assert.Single(await Factory.Store.ReadChangesAsync($"ns{round}", 0, 10));
        }

        Assert.Equal(20, (await Factory.Store.ListNamespacesAsync(PageRequest.All)).Items.Count);
    }

    [Fact]
    public async Task A_watcher_on_one_replica_receives_a_change_committed_through_another()
    {
        var other = Replica();
        await using var feed = new ChangeFeed(Factory.Store, Factory.Signal);
        await using var watch = feed.WatchAsync("lab", 0).GetAsyncEnumerator();
        var first = watch.MoveNextAsync().AsTask();

        var created = await other.CreateExperimentAsync(Experiment("lab", "remote"));

        Assert.True(await first.WaitAsync(HangGuard));
        Assert.Equal(created.Value.Id, watch.Current.ObjectId);
    }

    [Fact]
    public async Task Replicas_migrating_at_once_on_a_fresh_database_both_succeed_and_agree_on_the_version()
    {
        var stores = await Factory.OpenOnEmptyDatabaseAsync(3);
        Assert.Equal(0, (await stores[0].GetSchemaStatusAsync()).CurrentVersion);

        await Task.WhenAll(stores.Select(store => Task.Run(() => store.MigrateAsync())));

        foreach (var store in stores)
        {
            var status = await store.GetSchemaStatusAsync();
            Assert.Equal(status.LatestKnownVersion, status.CurrentVersion);
        }
    }
}

public sealed class PostgresReplicaTests : ReplicaSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new PostgresBackendFactory();
}

public sealed class MySqlReplicaTests : ReplicaSpecification
{
    private protected override RelationalBackendFactory CreateFactory() => new MySqlBackendFactory();
}
