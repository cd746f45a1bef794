using ModelBox.Domain;
using ModelBox.Domain.Changes;

namespace ModelBox.Storage.Tests;

/// <summary>Metadata of any object: key-wise writes and deletes, NOT_FOUND for unknown or deleted objects, a change record per write.</summary>
public abstract class ObjectMetadataSpecification : BackendSpecification
{
    [Fact]
    public async Task An_update_replaces_the_keys_it_names_and_keeps_the_others()
    {
        var experiment = (await Store.CreateExperimentAsync(Experiment("lab", "run") with { Metadata = Metadata(("lr", "0.1"), ("seed", "7")) })).Value;

        var result = await Backend.ObjectMetadata.UpdateMetadataAsync(
            experiment.Id, Metadata(("lr", "0.01"), ("layers", "[1, {\"a\": null}]"), ("name", "\"ünï\"")), T0.AddMinutes(1));

        Assert.Equal(new MetadataWriteResult(3, T0.AddMinutes(1)), result);
        var stored = await Backend.ObjectMetadata.ListMetadataAsync(experiment.Id);
        Assert.Equal(
            Metadata(("lr", "0.01"), ("seed", "7"), ("layers", "[1, {\"a\": null}]"), ("name", "\"ünï\"")).OrderBy(e => e.Key),
            stored!.OrderBy(e => e.Key));
        Assert.Equal(stored, (await Store.GetExperimentAsync(experiment.Id))!.Metadata);
    }

    [Fact]
    public async Task Every_kind_of_object_can_carry_metadata()
    {
        var experiment = await CreateExperimentAsync("lab", "run");
        var checkpoint = (await Store.CreateCheckpointAsync(Checkpoint(experiment.Id, 1))).Value;
        var model = await CreateModelAsync("lab", "net");
        var version = (await Store.CreateModelVersionAsync(Version(model.Id, "1"))).Value;
        var loggedEvent = new LoggedEvent(ObjectIds.NewEvent(T0), experiment.Id, "started", "ci", 1, Metadata(), T0);
        Assert.True(await Backend.Events.LogEventAsync(loggedEvent));

        foreach (var id in new[] { experiment.Id, checkpoint.Id, model.Id, version.Id, loggedEvent.Id })
        {
            await Backend.ObjectMetadata.UpdateMetadataAsync(id, Metadata(("owner", $"\"{id}\"")), T0);
            Assert.Equal($"\"{id}\"", (await Backend.ObjectMetadata.ListMetadataAsync(id))!["owner"]);
        }
    }

    [Fact]
    public async Task Unknown_and_deleted_objects_have_no_metadata()
    {
        var experiment = await CreateExperimentAsync("lab", "run");
        var checkpoint = (await Store.CreateCheckpointAsync(Checkpoint(experiment.Id, 1))).Value;
        await Store.DeleteExperimentAsync(experiment.Id, T0.AddHours(1));
        var last = await Backend.ChangeLog.ReadLastSequenceAsync();

        foreach (var id in new[] { ObjectIds.Model("lab", "never"), experiment.Id, checkpoint.Id, "not-an-id" })
        {
            Assert.Null(await Backend.ObjectMetadata.UpdateMetadataAsync(id, Metadata(("a", "1")), T0));
            Assert.Null(await Backend.ObjectMetadata.ListMetadataAsync(id));
            Assert.Null(await Backend.ObjectMetadata.DeleteMetadataAsync(id, ["a"], T0));
        }

        Assert.Equal(last, await Backend.ChangeLog.ReadLastSequenceAsync());
    }

    [Fact]
    public async Task A_delete_removes_the_keys_it_names_and_counts_only_those_that_existed()
    {
        var model = (await Store.CreateModelAsync(Model("lab", "net") with { Metadata = Metadata(("a", "1"), ("b", "2"), ("c", "3")) })).Value;

        var result = await Backend.ObjectMetadata.DeleteMetadataAsync(model.Id, ["a", "c", "missing"], T0.AddMinutes(2));

        Assert.Equal(new MetadataWriteResult(2, T0.AddMinutes(2)), result);
        Assert.Equal(Metadata(("b", "2")), await Backend.ObjectMetadata.ListMetadataAsync(model.Id));
    }

    [Fact]
    public async Task Each_write_appends_a_metadata_record_in_the_parents_namespace_and_no_op_writes_append_none()
    {
        var experiment = await CreateExperimentAsync("lab", "run");
        var checkpoint = (await Store.CreateCheckpointAsync(Checkpoint(experiment.Id, 1))).Value;
        var start = await Backend.ChangeLog.ReadLastSequenceAsync();

        await Backend.ObjectMetadata.UpdateMetadataAsync(checkpoint.Id, Metadata(("acc", "0.9"), ("tags", "[\"x\"]")), T0.AddMinutes(1));
        await Backend.ObjectMetadata.DeleteMetadataAsync(checkpoint.Id, ["acc", "nope"], T0.AddMinutes(2));
        await Backend.ObjectMetadata.DeleteMetadataAsync(checkpoint.Id, ["nope"], T0.AddMinutes(3));
        await Backend.ObjectMetadata.UpdateMetadataAsync(checkpoint.Id, Metadata(), T0.AddMinutes(4));

        var log = await ReadLogAsync("lab", start);
        Assert.Equal(2, log.Count);
        Assert.All(log, r => Assert.Equal((ChangeObjectKinds.Metadata, checkpoint.Id, ChangeType.Updated), (r.ObjectKind, r.ObjectId, r.Change)));
        Assert.Equal("checkpoint", State(log[0]).GetProperty("parent_kind").GetString());
        Assert.Equal(0.9, State(log[0]).GetProperty("metadata").GetProperty("acc").GetDouble());
        Assert.Equal("x", State(log[0]).GetProperty("metadata").GetProperty("tags")[0].GetString());
        Assert.Equal(["acc"], State(log[1]).GetProperty("deleted_keys").EnumerateArray().Select(k => k.GetString()));
    }
}
