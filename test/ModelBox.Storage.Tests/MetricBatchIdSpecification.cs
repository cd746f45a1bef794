using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Storage;
using ModelBox.Storage.Relational;

namespace ModelBox.Storage.Tests;

/// <summary>Batch ids: a batch appended again under its id is stored once, whoever sends it and however often.</summary>
public abstract partial class MetricStoreSpecification
{
    private static MetricSeriesPoints[] StepsBatch(int first, int count) =>
        [new MetricSeriesPoints(Run, "loss", Enumerable.Range(first, count).Select(i => MetricPoint.OfDouble(i, 1_714_564_800 + i, i)).ToArray())];

    [Fact]
    public async Task A_batch_id_stores_its_batch_once_and_a_repeat_answers_the_first_count()
    {
        Assert.Equal(3, await Store.AppendOnceAsync("batch-1", StepsBatch(0, 3)));
        // Repeats, even with other points, store nothing and answer the first count; another id stores its batch.
        Assert.Equal(3, await Store.AppendOnceAsync("batch-1", StepsBatch(0, 3)));
        Assert.Equal(3, await Store.AppendOnceAsync("batch-1", StepsBatch(100, 7)));
        Assert.Equal(2, await Store.AppendOnceAsync("batch-2", StepsBatch(3, 2)));

        var points = Assert.Single(await Store.ReadAllAsync(Run)).Points;
        Assert.Equal([0L, 1, 2, 3, 4], points.Select(p => p.Step));
        var whole = Assert.Single(await Store.ReadBucketsAsync(Run, "loss", 63, 0, long.MaxValue)).Summary;
        Assert.Equal(5, whole.Count);
    }

    [Fact]
    public async Task Batch_ids_stored_before_a_time_are_forgotten_and_a_forgotten_id_stores_its_batch_again()
    {
        Assert.Equal(3, await Store.AppendOnceAsync("kept", StepsBatch(0, 3)));
        Assert.Equal(0, await Store.ForgetBatchIdsAsync(DateTimeOffset.UtcNow.AddHours(-1)));
        Assert.Equal(3, await Store.AppendOnceAsync("kept", StepsBatch(0, 3)));

        // Ids are stored with their time in whole seconds: two seconds ahead covers every id stored so far.
        Assert.Equal(1, await Store.ForgetBatchIdsAsync(DateTimeOffset.UtcNow.AddSeconds(2)));
        Assert.Equal(0, await Store.ForgetBatchIdsAsync(DateTimeOffset.UtcNow.AddSeconds(2)));
        Assert.Equal(2, await Store.AppendOnceAsync("kept", StepsBatch(10, 2)));
        Assert.Equal([0L, 1, 2, 10, 11], Assert.Single(await Store.ReadAllAsync(Run)).Points.Select(p => p.Step));
    }

    [Fact]
    public async Task One_batch_id_sent_at_once_through_two_replicas_is_stored_once()
    {
        var replica = Factory.OpenReplica(new InProcessChangeSignal());
        try
        {
            IMetricStore[] stores = [Store, new RelationalMetricStore(replica)];
            for (var round = 0; round < 5; round++)
            {
                var id = $"round-{round}";
                var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => stores[i % 2].AppendOnceAsync(id, StepsBatch(round * 10, 4))));
                Assert.All(answers, answer => Assert.Equal(4, answer));
            }

            var points = Assert.Single(await Store.ReadAllAsync(Run)).Points;
            Assert.Equal(20, points.Count);
            Assert.Equal(20, points.Select(p => p.Step).Distinct().Count());
        }
        finally
        {
            await ((IAsyncDisposable)replica.Dialect).DisposeAsync();
        }
    }
}
