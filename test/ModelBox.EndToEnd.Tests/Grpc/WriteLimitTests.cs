using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using ModelBox.Domain;
using ModelBox.Domain.Search;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Grpc;

/// <summary>
/// Writes that would poison later reads (metadata too deep for protobuf to parse back, too much metadata on one object)
/// and selectors too large for SQLite are refused up front; the largest accepted ones work on every read path.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class WriteLimitTests(ModelBoxServerFixture server) : IDisposable
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);
    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(server.Address);
    private readonly string _namespace = "limits-" + Guid.NewGuid().ToString("N")[..12];
    private ModelStore.ModelStoreClient Client => new(_channel);

    public void Dispose() => _channel.Dispose();

    [Fact]
    public async Task Metadata_nested_past_the_limit_is_refused_and_the_object_its_listing_and_the_watch_still_work()
    {
        using var cancel = new CancellationTokenSource(HangGuard);
        using var watch = Client.WatchNamespace(new WatchNamespaceRequest { Namespace = _namespace }, cancellationToken: cancel.Token);
        var experiment = await NewExperimentAsync();

        var update = await Assert.ThrowsAsync<RpcException>(() => Client.UpdateMetadataAsync(Update(experiment, "deep", NestedArrays(47))).ResponseAsync);
        var create = new CreateExperimentRequest { Namespace = _namespace, Name = "deep-on-create", Metadata = new Protocol.Metadata() };
        create.Metadata.Metadata_["deep"] = Nested(Validation.MaxMetadataDepth + 1);
        var created = await Assert.ThrowsAsync<RpcException>(() => Client.CreateExperimentAsync(create).ResponseAsync);
        await Client.UpdateMetadataAsync(Update(experiment, "after", Value.ForNumber(1)));

        Assert.Equal(StatusCode.InvalidArgument, update.StatusCode);
        Assert.Contains("metadata['deep']", update.Status.Detail, StringComparison.Ordinal);
        Assert.Contains($"{Validation.MaxMetadataDepth} levels", update.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.InvalidArgument, created.StatusCode);
        Assert.Contains("metadata['deep']", created.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(1, (await Client.GetExperimentAsync(new GetExperimentRequest { Id = experiment })).Experiment.Metadata.Metadata_["after"].NumberValue);
        Assert.Equal([experiment], (await Client.ListExperimentsAsync(new ListExperimentsRequest { Namespace = _namespace })).Experiments.Select(e => e.Id));
        var changes = await ReadAsync(watch.ResponseStream, 2, cancel.Token);
        Assert.Equal([experiment, experiment], changes.Select(c => c.ObjectId));
    }

    [Fact]
    public async Task Metadata_at_the_deepest_accepted_nesting_round_trips_through_reads_listings_and_the_change_stream()
    {
        using var cancel = new CancellationTokenSource(HangGuard);
        using var watch = Client.WatchNamespace(new WatchNamespaceRequest { Namespace = _namespace }, cancellationToken: cancel.Token);
        var deepest = Nested(Validation.MaxMetadataDepth);
        var create = new CreateExperimentRequest { Namespace = _namespace, Name = "deepest", Metadata = new Protocol.Metadata() };
        create.Metadata.Metadata_["on-create"] = deepest;
        var experiment = (await Client.CreateExperimentAsync(create)).ExperimentId;
        await Client.UpdateMetadataAsync(Update(experiment, "deep", deepest));

        var got = await Client.GetExperimentAsync(new GetExperimentRequest { Id = experiment });
        var listed = await Client.ListExperimentsAsync(new ListExperimentsRequest { Namespace = _namespace });
        var metadata = await Client.ListMetadataAsync(new ListMetadataRequest { ParentId = experiment });
        var changes = await ReadAsync(watch.ResponseStream, 2, cancel.Token);

        Assert.Equal(deepest, got.Experiment.Metadata.Metadata_["deep"]);
        Assert.Equal(deepest, got.Experiment.Metadata.Metadata_["on-create"]);
        Assert.Equal(deepest, listed.Experiments.Single().Metadata.Metadata_["deep"]);
        Assert.Equal(deepest, metadata.Metadata["deep"]);
        Assert.Equal([experiment, experiment], changes.Select(c => c.ObjectId));
        Assert.Contains(changes, c => c.Payload.ToString().Contains("\"deep\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Metadata_stored_before_the_limits_is_served_as_a_marker_for_that_value_only_and_the_namespace_stays_readable_and_watchable()
    {
        using var cancel = new CancellationTokenSource(HangGuard);
        using var watch = Client.WatchNamespace(new WatchNamespaceRequest { Namespace = _namespace }, cancellationToken: cancel.Token);
        var experiment = await NewExperimentAsync();
        var big = System.Text.Json.JsonSerializer.Serialize(new string('x', 900 * 1024));

        // What an older ModelBox accepted: written past the domain's checks, straight into the store.
        var store = server.Server.Services.GetRequiredService<Domain.Storage.IObjectMetadataStore>();
        await store.UpdateMetadataAsync(
            experiment,
            new Dictionary<string, string>
            {
                ["fine"] = "{\"lr\":0.01}",
                ["poison"] = string.Concat(Enumerable.Repeat("[", 50)) + "1" + string.Concat(Enumerable.Repeat("]", 50)),
                ["edge"] = Google.Protobuf.JsonFormatter.Default.Format(Nested(Validation.MaxMetadataDepth)),
                ["over"] = Google.Protobuf.JsonFormatter.Default.Format(Nested(Validation.MaxMetadataDepth + 1)),
            },
            DateTimeOffset.UtcNow);
        foreach (var key in new[] { "big-1", "big-2" })
        {
            await store.UpdateMetadataAsync(experiment, new Dictionary<string, string> { [key] = big }, DateTimeOffset.UtcNow);
        }

        // The store refuses a third itself; an older ModelBox checked 1 MiB per value only.
        await using (var database = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(server.DataDir, "modelbox.db")};Pooling=False"))
        {
            await database.OpenAsync();
            await using var insert = database.CreateCommand();
            insert.CommandText = "INSERT INTO object_metadata (object_id, \"key\", value_json, updated_at) VALUES ($id, 'big-3', $json, 0)";
            insert.Parameters.AddWithValue("$id", experiment);
            insert.Parameters.AddWithValue("$json", big);
            await insert.ExecuteNonQueryAsync();
        }

        var got = (await Client.GetExperimentAsync(new GetExperimentRequest { Id = experiment })).Experiment.Metadata.Metadata_;
        var listed = await Client.ListExperimentsAsync(new ListExperimentsRequest { Namespace = _namespace });
        var metadata = (await Client.ListMetadataAsync(new ListMetadataRequest { ParentId = experiment })).Metadata;
        var searched = await Client.SearchExperimentsAsync(new SearchRequest { Namespace = _namespace });
        var changes = await ReadAsync(watch.ResponseStream, 4, cancel.Token);

        Assert.Equal(0.01, got["fine"].StructValue.Fields["lr"].NumberValue);
        var poison = got["poison"].StructValue.Fields["modelbox_unreadable"].StringValue;
        Assert.Contains("metadata['poison']", poison, StringComparison.Ordinal);
        Assert.Contains($"{Validation.MaxMetadataDepth} levels", poison, StringComparison.Ordinal);
        Assert.Equal(Validation.MaxMetadataDepth, Depth(got["edge"]));
        Assert.Contains($"{Validation.MaxMetadataDepth} levels", got["over"].StructValue.Fields["modelbox_unreadable"].StringValue, StringComparison.Ordinal);
        Assert.Equal(900 * 1024, got["big-1"].StringValue.Length);
        Assert.Equal(900 * 1024, got["big-2"].StringValue.Length);
        Assert.Contains($"{Validation.MaxMetadataBytesPerObject} bytes", got["big-3"].StructValue.Fields["modelbox_unreadable"].StringValue, StringComparison.Ordinal);
        Assert.Equal([experiment], listed.Experiments.Select(e => e.Id));
        Assert.Equal(got, listed.Experiments.Single().Metadata.Metadata_);
        Assert.Equal(got, metadata);
        Assert.Equal([experiment], searched.Experiments.Select(e => e.Id));
        Assert.Contains("modelbox_unreadable", changes[1].Payload.ToString(), StringComparison.Ordinal);
        Assert.Contains("\"big-1\"", changes[2].Payload.ToString(), StringComparison.Ordinal);

        // Deleting the key ends its marker; the stream goes on.
        await Client.DeleteMetadataAsync(new DeleteMetadataRequest { ParentId = experiment, Keys = { "poison", "over", "big-3" } });
        var after = (await Client.GetExperimentAsync(new GetExperimentRequest { Id = experiment })).Experiment.Metadata.Metadata_;
        Assert.Equal(["big-1", "big-2", "edge", "fine"], after.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(experiment, (await ReadAsync(watch.ResponseStream, 1, cancel.Token)).Single().ObjectId);
    }

    private static int Depth(Value value) => value.KindCase switch
    {
        Value.KindOneofCase.StructValue => 1 + Depth(value.StructValue.Fields.Single().Value),
        _ => 0,
    };

    [Fact]
    public async Task Metadata_beyond_the_per_object_total_is_refused_naming_the_limit_and_the_object_stays_readable()
    {
        var experiment = await NewExperimentAsync();
        var value = Value.ForString(new string('x', 900 * 1024));
        await Client.UpdateMetadataAsync(Update(experiment, "a", value));
        await Client.UpdateMetadataAsync(Update(experiment, "b", value));

        var tooMuch = await Assert.ThrowsAsync<RpcException>(() => Client.UpdateMetadataAsync(Update(experiment, "c", value)).ResponseAsync);
        var replaced = await Client.UpdateMetadataAsync(Update(experiment, "a", Value.ForString("small")));
        var many = new UpdateMetadataRequest { ParentId = experiment, Metadata = new Protocol.Metadata() };
        for (var i = 0; i <= Validation.MaxMetadataKeys; i++)
        {
            many.Metadata.Metadata_[$"k{i}"] = Value.ForNumber(i);
        }

        var tooMany = await Assert.ThrowsAsync<RpcException>(() => Client.UpdateMetadataAsync(many).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, tooMuch.StatusCode);
        Assert.Contains($"limit is {Validation.MaxMetadataBytesPerObject} bytes per object", tooMuch.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(1, replaced.NumKeysWritten);
        Assert.Equal(StatusCode.InvalidArgument, tooMany.StatusCode);
        Assert.Contains($"limit is {Validation.MaxMetadataKeys} keys per object", tooMany.Status.Detail, StringComparison.Ordinal);
        var got = await Client.GetExperimentAsync(new GetExperimentRequest { Id = experiment });
        Assert.Equal(["a", "b"], got.Experiment.Metadata.Metadata_.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_selector_of_a_thousand_requirements_is_refused_naming_the_limit()
    {
        // 3,999 characters: under the length limit, as the selector that used to answer INTERNAL.
        var selector = string.Join(',', Enumerable.Repeat("a=b", 1000));

        var experiments = await Assert.ThrowsAsync<RpcException>(() => Client.ListExperimentsAsync(new ListExperimentsRequest { Namespace = _namespace, LabelSelector = selector }).ResponseAsync);
        var models = await Assert.ThrowsAsync<RpcException>(() => Client.ListModelsAsync(new ListModelsRequest { Namespace = _namespace, LabelSelector = selector }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, experiments.StatusCode);
        Assert.Contains($"the limit is {LabelSelector.MaxRequirements}", experiments.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.InvalidArgument, models.StatusCode);
    }

    [Fact]
    public async Task The_largest_accepted_selector_runs_and_selects()
    {
        var experiment = await NewExperimentAsync();
        var other = await NewExperimentAsync();
        var labels = new SetLabelsRequest { ObjectId = experiment };
        for (var i = 0; i < LabelSelector.MaxRequirements; i++)
        {
            labels.Labels[$"k{i}"] = "v";
        }

        await Client.SetLabelsAsync(labels);
        // Mixes every requirement kind; all hold for the labelled experiment only.
        var requirements = Enumerable.Range(0, LabelSelector.MaxRequirements).Select(i => (i % 4) switch
        {
            0 => $"k{i}=v",
            1 => $"k{i} in (v,w,x)",
            2 => $"k{i}",
            _ => $"k{i}!=w",
        });
        var selector = string.Join(',', requirements);

        var listed = await Client.ListExperimentsAsync(new ListExperimentsRequest { Namespace = _namespace, LabelSelector = selector });

        Assert.Equal([experiment], listed.Experiments.Select(e => e.Id));
        Assert.DoesNotContain(other, listed.Experiments.Select(e => e.Id));
    }

    [Fact]
    public async Task The_largest_accepted_filter_runs_and_one_comparison_more_is_refused()
    {
        var experiment = await NewExperimentAsync();
        await NewExperimentAsync();
        await Client.SetLabelsAsync(new SetLabelsRequest { ObjectId = experiment, Labels = { ["k"] = "v" } });
        await Client.UpdateMetadataAsync(Update(experiment, "m", Value.ForNumber(2)));
        var kinds = new[] { "labels.k = 'v'", "metadata.m >= 1", "has(labels.k)", "labels.k in ('v', 'w')", "metadata.m != 3", $"namespace = '{_namespace}'" };
        string Filter(int comparisons)
        {
            // 32 pairs of NOT and '(' nest to the deepest accepted level and cancel out.
            var inner = string.Join(" and ", Enumerable.Range(0, comparisons).Select(i => kinds[i % kinds.Length]));
            return string.Concat(Enumerable.Repeat("not (", 32)) + inner + new string(')', 32);
        }

        var found = await Client.SearchExperimentsAsync(new SearchRequest { Namespace = _namespace, Filter = Filter(FilterParser.MaxComparisons) });
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.SearchExperimentsAsync(new SearchRequest { Namespace = _namespace, Filter = Filter(FilterParser.MaxComparisons + 1) }).ResponseAsync);

        Assert.Equal([experiment], found.Experiments.Select(e => e.Id));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains($"the limit is {FilterParser.MaxComparisons}", error.Status.Detail, StringComparison.Ordinal);
    }

    private async Task<string> NewExperimentAsync() =>
        (await Client.CreateExperimentAsync(new CreateExperimentRequest { Namespace = _namespace, Name = Guid.NewGuid().ToString("N") })).ExperimentId;

    /// <summary>
    /// Objects nested to the given depth, <c>{"n":{"n":...1...}}</c>: the costliest nesting for protobuf (Value, Struct
    /// and the map entry per level).
    /// </summary>
    private static Value Nested(int levels)
    {
        var value = Value.ForNumber(1);
        for (var i = 0; i < levels; i++)
        {
            value = Value.ForStruct(new Struct { Fields = { ["n"] = value } });
        }

        return value;
    }

    /// <summary>
    /// Arrays nested to the given depth, <c>[[...[1]...]]</c>: 47 levels still parse in a request but no longer in a
    /// change-stream message, which is what used to poison the namespace.
    /// </summary>
    private static Value NestedArrays(int levels)
    {
        var value = Value.ForNumber(1);
        for (var i = 0; i < levels; i++)
        {
            value = Value.ForList(value);
        }

        return value;
    }

    private static UpdateMetadataRequest Update(string parentId, string key, Value value)
    {
        var request = new UpdateMetadataRequest { ParentId = parentId, Metadata = new Protocol.Metadata() };
        request.Metadata.Metadata_[key] = value;
        return request;
    }

    private static async Task<List<WatchNamespaceResponse>> ReadAsync(IAsyncStreamReader<WatchNamespaceResponse> stream, int count, CancellationToken cancellationToken)
    {
        var changes = new List<WatchNamespaceResponse>();
        while (changes.Count < count)
        {
            Assert.True(await stream.MoveNext(cancellationToken), "the watch ended early");
            changes.Add(stream.Current);
        }

        return changes;
    }
}
