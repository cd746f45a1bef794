using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Namespaces;

/// <summary>Namespaces as paths (<c>team/project/sweeps</c>): accepted everywhere, listed and watched by subtree.</summary>
[Collection(ServerCollection.Name)]
public sealed class HierarchicalNamespaceTests(ModelBoxServerFixture server) : IDisposable
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);
    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(server.Address);
    private readonly HttpClient _http = new() { BaseAddress = new Uri(server.HttpAddress) };
    private readonly string _root = "tree-" + Guid.NewGuid().ToString("N")[..10];
    private ModelStore.ModelStoreClient Client => new(_channel);

    public void Dispose()
    {
        _channel.Dispose();
        _http.Dispose();
    }

    [Fact]
    public async Task Listing_a_namespace_shows_its_own_objects_and_recursive_listing_its_subtree_not_its_prefix_siblings()
    {
        // "<root>x" shares the root's prefix but is not below it; "<root>/a/b" is two levels down.
        string[] namespaces = [_root, $"{_root}/a", $"{_root}/a/b", $"{_root}x", $"{_root}-a"];
        foreach (var ns in namespaces)
        {
            await Client.CreateExperimentAsync(new CreateExperimentRequest { Namespace = ns, Name = "run" });
            await Client.CreateModelAsync(new CreateModelRequest { Namespace = ns, Name = "net" });
            await Client.CreateDatasetAsync(new CreateDatasetRequest { Namespace = ns, Name = "data", Digest = "sha256:" + new string('a', 64) });
        }

        var own = await Client.ListExperimentsAsync(new ListExperimentsRequest { Namespace = _root });
        Assert.Equal([_root], own.Experiments.Select(e => e.Namespace));

        string[] subtree = [_root, $"{_root}/a", $"{_root}/a/b"];
        var experiments = await Client.ListExperimentsAsync(new ListExperimentsRequest { Namespace = _root, Recursive = true });
        Assert.Equal(subtree, experiments.Experiments.Select(e => e.Namespace).Order(StringComparer.Ordinal));
        var models = await Client.ListModelsAsync(new ListModelsRequest { Namespace = _root, Recursive = true });
        Assert.Equal(subtree, models.Models.Select(m => m.Namespace).Order(StringComparer.Ordinal));
        var datasets = await Client.ListDatasetsAsync(new ListDatasetsRequest { Namespace = _root, Recursive = true });
        Assert.Equal(subtree, datasets.Datasets.Select(d => d.Namespace).Order(StringComparer.Ordinal));
        var middle = await Client.ListModelsAsync(new ListModelsRequest { Namespace = $"{_root}/a", Recursive = true });
        Assert.Equal([$"{_root}/a", $"{_root}/a/b"], middle.Models.Select(m => m.Namespace).Order(StringComparer.Ordinal));

        var searched = await Client.SearchModelsAsync(new SearchRequest { Namespace = _root, Recursive = true, Filter = "name = 'net'" });
        Assert.Equal(subtree, searched.Models.Select(m => m.Namespace).Order(StringComparer.Ordinal));
        var searchedOwn = await Client.SearchModelsAsync(new SearchRequest { Namespace = $"{_root}/a" });
        Assert.Equal([$"{_root}/a"], searchedOwn.Models.Select(m => m.Namespace));
    }

    [Fact]
    public async Task A_recursive_watch_sees_changes_below_its_namespace_and_none_beside_it()
    {
        using var cancel = new CancellationTokenSource(HangGuard);
        using var watch = Client.WatchNamespace(new WatchNamespaceRequest { Namespace = _root, Recursive = true }, cancellationToken: cancel.Token);
        using var plain = Client.WatchNamespace(new WatchNamespaceRequest { Namespace = $"{_root}/a" }, cancellationToken: cancel.Token);
        var beside = await Client.CreateExperimentAsync(new CreateExperimentRequest { Namespace = $"{_root}x", Name = "beside" });
        var deep = await Client.CreateExperimentAsync(new CreateExperimentRequest { Namespace = $"{_root}/a/b", Name = "deep" });
        var child = await Client.CreateExperimentAsync(new CreateExperimentRequest { Namespace = $"{_root}/a", Name = "child" });
        var top = await Client.CreateExperimentAsync(new CreateExperimentRequest { Namespace = _root, Name = "top" });

        var seen = new List<string>();
        while (seen.Count < 3 && await watch.ResponseStream.MoveNext(cancel.Token))
        {
            seen.Add(watch.ResponseStream.Current.ObjectId);
        }

        Assert.Equal([deep.ExperimentId, child.ExperimentId, top.ExperimentId], seen);
        Assert.DoesNotContain(beside.ExperimentId, seen);
        Assert.True(await plain.ResponseStream.MoveNext(cancel.Token));
        Assert.Equal(child.ExperimentId, plain.ResponseStream.Current.ObjectId);

        // The backlog of a recursive watch is the subtree's too.
        using var replay = Client.WatchNamespace(new WatchNamespaceRequest { Namespace = $"{_root}/a", Recursive = true }, cancellationToken: cancel.Token);
        Assert.True(await replay.ResponseStream.MoveNext(cancel.Token));
        Assert.Equal(deep.ExperimentId, replay.ResponseStream.Current.ObjectId);
        Assert.True(await replay.ResponseStream.MoveNext(cancel.Token));
        Assert.Equal(child.ExperimentId, replay.ResponseStream.Current.ObjectId);
    }

    [Theory]
    [InlineData("a//b")]
    [InlineData("/a")]
    [InlineData("a/")]
    [InlineData("a/../b")]
    [InlineData("a/./b")]
    [InlineData("a/b c")]
    public async Task Malformed_paths_are_refused_naming_the_namespace(string ns)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.CreateExperimentAsync(new CreateExperimentRequest { Namespace = ns, Name = "x" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("namespace", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rest_routes_take_a_path_namespace_url_encoded()
    {
        var ns = $"{_root}/rest/x";
        using var created = await _http.PostAsJsonAsync("/api/v1/experiments", new { name = "run", @namespace = ns });
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("experimentId").GetString();

        var list = await _http.GetFromJsonAsync<JsonElement>($"/api/v1/namespaces/{Uri.EscapeDataString(ns)}/experiments");
        Assert.Equal(id, Assert.Single(list.GetProperty("experiments").EnumerateArray()).GetProperty("id").GetString());
        var tree = await _http.GetFromJsonAsync<JsonElement>($"/api/v1/namespaces/{Uri.EscapeDataString($"{_root}/rest")}/experiments?recursive=true");
        Assert.Equal(id, Assert.Single(tree.GetProperty("experiments").EnumerateArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task A_model_reference_takes_a_path_namespace_and_model_names_with_slashes_still_resolve()
    {
        var ns = $"{_root}/models";
        var model = await Client.CreateModelAsync(new CreateModelRequest { Namespace = ns, Name = "yolo" });
        var version = await Client.CreateModelVersionAsync(new CreateModelVersionRequest { Model = model.Id, Version = "1" });
        await Client.SetModelAliasAsync(new SetModelAliasRequest { ModelId = model.Id, Alias = "prod", VersionId = version.ModelVersion });
        // A model whose name has a '/' in a one-segment namespace: the reference splits at the deepest namespace that has it.
        var slashed = await Client.CreateModelAsync(new CreateModelRequest { Namespace = _root, Name = "org/bert" });
        var slashedVersion = await Client.CreateModelVersionAsync(new CreateModelVersionRequest { Model = slashed.Id, Version = "2" });

        var byAlias = await Client.GetModelVersionAsync(new GetModelVersionRequest { Reference = $"{ns}/yolo@prod" });
        Assert.Equal(version.ModelVersion, byAlias.ModelVersion.Id);
        var bySlashedName = await Client.GetModelVersionAsync(new GetModelVersionRequest { Reference = $"{_root}/org/bert:2" });
        Assert.Equal(slashedVersion.ModelVersion, bySlashedName.ModelVersion.Id);
    }
}
