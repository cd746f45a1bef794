using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using ModelBox.Domain;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Grpc;

/// <summary>UpdateMetadata, ListMetadata, DeleteMetadata, LogEvent and ListEvents over the wire, with their bad input.</summary>
[Collection(ServerCollection.Name)]
public sealed class MetadataAndEventTests(ModelBoxServerFixture server) : IDisposable
{
    private static readonly string UnknownExperiment = ObjectIds.Experiment("nowhere", Guid.NewGuid().ToString());

    private sealed record Case(StatusCode Status, string MessagePart, Func<ModelStore.ModelStoreClient, Task> Call);

    private static readonly Dictionary<string, Case> BadInput = new()
    {
        ["UpdateMetadata without parent"] = new(StatusCode.InvalidArgument, "parent_id", c => c.UpdateMetadataAsync(new UpdateMetadataRequest()).ResponseAsync),
        ["UpdateMetadata malformed parent"] = new(StatusCode.InvalidArgument, "not a ModelBox id", c => c.UpdateMetadataAsync(new UpdateMetadataRequest { ParentId = "x/y" }).ResponseAsync),
        ["UpdateMetadata unknown parent"] = new(StatusCode.NotFound, UnknownExperiment, c => c.UpdateMetadataAsync(Update(UnknownExperiment, "a", Value.ForNumber(1))).ResponseAsync),
        ["UpdateMetadata value over 1 MiB"] = new(StatusCode.InvalidArgument, "metadata['big']", c => c.UpdateMetadataAsync(Update(UnknownExperiment, "big", Value.ForString(new string('x', 1024 * 1024)))).ResponseAsync),
        ["UpdateMetadata NaN"] = new(StatusCode.InvalidArgument, "metadata['loss']", c => c.UpdateMetadataAsync(Update(UnknownExperiment, "loss", Value.ForNumber(double.NaN))).ResponseAsync),
        ["UpdateMetadata empty key"] = new(StatusCode.InvalidArgument, "empty key", c => c.UpdateMetadataAsync(Update(UnknownExperiment, "", Value.ForNumber(1))).ResponseAsync),
        ["ListMetadata unknown parent"] = new(StatusCode.NotFound, UnknownExperiment, c => c.ListMetadataAsync(new ListMetadataRequest { ParentId = UnknownExperiment }).ResponseAsync),
        ["ListMetadata without parent"] = new(StatusCode.InvalidArgument, "parent_id", c => c.ListMetadataAsync(new ListMetadataRequest()).ResponseAsync),
        ["DeleteMetadata unknown parent"] = new(StatusCode.NotFound, UnknownExperiment, c => c.DeleteMetadataAsync(new DeleteMetadataRequest { ParentId = UnknownExperiment, Keys = { "a" } }).ResponseAsync),
        ["DeleteMetadata empty key"] = new(StatusCode.InvalidArgument, "keys", c => c.DeleteMetadataAsync(new DeleteMetadataRequest { ParentId = UnknownExperiment, Keys = { "" } }).ResponseAsync),
        ["LogEvent without event"] = new(StatusCode.InvalidArgument, "event", c => c.LogEventAsync(new LogEventRequest { ParentId = UnknownExperiment }).ResponseAsync),
        ["LogEvent without name"] = new(StatusCode.InvalidArgument, "event.name", c => c.LogEventAsync(new LogEventRequest { ParentId = UnknownExperiment, Event = new Protocol.Event() }).ResponseAsync),
        ["LogEvent unknown parent"] = new(StatusCode.NotFound, UnknownExperiment, c => c.LogEventAsync(new LogEventRequest { ParentId = UnknownExperiment, Event = new Protocol.Event { Name = "x" } }).ResponseAsync),
        ["LogEvent bad nanos"] = new(StatusCode.InvalidArgument, "event.wallclock_time", c => c.LogEventAsync(new LogEventRequest { ParentId = UnknownExperiment, Event = new Protocol.Event { Name = "x", WallclockTime = new Timestamp { Seconds = 1, Nanos = -5 } } }).ResponseAsync),
        ["LogEvent time beyond 2262"] = new(StatusCode.InvalidArgument, "event.wallclock_time", c => c.LogEventAsync(new LogEventRequest { ParentId = UnknownExperiment, Event = new Protocol.Event { Name = "x", WallclockTime = new Timestamp { Seconds = 253402300799 } } }).ResponseAsync),
        ["ListEvents unknown parent"] = new(StatusCode.NotFound, UnknownExperiment, c => c.ListEventsAsync(new ListEventsRequest { ParentId = UnknownExperiment }).ResponseAsync),
        ["ListEvents malformed page token"] = new(StatusCode.InvalidArgument, "page_token", c => c.ListEventsAsync(new ListEventsRequest { ParentId = UnknownExperiment, PageToken = "%%" }).ResponseAsync),
        ["WatchNamespace bad namespace"] = new(StatusCode.InvalidArgument, "namespace", async c =>
        {
            using var call = c.WatchNamespace(new WatchNamespaceRequest { Namespace = "a b" });
            await call.ResponseStream.MoveNext();
        }),
    };

    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(server.Address);
    private ModelStore.ModelStoreClient Client => new(_channel);

    public static TheoryData<string> CaseNames() => new(BadInput.Keys);

    public void Dispose() => _channel.Dispose();

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Bad_input_gets_its_status_naming_the_field_or_id(string caseName)
    {
        var expected = BadInput[caseName];
        var error = await Assert.ThrowsAsync<RpcException>(() => expected.Call(Client));
        Assert.Equal(expected.Status, error.StatusCode);
        Assert.Contains(expected.MessagePart, error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpdateMetadata_replaces_named_keys_keeps_the_others_and_reports_what_it_wrote()
    {
        var before = DateTimeOffset.UtcNow.AddSeconds(-5);
        var experiment = await NewExperimentAsync();
        var first = Update(experiment, "lr", Value.ForNumber(0.1));
        first.Metadata.Metadata_["layers"] = Value.ForList(Value.ForNumber(1), Value.ForStruct(new Struct { Fields = { ["k"] = Value.ForNull() } }));
        await Client.UpdateMetadataAsync(first);

        var second = await Client.UpdateMetadataAsync(Update(experiment, "lr", Value.ForString("0.01")));
        var listed = await Client.ListMetadataAsync(new ListMetadataRequest { ParentId = experiment });

        Assert.Equal(1, second.NumKeysWritten);
        Assert.InRange(second.UpdatedAt.ToDateTimeOffset(), before, DateTimeOffset.UtcNow.AddSeconds(5));
        Assert.Equal("0.01", listed.Metadata["lr"].StringValue);
        Assert.Equal(Value.KindOneofCase.NullValue, listed.Metadata["layers"].ListValue.Values[1].StructValue.Fields["k"].KindCase);
        Assert.Equal(2, listed.Metadata.Count);
    }

    [Fact]
    public async Task DeleteMetadata_removes_the_named_keys_and_counts_those_that_existed()
    {
        var experiment = await NewExperimentAsync();
        var update = Update(experiment, "a", Value.ForNumber(1));
        update.Metadata.Metadata_["b"] = Value.ForNumber(2);
        await Client.UpdateMetadataAsync(update);

        var deleted = await Client.DeleteMetadataAsync(new DeleteMetadataRequest { ParentId = experiment, Keys = { "a", "zzz" } });

        Assert.Equal(1, deleted.NumKeysDeleted);
        Assert.Equal(["b"], (await Client.ListMetadataAsync(new ListMetadataRequest { ParentId = experiment })).Metadata.Keys);
    }

    [Fact]
    public async Task Metadata_of_a_deleted_object_is_not_found()
    {
        var experiment = await NewExperimentAsync();
        await Client.DeleteExperimentAsync(new DeleteExperimentRequest { Id = experiment });

        var error = await Assert.ThrowsAsync<RpcException>(() => Client.ListMetadataAsync(new ListMetadataRequest { ParentId = experiment }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    [Fact]
    public async Task Events_keep_nanoseconds_and_metadata_are_two_when_logged_twice_and_list_after_since_page_by_page()
    {
        var experiment = await NewExperimentAsync();
        var at = new Timestamp { Seconds = 1_714_564_800, Nanos = 123_456_789 };
        var logged = new Protocol.Event { Name = "deployed", Source = new EventSource { Name = "ci" }, WallclockTime = at, Metadata = new Protocol.Metadata() };
        logged.Metadata.Metadata_["commit"] = Value.ForString("abc");
        await Client.LogEventAsync(new LogEventRequest { ParentId = experiment, Event = logged });
        await Client.LogEventAsync(new LogEventRequest { ParentId = experiment, Event = logged });
        var later = logged.Clone();
        later.WallclockTime = new Timestamp { Seconds = at.Seconds + 60 };
        await Client.LogEventAsync(new LogEventRequest { ParentId = experiment, Event = later });

        var all = await Client.ListEventsAsync(new ListEventsRequest { ParentId = experiment });
        var page1 = await Client.ListEventsAsync(new ListEventsRequest { ParentId = experiment, PageSize = 2 });
        var page2 = await Client.ListEventsAsync(new ListEventsRequest { ParentId = experiment, PageSize = 2, PageToken = page1.NextPageToken });
        var since = await Client.ListEventsAsync(new ListEventsRequest { ParentId = experiment, Since = at });

        Assert.Equal(3, all.Events.Count);
        Assert.NotEqual(all.Events[0].Id, all.Events[1].Id);
        Assert.Equal(at, all.Events[0].WallclockTime);
        Assert.Equal("ci", all.Events[0].Source.Name);
        Assert.Equal("abc", all.Events[0].Metadata.Metadata_["commit"].StringValue);
        Assert.Equal(experiment, all.Events[0].ParentId);
        Assert.Equal(all.Events.Select(e => e.Id), page1.Events.Concat(page2.Events).Select(e => e.Id));
        Assert.Equal("", page2.NextPageToken);
        Assert.Equal([later.WallclockTime], since.Events.Select(e => e.WallclockTime));
    }

    private async Task<string> NewExperimentAsync() =>
        (await Client.CreateExperimentAsync(new CreateExperimentRequest { Namespace = "meta-events", Name = Guid.NewGuid().ToString("N") })).ExperimentId;

    private static UpdateMetadataRequest Update(string parentId, string key, Value value)
    {
        var request = new UpdateMetadataRequest { ParentId = parentId, Metadata = new Protocol.Metadata() };
        request.Metadata.Metadata_[key] = value;
        return request;
    }
}
