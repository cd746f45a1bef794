using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Registry;
using ModelBox.Domain.Storage;
using ModelBox.Storage.Relational;

namespace ModelBox.Storage.Tests;

/// <summary>
/// Several stores on one database behave like one: what every server database backend must show when replicas share it.
/// Each "replica" is a store with its own connection pool and its own in-process signal, as a second server process has.
/// </summary>
public abstract class ReplicaSpecification : StoreSpecification
{
    private static readonly DateTimeOffset T0 = new(2024, 5, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    private readonly List<RelationalMetadataStore> _replicas = [];

    public override async Task DisposeAsync()
    {
        foreach (var replica in _replicas)
        {
            await ((IAsyncDisposable)replica.Dialect).DisposeAsync();
        }

        await base.DisposeAsync();
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

    private static readonly AuditContext Audit = new("replica-test", T0.AddMinutes(1));

    private static Model Model(string @namespace, string name) => new(
        ObjectIds.Model(@namespace, name), @namespace, name, "owner", "task", string.Empty, new Dictionary<string, string>(), T0, T0);

    private static ModelVersion Version(string modelId, string version, params string[] tags) => new(
        ObjectIds.ModelVersion(modelId, version), modelId, string.Empty, version, string.Empty, Framework.Onnx, tags,
        new Dictionary<string, string>(), T0, T0);

    [Fact]
    public async Task Alias_moves_through_two_replicas_at_once_each_see_the_version_the_previous_move_left()
    {
        IRegistryStore[] stores = [Factory.Store, Replica()];
        var model = (await Factory.Store.CreateModelAsync(Model("lab", "asr"))).Value;
        var versions = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            versions.Add((await Factory.Store.CreateModelVersionAsync(Version(model.Id, $"{i}"))).Value.Id);
        }

        // Each move reports where the alias pointed before it. Moves that read the alias before another committed would
        // both report the same "previous", and the chain of change records would fork.
        var moves = stores.SelectMany((store, r) => Enumerable.Range(0, 3).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < 15; i++)
            {
                await store.SetAliasAsync(model.Id, "production", versions[(r * 3 + w + i) % versions.Count], Audit);
            }
        })));
        await Task.WhenAll(moves).WaitAsync(HangGuard);

        var changes = (await Factory.Store.ReadChangesAsync("lab", 0, 10_000)).Where(c => c.ObjectKind == ChangeObjectKinds.Alias).ToList();
        Assert.NotEmpty(changes);
        string? pointedAt = null;
        foreach (var change in changes)
        {
            var state = System.Text.Json.JsonDocument.Parse(change.StateJson).RootElement;
            Assert.Equal(pointedAt, state.GetProperty("previous_version_id").GetString());
            pointedAt = state.GetProperty("version_id").GetString();
        }

        Assert.Equal(pointedAt, (await Factory.Store.GetAliasAsync(model.Id, "production"))!.VersionId);
    }

    [Fact]
    public async Task One_unique_tag_claimed_through_two_replicas_at_once_ends_on_exactly_one_version()
    {
        IRegistryStore[] stores = [Factory.Store, Replica(), Replica()];
        for (var round = 0; round < 10; round++)
        {
            var model = (await Factory.Store.CreateModelAsync(Model("lab", $"m{round}"))).Value;
            var claims = new List<Task>();
            for (var i = 0; i < stores.Length; i++)
            {
                var store = stores[i];
                var existing = (await Factory.Store.CreateModelVersionAsync(Version(model.Id, $"old{i}"))).Value;
                claims.Add(Task.Run(() => store.UpdateUniqueTagsAsync(existing.Id, ["production"], [], Audit)));
                claims.Add(Task.Run(() => store.CreateModelVersionAsync(Version(model.Id, $"new{i}", "production"), Lineage.Empty, Audit)));
            }

            await Task.WhenAll(claims).WaitAsync(HangGuard);
            var holders = (await Factory.Store.ListModelVersionsAsync(model.Id, PageRequest.All)).Items
                .Where(v => v.UniqueTags.Contains("production")).ToList();
            Assert.Single(holders);
        }
    }

    [Fact]
    public async Task Two_derivations_that_together_close_a_cycle_cannot_both_be_recorded_through_two_replicas()
    {
        IRegistryStore[] stores = [Factory.Store, Replica()];
        for (var round = 0; round < 10; round++)
        {
            var model = (await Factory.Store.CreateModelAsync(Model("lab", $"m{round}"))).Value;
            var ids = new Dictionary<string, string>();
            foreach (var name in new[] { "a", "b", "c", "d" })
            {
                ids[name] = (await Factory.Store.CreateModelVersionAsync(Version(model.Id, name))).Value.Id;
            }

            // b derives from c and d from a; a from b plus c from d would close a → b → c → d → a.
            await Factory.Store.SetLineageAsync(ids["b"], new Lineage(null, null, [], [new DerivationLink(ids["c"], "fine-tuning")]), Audit);
            await Factory.Store.SetLineageAsync(ids["d"], new Lineage(null, null, [], [new DerivationLink(ids["a"], "fine-tuning")]), Audit);
            var attempts = new[] { ("a", "b"), ("c", "d") }.Select((pair, i) => Task.Run(async () =>
            {
                try
                {
                    await stores[i].SetLineageAsync(ids[pair.Item1], new Lineage(null, null, [], [new DerivationLink(ids[pair.Item2], "distillation")]), Audit);
                    return true;
                }
                catch (ModelBoxException e) when (e.Kind == ErrorKind.FailedPrecondition)
                {
                    return false;
                }
            }));

            var recorded = await Task.WhenAll(attempts).WaitAsync(HangGuard);
            Assert.Single(recorded, ok => ok);
        }
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
