using System.Collections.Concurrent;
using Grpc.Core;
using ModelBox.Protocol;
using Xunit.Abstractions;

namespace ModelBox.EndToEnd.Tests.Replicas;

/// <summary>
/// A replica killed (SIGKILL) while it holds change-stream watchers and writes go on through both replicas: every watcher
/// resumes on the other replica from the last sequence it received and ends up with exactly the namespace's change log, no
/// change missing and none twice, including every write either replica acknowledged. A pair of its own, since the kill
/// would break the shared fixture's other tests.
/// </summary>
public abstract class ReplicaKillTests<TPair>(ITestOutputHelper output) : IAsyncLifetime
    where TPair : ReplicaPair, new()
{
    private const int Watchers = 3;
    private readonly TPair _replicas = new();

    public Task InitializeAsync() => _replicas.InitializeAsync();

    public Task DisposeAsync() => _replicas.DisposeAsync();

    [Fact]
    public async Task Watchers_of_a_killed_replica_resume_on_the_other_from_their_cursor_without_gaps_or_duplicates()
    {
        var (a, b) = (_replicas.A, _replicas.B);
        var ns = "replica-kill";
        // Bounds, not timings: a loaded machine makes everything slow, and a stuck stream must fail the test, not hang it.
        using var patience = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var token = patience.Token;

        var watchers = Enumerable.Range(0, Watchers).Select(_ => new Watcher()).ToArray();
        var calls = watchers.Select(w => a.Store.WatchNamespace(new WatchNamespaceRequest { Namespace = ns, Since = 0 }, cancellationToken: token)).ToArray();
        var readers = watchers.Zip(calls, (watcher, call) => watcher.ReadAsync(call, stopAt: null, token)).ToArray();

        // Writers through both replicas; the one on A fails over to B when A is gone, as a client behind a balancer would.
        var acknowledged = new ConcurrentDictionary<string, string>();
        var aDown = false;
        using var stopWriters = new CancellationTokenSource();
        var writers = new[] { (Name: "a", Replica: a), (Name: "b", Replica: b) }.Select(writer => Task.Run(async () =>
        {
            for (var i = 0; !stopWriters.IsCancellationRequested; i++)
            {
                var store = writer.Replica == a && Volatile.Read(ref aDown) ? b.Store : writer.Replica.Store;
                try
                {
                    var name = $"{writer.Name}-{i}";
                    var created = await store.CreateExperimentAsync(new CreateExperimentRequest { Name = name, Namespace = ns }, deadline: DateTime.UtcNow.AddMinutes(1));
                    acknowledged[created.ExperimentId] = name;
                }
                catch (RpcException) when (store == a.Store)
                {
                    // A write cut by the kill: not acknowledged, so it may or may not be in the log.
                    Volatile.Write(ref aDown, true);
                }
            }
        })).ToArray();

        await Task.WhenAll(watchers.Select(w => w.WaitForAsync(5, token)));
        await a.KillAsync();
        Volatile.Write(ref aDown, true);
        foreach (var reader in readers)
        {
            // The stream ends with an error (the connection was cut); what it had delivered stays delivered.
            await Assert.ThrowsAnyAsync<RpcException>(() => reader);
        }

        var beforeResume = watchers.Select(w => w.Count).ToArray();
        output.WriteLine($"A killed; the watchers had received {string.Join(", ", beforeResume)} changes");
        var resumed = watchers.Select(w => (Watcher: w, Call: b.Store.WatchNamespace(new WatchNamespaceRequest { Namespace = ns, Since = w.LastSequence }, cancellationToken: token))).ToArray();
        var resumedReaders = resumed.Select(r => r.Watcher.ReadAsync(r.Call, stopAt: "end", token)).ToArray();

        // More writes through B after the resume; then a marker that ends every reader.
        await Task.WhenAll(watchers.Select((w, i) => w.WaitForAsync(beforeResume[i] + 5, token)));
        await stopWriters.CancelAsync();
        await Task.WhenAll(writers);
        await b.Store.CreateExperimentAsync(new CreateExperimentRequest { Name = "end", Namespace = ns }, cancellationToken: token);
        await Task.WhenAll(resumedReaders);
        foreach (var call in calls.Concat(resumed.Select(r => r.Call)))
        {
            call.Dispose();
        }

        // The namespace's whole change log, read afresh from B, is what every watcher received: no gap, no duplicate.
        var complete = new Watcher();
        using (var fresh = b.Store.WatchNamespace(new WatchNamespaceRequest { Namespace = ns, Since = 0 }, cancellationToken: token))
        {
            await complete.ReadAsync(fresh, stopAt: "end", token);
        }

        output.WriteLine($"{acknowledged.Count} acknowledged writes, {complete.Count} changes in the log");
        foreach (var watcher in watchers)
        {
            Assert.Equal(complete.Sequences, watcher.Sequences);
        }

        var created = complete.Changes.Where(c => c.Event == ChangeEvent.ObjectCreated).Select(c => c.ObjectId).ToHashSet();
        Assert.All(acknowledged, pair => Assert.True(created.Contains(pair.Key), $"acknowledged experiment {pair.Key} ({pair.Value}) is not in the change log"));
        var names = b.Store.ListExperiments(new ListExperimentsRequest { Namespace = ns }).Experiments.ToDictionary(e => e.Id, e => e.Name);
        Assert.All(acknowledged, pair => Assert.Equal(pair.Value, names.GetValueOrDefault(pair.Key)));
        _replicas.AssertNoErrorsLogged();
    }

    /// <summary>One watcher's view: every change it received, in order, across the streams it read.</summary>
    private sealed class Watcher
    {
        private readonly List<WatchNamespaceResponse> _changes = [];

        public int Count
        {
            get
            {
                lock (_changes)
                {
                    return _changes.Count;
                }
            }
        }

        public ulong LastSequence
        {
            get
            {
                lock (_changes)
                {
                    return _changes.Count == 0 ? 0 : _changes[^1].Sequence;
                }
            }
        }

        public List<WatchNamespaceResponse> Changes
        {
            get
            {
                lock (_changes)
                {
                    return [.. _changes];
                }
            }
        }

        public List<ulong> Sequences => Changes.Select(c => c.Sequence).ToList();

        /// <summary>Reads until the creation of the experiment named <paramref name="stopAt"/> (or, without one, until the
        /// stream ends or fails).</summary>
        public async Task ReadAsync(AsyncServerStreamingCall<WatchNamespaceResponse> call, string? stopAt, CancellationToken token)
        {
            while (await call.ResponseStream.MoveNext(token))
            {
                var change = call.ResponseStream.Current;
                lock (_changes)
                {
                    _changes.Add(change);
                }

                if (stopAt is not null && change.Event == ChangeEvent.ObjectCreated
                    && change.Payload.StructValue.Fields.TryGetValue("name", out var name) && name.StringValue == stopAt)
                {
                    return;
                }
            }

            Assert.Fail("the watch stream ended before the end marker");
        }

        public async Task WaitForAsync(int count, CancellationToken token)
        {
            while (Count < count)
            {
                await Task.Delay(20, token);
            }
        }
    }
}

/// <summary>Two replicas on PostgreSQL (LISTEN/NOTIFY wakes the watchers).</summary>
public sealed class PostgresReplicaKillTests(ITestOutputHelper output) : ReplicaKillTests<PostgresReplicaPair>(output);
