using ModelBox.Domain;
using ModelBox.Domain.Changes;

namespace ModelBox.Storage.Tests;

/// <summary>
/// The change log every backend must keep: one record per change, written with the change, in commit order; and the
/// change feed on top of it (backlog then live, no gap, no duplicate, bounded buffers).
/// </summary>
public abstract class ChangeLogSpecification : BackendSpecification
{
    // ---- The write side: every write appends its records ----

    [Fact]
    public async Task Creating_each_kind_appends_one_created_record_with_the_stored_state()
    {
        var experiment = await CreateExperimentAsync("lab", "run");
        var checkpoint = (await Store.CreateCheckpointAsync(Checkpoint(experiment.Id, 3))).Value;
        var model = await CreateModelAsync("lab", "net");
        var version = (await Store.CreateModelVersionAsync(Version(model.Id, "1.0"))).Value;

        var log = await ReadLogAsync("lab");

        Assert.Equal(
            [("experiment", experiment.Id), ("checkpoint", checkpoint.Id), ("model", model.Id), ("model_version", version.Id)],
            log.Select(r => (r.ObjectKind, r.ObjectId)));
        Assert.All(log, r => Assert.Equal(ChangeType.Created, r.Change));
        Assert.All(log, r => Assert.Equal("lab", r.Namespace));
        Assert.True(log.Zip(log.Skip(1)).All(pair => pair.First.Sequence < pair.Second.Sequence));
        Assert.Equal("run", State(log[0]).GetProperty("name").GetString());
        Assert.Equal("running", State(log[0]).GetProperty("status").GetString());
        Assert.Equal(3, State(log[1]).GetProperty("epoch").GetInt64());
        Assert.Equal("lab", State(log[1]).GetProperty("namespace").GetString());
        Assert.Equal("onnx", State(log[3]).GetProperty("framework").GetString());
        Assert.Equal("prod", State(log[3]).GetProperty("unique_tags")[0].GetString());
        Assert.Equal(log[^1].Sequence, await Backend.ChangeLog.ReadLastSequenceAsync());
    }

    [Fact]
    public async Task A_subtree_is_listed_and_its_log_read_without_its_prefix_siblings()
    {
        string[] namespaces = ["lab", "lab/a", "lab/a/b", "lab-x", "lab0", "labx", "la"];
        var experiments = new List<Experiment>();
        foreach (var ns in namespaces)
        {
            experiments.Add(await CreateExperimentAsync(ns, "run"));
            await CreateModelAsync(ns, "net");
        }

        string[] subtree = ["lab", "lab/a", "lab/a/b"];
        var listed = await Store.ListExperimentsAsync(new NamespaceScope("lab", Recursive: true), new PageRequest(100, null));
        Assert.Equal(subtree, listed.Items.Select(e => e.Namespace).Order(StringComparer.Ordinal));
        var models = await Store.ListModelsAsync(new NamespaceScope("lab/a", Recursive: true), new PageRequest(100, null));
        Assert.Equal(["lab/a", "lab/a/b"], models.Items.Select(m => m.Namespace).Order(StringComparer.Ordinal));
        Assert.Equal(["lab"], (await Store.ListExperimentsAsync("lab", new PageRequest(100, null))).Items.Select(e => e.Namespace));

        var page = await Backend.ChangeLog.ReadChangePageAsync(new NamespaceScope("lab", Recursive: true), 0, 100, 1 << 20);
        Assert.Equal(
            experiments.Take(3).Select(e => e.Id),
            page.Records.Where(r => r.ObjectKind == "experiment").Select(r => r.ObjectId));
        Assert.All(page.Records, r => Assert.True(NamespaceScope.IsWithin(r.Namespace, "lab"), r.Namespace));
    }

    [Fact]
    public async Task A_repeated_create_that_finds_the_object_appends_nothing()
    {
        var experiment = await CreateExperimentAsync("lab", "run");
        await Store.CreateCheckpointAsync(Checkpoint(experiment.Id, 1));
        var model = await CreateModelAsync("lab", "net");
        await Store.CreateModelVersionAsync(Version(model.Id, "1"));
        var before = await ReadLogAsync("lab");

        await Store.CreateExperimentAsync(Experiment("lab", "run", T0.AddHours(1)));
        await Store.CreateCheckpointAsync(Checkpoint(experiment.Id, 1, T0.AddHours(1)));
        await Store.CreateModelAsync(Model("lab", "net", T0.AddHours(1)));
        await Store.CreateModelVersionAsync(Version(model.Id, "1", T0.AddHours(1)));

        Assert.Equal(before, await ReadLogAsync("lab"));
    }

    [Fact]
    public async Task Updating_an_experiment_appends_an_updated_record_with_the_new_state()
    {
        var experiment = await CreateExperimentAsync("lab", "run");

        await Store.UpdateExperimentAsync(experiment.Id, new ExperimentChanges(ExperimentStatus.Failed, "oom", null), T0.AddMinutes(5));

        var update = (await ReadLogAsync("lab"))[^1];
        Assert.Equal((ChangeType.Updated, experiment.Id), (update.Change, update.ObjectId));
        Assert.Equal("failed", State(update).GetProperty("status").GetString());
        Assert.Equal("oom", State(update).GetProperty("description").GetString());
        Assert.Equal(T0.AddMinutes(5), update.ChangedAt);
    }

    [Fact]
    public async Task Deleting_an_experiment_reports_it_and_each_checkpoint_it_took_along_and_restoring_reports_them_back()
    {
        var experiment = await CreateExperimentAsync("lab", "run");
        var first = (await Store.CreateCheckpointAsync(Checkpoint(experiment.Id, 1))).Value;
        var second = (await Store.CreateCheckpointAsync(Checkpoint(experiment.Id, 2))).Value;
        var start = (await ReadLogAsync("lab"))[^1].Sequence;

        await Store.DeleteExperimentAsync(experiment.Id, T0.AddHours(1));
        await Store.DeleteExperimentAsync(experiment.Id, T0.AddHours(2)); // already deleted: no new records
        var deletes = await ReadLogAsync("lab", start);
        await Store.RestoreExperimentAsync(experiment.Id, T0.AddHours(3));
        var restores = await ReadLogAsync("lab", deletes[^1].Sequence);

        Assert.Equal(3, deletes.Count);
        Assert.Equal(experiment.Id, deletes[0].ObjectId);
        Assert.Equal(new[] { first.Id, second.Id }.Order(), deletes.Skip(1).Select(r => r.ObjectId).Order());
        Assert.All(deletes, r => Assert.Equal(ChangeType.Deleted, r.Change));
        Assert.All(deletes, r => Assert.NotEqual(System.Text.Json.JsonValueKind.Null, State(r).GetProperty("deleted_at").ValueKind));
        Assert.Equal(3, restores.Count);
        Assert.All(restores, r => Assert.Equal(ChangeType.Updated, r.Change));
        Assert.All(restores, r => Assert.Equal(System.Text.Json.JsonValueKind.Null, State(r).GetProperty("deleted_at").ValueKind));
        Assert.Equal(new[] { experiment.Id, first.Id, second.Id }.Order(), restores.Select(r => r.ObjectId).Order());
    }

    [Fact]
    public async Task Deleting_a_model_reports_its_versions_and_a_version_delete_and_restore_report_the_version()
    {
        var model = await CreateModelAsync("lab", "net");
        var v1 = (await Store.CreateModelVersionAsync(Version(model.Id, "1"))).Value;
        var v2 = (await Store.CreateModelVersionAsync(Version(model.Id, "2"))).Value;
        var start = (await ReadLogAsync("lab"))[^1].Sequence;

        await Store.DeleteModelVersionAsync(v1.Id, T0.AddHours(1));
        await Store.RestoreModelVersionAsync(v1.Id, T0.AddHours(2));
        await Store.DeleteModelAsync(model.Id, T0.AddHours(3));

        var log = await ReadLogAsync("lab", start);
        Assert.Equal((ChangeType.Deleted, v1.Id, "model_version"), (log[0].Change, log[0].ObjectId, log[0].ObjectKind));
        Assert.Equal((ChangeType.Updated, v1.Id), (log[1].Change, log[1].ObjectId));
        Assert.Equal((ChangeType.Deleted, model.Id, "model"), (log[2].Change, log[2].ObjectId, log[2].ObjectKind));
        Assert.Equal(new[] { v1.Id, v2.Id }.Order(), log.Skip(3).Select(r => r.ObjectId).Order());
        Assert.All(log.Skip(3), r => Assert.Equal(ChangeType.Deleted, r.Change));
        Assert.Equal(5, log.Count);
    }

    [Fact]
    public async Task A_write_that_fails_appends_nothing()
    {
        await CreateExperimentAsync("lab", "run");
        var last = await Backend.ChangeLog.ReadLastSequenceAsync();

        await Assert.ThrowsAsync<ModelBoxException>(() => Store.CreateCheckpointAsync(Checkpoint(ObjectIds.Experiment("lab", "missing"), 1)));
        await Assert.ThrowsAsync<ModelBoxException>(() => Store.CreateModelVersionAsync(Version(ObjectIds.Model("lab", "missing"), "1")));

        Assert.Equal(last, await Backend.ChangeLog.ReadLastSequenceAsync());
    }

    [Fact]
    public async Task Each_namespace_reads_only_its_own_records_and_sequences_are_global()
    {
        var a = await CreateExperimentAsync("a", "run");
        var b = await CreateExperimentAsync("b", "run");
        var a2 = await CreateExperimentAsync("a", "run2");

        var inA = await ReadLogAsync("a");
        var inB = await ReadLogAsync("b");

        Assert.Equal([a.Id, a2.Id], inA.Select(r => r.ObjectId));
        Assert.Equal([b.Id], inB.Select(r => r.ObjectId));
        Assert.True(inA[0].Sequence < inB[0].Sequence && inB[0].Sequence < inA[1].Sequence);
        Assert.Empty(await ReadLogAsync("c"));
    }

    [Fact]
    public async Task Reads_honour_after_and_limit()
    {
        for (var i = 0; i < 5; i++)
        {
            await CreateExperimentAsync("lab", $"run-{i}");
        }

        var all = await ReadLogAsync("lab");
        var page = await Backend.ChangeLog.ReadChangesAsync("lab", all[1].Sequence, 2);

        Assert.Equal(all.Skip(2).Take(2), page);
    }

    [Fact]
    public async Task A_page_holds_no_more_state_than_asked_but_always_one_record_and_says_whether_more_follow()
    {
        for (var i = 0; i < 6; i++)
        {
            await CreateExperimentAsync("lab", $"run-{i}");
        }

        var all = await ReadLogAsync("lab");
        var size = all[0].StateJson.Length;
        Assert.All(all, r => Assert.Equal(size, r.StateJson.Length)); // run-0 .. run-5: states of one length

        var twoAndABit = await Backend.ChangeLog.ReadChangePageAsync("lab", 0, 100, (2 * size) + 1);
        Assert.Equal(all.Take(3), twoAndABit.Records); // the third starts within the budget
        Assert.True(twoAndABit.More);

        var tiny = await Backend.ChangeLog.ReadChangePageAsync("lab", all[0].Sequence, 100, 1);
        Assert.Equal(all.Skip(1).Take(1), tiny.Records);
        Assert.True(tiny.More);

        var byCount = await Backend.ChangeLog.ReadChangePageAsync("lab", 0, 6, long.MaxValue);
        Assert.Equal(all, byCount.Records);
        Assert.True(byCount.More); // a full page by count cannot know that nothing follows

        var rest = await Backend.ChangeLog.ReadChangePageAsync("lab", all[3].Sequence, 100, long.MaxValue);
        Assert.Equal(all.Skip(4), rest.Records);
        Assert.False(rest.More);
        Assert.Empty((await Backend.ChangeLog.ReadChangePageAsync("lab", all[^1].Sequence, 100, 1)).Records);
    }

    [Fact]
    public async Task A_commit_wakes_the_subscribers_of_its_namespace()
    {
        var woken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (Backend.ChangeSignal.Subscribe("lab", () => woken.TrySetResult()))
        {
            await CreateExperimentAsync("lab", "run");
            await woken.Task.WaitAsync(HangGuard);
        }
    }

    // ---- The change feed over this backend ----

    [Fact]
    public async Task A_watch_delivers_the_backlog_then_live_changes_without_gap_or_duplicate()
    {
        await using var feed = new ChangeFeed(Backend.ChangeLog, Backend.ChangeSignal);
        for (var i = 0; i < 5; i++)
        {
            await CreateExperimentAsync("lab", $"backlog-{i}");
        }

        await using var watch = feed.WatchAsync("lab", 0).GetAsyncEnumerator();
        var backlog = await TakeAsync(watch, 5);
        var live = Task.Run(() => TakeAsync(watch, 5));
        for (var i = 0; i < 5; i++)
        {
            await CreateExperimentAsync("lab", $"live-{i}");
            await CreateExperimentAsync("elsewhere", $"live-{i}");
        }

        var received = backlog.Concat(await live.WaitAsync(HangGuard)).ToList();
        Assert.Equal(await ReadLogAsync("lab"), received);
    }

    [Fact]
    public async Task A_watch_from_a_sequence_starts_right_after_it()
    {
        await using var feed = new ChangeFeed(Backend.ChangeLog, Backend.ChangeSignal);
        for (var i = 0; i < 6; i++)
        {
            await CreateExperimentAsync("lab", $"run-{i}");
        }

        var log = await ReadLogAsync("lab");
        await using var watch = feed.WatchAsync("lab", log[2].Sequence).GetAsyncEnumerator();

        Assert.Equal(log.Skip(3), await TakeAsync(watch, 3));
    }

    [Fact]
    public async Task Concurrent_writers_and_watchers_joining_mid_stream_see_every_change_once_in_order()
    {
        const int Writers = 4;
        const int PerWriter = 60;
        await using var feed = new ChangeFeed(Backend.ChangeLog, Backend.ChangeSignal, new ChangeFeedOptions(WatcherBufferSize: 10_000, ReadBatchSize: 7));
        var early = feed.WatchAsync("lab", 0).GetAsyncEnumerator();
        var earlyTask = Task.Run(() => TakeAsync(early, Writers * PerWriter * 2));

        var halfway = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < PerWriter; i++)
            {
                var experiment = await CreateExperimentAsync("lab", $"w{w}-{i}");
                await Store.UpdateExperimentAsync(experiment.Id, new ExperimentChanges(null, $"step {i}", null), T0.AddSeconds(i));
                await CreateExperimentAsync("other", $"w{w}-{i}");
                if (w == 0 && i == PerWriter / 2)
                {
                    halfway.TrySetResult();
                }
            }
        })).ToList();

        // Joins while the writers are busy: part of what it sees is backlog, the rest arrives live.
        await halfway.Task.WaitAsync(HangGuard);
        var late = feed.WatchAsync("lab", 0).GetAsyncEnumerator();
        var lateTask = Task.Run(() => TakeAsync(late, Writers * PerWriter * 2));
        await Task.WhenAll(writers).WaitAsync(HangGuard);

        var log = await ReadLogAsync("lab");
        Assert.Equal(Writers * PerWriter * 2, log.Count);
        Assert.Equal(log, await earlyTask.WaitAsync(HangGuard));
        Assert.Equal(log, await lateTask.WaitAsync(HangGuard));
        await early.DisposeAsync();
        await late.DisposeAsync();
    }

    [Fact]
    public async Task Backlog_and_live_reads_in_pages_of_one_record_by_size_still_deliver_everything_once_in_order()
    {
        for (var i = 0; i < 9; i++)
        {
            await CreateExperimentAsync("lab", $"backlog-{i}");
        }

        // Every page is cut by its byte budget after its first record.
        await using var feed = new ChangeFeed(Backend.ChangeLog, Backend.ChangeSignal, new ChangeFeedOptions(ReadBatchBytes: 1));
        await using var watch = feed.WatchAsync("lab", 0).GetAsyncEnumerator();
        var backlog = await TakeAsync(watch, 9);
        for (var i = 0; i < 7; i++)
        {
            await CreateExperimentAsync("lab", $"live-{i}");
        }

        var live = await TakeAsync(watch, 7);
        Assert.Equal(await ReadLogAsync("lab"), backlog.Concat(live));
    }

    [Fact]
    public async Task A_watcher_whose_buffer_holds_too_many_bytes_is_ended_with_aborted_like_a_full_one()
    {
        await using var feed = new ChangeFeed(Backend.ChangeLog, Backend.ChangeSignal, new ChangeFeedOptions(WatcherBufferBytes: 1));
        await using var slow = feed.WatchAsync("lab", 0).GetAsyncEnumerator();
        await using var fast = feed.WatchAsync("lab", 0, bufferSize: 100, bufferBytes: long.MaxValue).GetAsyncEnumerator();
        await CreateExperimentAsync("lab", "first");
        var received = await TakeAsync(slow, 1);
        await TakeAsync(fast, 1);

        var fastRest = Task.Run(() => TakeAsync(fast, 5));
        for (var i = 0; i < 5; i++)
        {
            await CreateExperimentAsync("lab", $"run-{i}");
        }

        await fastRest.WaitAsync(HangGuard);
        var ended = await Assert.ThrowsAsync<ModelBoxException>(async () =>
        {
            while (true)
            {
                received.AddRange(await TakeAsync(slow, 1));
            }
        });
        Assert.Equal(ErrorKind.Aborted, ended.Kind);
        Assert.Contains("characters of state", ended.Message, StringComparison.Ordinal);
        Assert.Equal(2, received.Count); // the first change, then the one record a buffer always takes
    }

    [Fact]
    public async Task A_watcher_that_falls_behind_is_ended_with_aborted_naming_its_last_sequence_and_resumes_from_it()
    {
        await using var feed = new ChangeFeed(Backend.ChangeLog, Backend.ChangeSignal);
        await using var slow = feed.WatchAsync("lab", 0, bufferSize: 4).GetAsyncEnumerator();
        // Large enough for any burst: it only tells the test when the reader has handed out every change.
        await using var fast = feed.WatchAsync("lab", 0, bufferSize: 100).GetAsyncEnumerator();
        // Both watchers are registered once they received the first change.
        await CreateExperimentAsync("lab", "first");
        var received = await TakeAsync(slow, 1);
        await TakeAsync(fast, 1);

        var fastRest = Task.Run(() => TakeAsync(fast, 20));
        for (var i = 0; i < 20; i++)
        {
            await CreateExperimentAsync("lab", $"run-{i}");
        }

        // The fast watcher got everything, so the reader has offered every change to the slow one too.
        var log = await ReadLogAsync("lab");
        Assert.Equal(log.Skip(1), await fastRest.WaitAsync(HangGuard));
        ModelBoxException? ended = null;
        try
        {
            while (received.Count < log.Count)
            {
                received.AddRange(await TakeAsync(slow, 1));
            }
        }
        catch (ModelBoxException exception)
        {
            ended = exception;
        }

        Assert.NotNull(ended);
        Assert.Equal(ErrorKind.Aborted, ended.Kind);
        var lastDelivered = received[^1].Sequence;
        Assert.Contains($"since={lastDelivered}", ended.Message, StringComparison.Ordinal);
        Assert.Equal(1 + 4, received.Count); // the first change, then what its buffer of four held
        Assert.Equal(log.Take(received.Count), received);

        await using var resumed = feed.WatchAsync("lab", lastDelivered).GetAsyncEnumerator();
        Assert.Equal(log.Skip(received.Count), await TakeAsync(resumed, log.Count - received.Count));
    }

    [Fact]
    public async Task One_reader_serves_all_watchers_of_a_namespace_and_goes_away_with_the_last()
    {
        await using var feed = new ChangeFeed(Backend.ChangeLog, Backend.ChangeSignal);
        var watches = new[] { "a", "a", "a", "b" }.Select(ns => feed.WatchAsync(ns, 0).GetAsyncEnumerator()).ToList();
        var pending = watches.Select(w => w.MoveNextAsync().AsTask()).ToList();
        await CreateExperimentAsync("a", "run");
        await CreateExperimentAsync("b", "run");
        await Task.WhenAll(pending).WaitAsync(HangGuard);

        Assert.Equal(2, feed.ActiveReaders);
        foreach (var watch in watches)
        {
            await watch.DisposeAsync();
        }

        Assert.Equal(0, feed.ActiveReaders);
    }

    [Fact]
    public async Task Shutdown_ends_watchers_with_unavailable()
    {
        var feed = new ChangeFeed(Backend.ChangeLog, Backend.ChangeSignal);
        await using var watch = feed.WatchAsync("lab", 0).GetAsyncEnumerator();
        var first = watch.MoveNextAsync().AsTask();
        await CreateExperimentAsync("lab", "run");
        Assert.True(await first.WaitAsync(HangGuard));

        var delivered = watch.Current.Sequence;
        var next = watch.MoveNextAsync().AsTask();
        await feed.DisposeAsync();

        var error = await Assert.ThrowsAsync<ModelBoxException>(() => next.WaitAsync(HangGuard));
        Assert.Equal(ErrorKind.Unavailable, error.Kind);
        Assert.Contains($"the last sequence delivered is {delivered}", error.Message, StringComparison.Ordinal);
    }
}
