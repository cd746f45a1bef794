using ModelBox.Domain;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.Tests;

/// <summary>The behaviour every <see cref="IMlflowExperimentStore"/> backend must have. Backends subclass it with a factory.</summary>
public abstract class MlflowExperimentStoreSpecification : BackendSpecification
{
    private IMlflowExperimentStore Experiments => (IMlflowExperimentStore)Backend.Store;

    private static MlflowExperimentRecord Record(long number, string name, string @namespace) => new(
        number, name, @namespace, $"mlflow-artifacts:/{number}", new Dictionary<string, string> { ["team"] = "speech" }, T0, T0, null);

    [Fact]
    public async Task A_record_is_created_once_per_number_name_and_namespace_and_read_back_by_each()
    {
        var created = await Experiments.CreateMlflowExperimentAsync(Record(42, "/Users/ana/Speech ✓", "Users-ana-Speech-1a2b"));
        Assert.False(created.Existed);
        Assert.True((await Experiments.CreateMlflowExperimentAsync(Record(42, "other", "other"))).Existed);
        Assert.True((await Experiments.CreateMlflowExperimentAsync(Record(43, "/Users/ana/Speech ✓", "other"))).Existed);
        var sameNamespace = await Experiments.CreateMlflowExperimentAsync(Record(44, "third", "Users-ana-Speech-1a2b"));
        Assert.True(sameNamespace.Existed);
        Assert.Equal(42, sameNamespace.Value.Number);

        var byNumber = await Experiments.GetMlflowExperimentAsync(42);
        var byName = await Experiments.FindMlflowExperimentByNameAsync("/Users/ana/Speech ✓");
        Assert.Equal("Users-ana-Speech-1a2b", byNumber!.Namespace);
        Assert.Equal("speech", byName!.Tags["team"]);
        Assert.Equal(T0, byName.CreatedAt);
        Assert.Null(await Experiments.GetMlflowExperimentAsync(43));
        Assert.Null(await Experiments.FindMlflowExperimentByNameAsync("/users/ana/speech ✓"));
    }

    [Fact]
    public async Task Updates_rename_tag_delete_and_restore_but_keep_number_and_namespace_and_refuse_a_taken_name()
    {
        await Experiments.CreateMlflowExperimentAsync(Record(1, "a", "ns-a"));
        await Experiments.CreateMlflowExperimentAsync(Record(2, "b", "ns-b"));
        var renamed = await Experiments.UpdateMlflowExperimentAsync(1, r => r with
        {
            Name = "a2",
            Namespace = "ignored",
            Tags = new Dictionary<string, string>(r.Tags) { ["stage"] = "dev" },
            DeletedAt = T0.AddMinutes(1),
        });
        Assert.Equal("ns-a", renamed!.Namespace);
        var stored = await Experiments.GetMlflowExperimentAsync(1);
        Assert.Equal("a2", stored!.Name);
        Assert.Equal("dev", stored.Tags["stage"]);
        Assert.Equal(T0.AddMinutes(1), stored.DeletedAt);
        Assert.Null(await Experiments.FindMlflowExperimentByNameAsync("a"));

        var restored = await Experiments.UpdateMlflowExperimentAsync(1, r => r with { DeletedAt = null });
        Assert.Null((await Experiments.GetMlflowExperimentAsync(1))!.DeletedAt);
        Assert.NotNull(restored);

        var taken = await Assert.ThrowsAsync<ModelBoxException>(() => Experiments.UpdateMlflowExperimentAsync(1, r => r with { Name = "b" }));
        Assert.Equal(ErrorKind.AlreadyExists, taken.Kind);
        Assert.Null(await Experiments.UpdateMlflowExperimentAsync(99, r => r));
    }

    [Fact]
    public async Task Listing_pages_by_ascending_number_with_deleted_records()
    {
        foreach (var number in new long[] { 30, 10, 20 })
        {
            await Experiments.CreateMlflowExperimentAsync(Record(number, $"e{number}", $"ns{number}"));
        }

        await Experiments.UpdateMlflowExperimentAsync(20, r => r with { DeletedAt = T0 });
        var first = await Experiments.ListMlflowExperimentsAsync(new PageRequest(2, null));
        Assert.Equal([10L, 20L], first.Items.Select(r => r.Number));
        var second = await Experiments.ListMlflowExperimentsAsync(new PageRequest(2, first.NextPageToken));
        Assert.Equal([30L], second.Items.Select(r => r.Number));
        Assert.Null(second.NextPageToken);
    }
}
