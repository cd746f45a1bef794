using Grpc.Core;
using Grpc.Net.Client;
using ModelBox.Domain;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Grpc;

/// <summary>Labels, aliases, unique tags, datasets, lineage and search over raw gRPC against the real server.</summary>
[Collection(ServerCollection.Name)]
public sealed class RegistryGrpcTests : IDisposable
{
    private static readonly string UnknownModel = ObjectIds.Model("nowhere", Guid.NewGuid().ToString());
    private static readonly string UnknownVersion = ObjectIds.ModelVersion(UnknownModel, "1");

    private readonly ModelStore.ModelStoreClient _client;
    private readonly GrpcChannel _channel;
    private readonly string _namespace = "grpc-reg-" + Guid.NewGuid().ToString("N")[..12];

    public RegistryGrpcTests(ModelBoxServerFixture server) => _client = server.CreateGrpcClient(out _channel);

    public void Dispose() => _channel.Dispose();

    private async Task<string> ModelAsync(string name) =>
        (await _client.CreateModelAsync(new CreateModelRequest { Name = name, Namespace = _namespace, Owner = "ops" })).Id;

    private async Task<string> VersionAsync(string modelId, string version, params string[] tags)
    {
        var request = new CreateModelVersionRequest { Model = modelId, Version = version, Framework = MLFramework.Onnx };
        request.UniqueTags.Add(tags);
        return (await _client.CreateModelVersionAsync(request)).ModelVersion;
    }

    [Fact]
    public async Task Labels_filter_lists_and_come_back_on_gets()
    {
        var prod = await ModelAsync("prod-model");
        var pii = await ModelAsync("pii-model");
        var plain = await ModelAsync("plain-model");
        await _client.SetLabelsAsync(new SetLabelsRequest { ObjectId = prod, Labels = { ["env"] = "production" } });
        await _client.SetLabelsAsync(new SetLabelsRequest { ObjectId = pii, Labels = { ["env"] = "production", ["privacy"] = "pii" } });

        async Task<List<string>> ListAsync(string selector) =>
            (await _client.ListModelsAsync(new ListModelsRequest { Namespace = _namespace, LabelSelector = selector })).Models.Select(m => m.Name).Order().ToList();

        Assert.Equal(["pii-model", "prod-model"], await ListAsync("env=production"));
        Assert.Equal(["prod-model"], await ListAsync("env=production,privacy!=pii"));
        Assert.Equal(["plain-model"], await ListAsync("!env"));
        Assert.Equal(["pii-model"], await ListAsync("privacy in (pii, secret)"));
        Assert.Equal(3, (await ListAsync(string.Empty)).Count);
        Assert.Equal("pii", (await _client.GetModelAsync(new GetModelRequest { Id = pii })).Model.Labels["privacy"]);

        var removed = await _client.RemoveLabelsAsync(new RemoveLabelsRequest { ObjectId = pii, Keys = { "privacy" } });
        Assert.Equal(1, removed.NumChanged);
        Assert.Equal(["pii-model", "prod-model"], await ListAsync("env=production,privacy!=pii"));
        _ = plain;
    }

    [Fact]
    public async Task An_alias_moves_atomically_resolves_by_reference_and_is_audited_with_the_header_actor()
    {
        var model = await ModelAsync("asr");
        var v1 = await VersionAsync(model, "1.0");
        var v2 = await VersionAsync(model, "2.0");
        var actor = new global::Grpc.Core.Metadata { { "x-modelbox-actor", "deploy-bot" } };

        var first = await _client.SetModelAliasAsync(new SetModelAliasRequest { ModelId = model, Alias = "production", VersionId = v1 }, actor);
        Assert.Empty(first.PreviousVersionId);
        var moved = await _client.SetModelAliasAsync(new SetModelAliasRequest { ModelId = model, Alias = "production", VersionId = v2, Actor = "alice" });
        Assert.Equal(v1, moved.PreviousVersionId);

        Assert.Equal(v2, (await _client.GetModelVersionAsync(new GetModelVersionRequest { ModelId = model, Alias = "production" })).ModelVersion.Id);
        Assert.Equal(v2, (await _client.GetModelVersionAsync(new GetModelVersionRequest { Reference = $"{_namespace}/asr@production" })).ModelVersion.Id);
        Assert.Equal(v1, (await _client.GetModelVersionAsync(new GetModelVersionRequest { Reference = $"{_namespace}/asr:1.0" })).ModelVersion.Id);

        var events = (await _client.ListEventsAsync(new ListEventsRequest { ParentId = model })).Events.Where(e => e.Name == "audit.alias_set").ToList();
        Assert.Equal(["deploy-bot", "alice"], events.Select(e => e.Source.Name));
        Assert.Equal(v1, events[1].Metadata.Metadata_["old"].StringValue);
        Assert.Equal(v2, events[1].Metadata.Metadata_["new"].StringValue);

        var changes = new List<WatchNamespaceResponse>();
        using var watch = _client.WatchNamespace(new WatchNamespaceRequest { Namespace = _namespace, Since = 0 });
        while (await watch.ResponseStream.MoveNext(CancellationToken.None))
        {
            if (watch.ResponseStream.Current.ObjectKind == "alias")
            {
                changes.Add(watch.ResponseStream.Current);
            }

            if (changes.Count == 2)
            {
                break;
            }
        }

        Assert.Equal(v2, changes[1].Payload.StructValue.Fields["version_id"].StringValue);
        Assert.Equal(ChangeEvent.ObjectUpdated, changes[1].Event);

        var deleted = await _client.DeleteModelAliasAsync(new DeleteModelAliasRequest { ModelId = model, Alias = "production" });
        Assert.Equal(v2, deleted.Alias.VersionId);
        var gone = await Assert.ThrowsAsync<RpcException>(() => _client.GetModelVersionAsync(new GetModelVersionRequest { Reference = $"{_namespace}/asr@production" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task A_unique_tag_moves_to_the_newest_version_that_claims_it()
    {
        var model = await ModelAsync("tagged");
        var v1 = await VersionAsync(model, "1", "production");
        var v2 = await VersionAsync(model, "2", "production");
        var versions = (await _client.ListModelVersionsAsync(new ListModelVersionsRequest { Model = model })).ModelVersions;
        Assert.Empty(versions.Single(v => v.Id == v1).UniqueTags);
        Assert.Equal(["production"], versions.Single(v => v.Id == v2).UniqueTags);

        var back = await _client.UpdateUniqueTagsAsync(new UpdateUniqueTagsRequest { VersionId = v1, Add = { "production" } });
        Assert.Equal(["production"], back.ModelVersion.UniqueTags);
        Assert.Empty((await _client.GetModelVersionAsync(new GetModelVersionRequest { Id = v2 })).ModelVersion.UniqueTags);
    }

    [Fact]
    public async Task Lineage_datasets_and_the_three_queries()
    {
        var experiment = (await _client.CreateExperimentAsync(new CreateExperimentRequest { Name = "run", Namespace = _namespace })).ExperimentId;
        var checkpoint = (await _client.CreateCheckpointAsync(new CreateCheckpointRequest { ExperimentId = experiment, Epoch = 5 })).CheckpointId;
        var data = await _client.CreateDatasetAsync(new CreateDatasetRequest { Namespace = _namespace, Name = "corpus", Digest = "sha256:0100000000000000000000000000000000000000000000000000000000000000", Uri = "s3://b/c" });
        var again = await _client.CreateDatasetAsync(new CreateDatasetRequest { Namespace = _namespace, Name = "corpus", Digest = "sha256:0100000000000000000000000000000000000000000000000000000000000000" });
        Assert.True(again.VersionExists);
        var model = await ModelAsync("lineage");
        var baseRequest = new CreateModelVersionRequest
        {
            Model = model,
            Version = "base",
            Lineage = new LineageSpec { CheckpointId = checkpoint, Datasets = { new DatasetLink { DatasetVersionId = data.Version.Id } } },
        };
        var baseVersion = (await _client.CreateModelVersionAsync(baseRequest)).ModelVersion;
        var tuned = (await _client.CreateModelVersionAsync(new CreateModelVersionRequest
        {
            Model = model,
            Version = "tuned",
            Lineage = new LineageSpec { DerivedFrom = { new DerivationLink { VersionId = baseVersion, Relation = "fine-tuning" } } },
        })).ModelVersion;

        var lineage = await _client.GetLineageAsync(new GetLineageRequest { VersionId = tuned });
        Assert.Equal(baseVersion, lineage.Ancestors.Single().Version.Id);
        Assert.Equal(experiment, lineage.Ancestors.Single().ExperimentId);
        var baseLineage = await _client.GetLineageAsync(new GetLineageRequest { VersionId = baseVersion });
        Assert.Equal(experiment, baseLineage.Experiment.Id);
        Assert.Equal(checkpoint, baseLineage.Checkpoint.Id);
        Assert.Equal("corpus", baseLineage.Datasets.Single().Dataset.Name);
        Assert.Equal(tuned, baseLineage.Descendants.Single().Id);

        Assert.Equal([baseVersion], (await _client.ListVersionsTrainedInAsync(new ListVersionsTrainedInRequest { ExperimentId = experiment })).ModelVersions.Select(v => v.Id));
        var usage = await _client.GetDatasetUsageAsync(new GetDatasetUsageRequest { DatasetId = data.Dataset.Id });
        Assert.Equal([baseVersion], usage.ModelVersions.Select(v => v.Id));
        Assert.Equal([experiment], usage.Experiments.Select(e => e.Id));

        var cycle = await Assert.ThrowsAsync<RpcException>(() => _client.SetLineageAsync(new SetLineageRequest
        {
            SubjectId = baseVersion,
            Lineage = new LineageSpec { DerivedFrom = { new DerivationLink { VersionId = tuned } } },
        }).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, cycle.StatusCode);
    }

    [Fact]
    public async Task Search_finds_by_labels_metadata_and_metrics_with_or_and_pages()
    {
        for (var i = 0; i < 5; i++)
        {
            var id = (await _client.CreateExperimentAsync(new CreateExperimentRequest
            {
                Name = $"exp-{i}",
                Namespace = _namespace,
                Metadata = new Protocol.Metadata { Metadata_ = { ["lr"] = Google.Protobuf.WellKnownTypes.Value.ForNumber(i / 10.0) } },
            })).ExperimentId;
            await _client.SetLabelsAsync(new SetLabelsRequest { ObjectId = id, Labels = { ["env"] = i == 0 ? "production" : "dev" } });
            await _client.LogMetricsAsync(new LogMetricsRequest { ParentId = id, Key = "accuracy", Value = new MetricsValue { Step = 1, DVal = 0.8 + (i * 0.05) } });
        }

        var found = await _client.SearchExperimentsAsync(new SearchRequest
        {
            Namespace = _namespace,
            Filter = "metrics.accuracy > 0.9 and metadata.lr >= 0.3 or labels.env = 'production'",
            OrderBy = "name",
        });
        Assert.Equal(["exp-0", "exp-3", "exp-4"], found.Experiments.Select(e => e.Name));
        Assert.Equal("production", found.Experiments[0].Labels["env"]);

        var names = new List<string>();
        var token = string.Empty;
        do
        {
            var page = await _client.SearchExperimentsAsync(new SearchRequest { Namespace = _namespace, OrderBy = "name desc", PageSize = 2, PageToken = token });
            names.AddRange(page.Experiments.Select(e => e.Name));
            token = page.NextPageToken;
        }
        while (token.Length > 0);
        Assert.Equal(["exp-4", "exp-3", "exp-2", "exp-1", "exp-0"], names);
    }

    private sealed record Case(StatusCode Status, string MessagePart, Func<ModelStore.ModelStoreClient, Task> Call);

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["SetLabels without object"] = new(StatusCode.InvalidArgument, "object_id", c => c.SetLabelsAsync(new SetLabelsRequest { Labels = { ["a"] = "b" } }).ResponseAsync),
        ["SetLabels on a checkpoint"] = new(StatusCode.InvalidArgument, "labels belong to", c => c.SetLabelsAsync(new SetLabelsRequest { ObjectId = ObjectIds.Checkpoint(ObjectIds.Experiment("x", "y"), 1), Labels = { ["a"] = "b" } }).ResponseAsync),
        ["SetLabels bad key"] = new(StatusCode.InvalidArgument, "labels key", c => c.SetLabelsAsync(new SetLabelsRequest { ObjectId = UnknownModel, Labels = { ["bad key"] = "b" } }).ResponseAsync),
        ["SetLabels bad value"] = new(StatusCode.InvalidArgument, "labels['a']", c => c.SetLabelsAsync(new SetLabelsRequest { ObjectId = UnknownModel, Labels = { ["a"] = "x y" } }).ResponseAsync),
        ["SetLabels unknown object"] = new(StatusCode.NotFound, UnknownModel, c => c.SetLabelsAsync(new SetLabelsRequest { ObjectId = UnknownModel, Labels = { ["a"] = "b" } }).ResponseAsync),
        ["SetLabels nothing"] = new(StatusCode.InvalidArgument, "labels is required", c => c.SetLabelsAsync(new SetLabelsRequest { ObjectId = UnknownModel }).ResponseAsync),
        ["RemoveLabels without keys"] = new(StatusCode.InvalidArgument, "keys", c => c.RemoveLabelsAsync(new RemoveLabelsRequest { ObjectId = UnknownModel }).ResponseAsync),
        ["ListModels bad selector"] = new(StatusCode.InvalidArgument, "label_selector: unexpected character ';' in the value of 'env' at position 9", c => c.ListModelsAsync(new ListModelsRequest { LabelSelector = "env=prod;x" }).ResponseAsync),
        ["SetModelAlias bad alias"] = new(StatusCode.InvalidArgument, "alias", c => c.SetModelAliasAsync(new SetModelAliasRequest { ModelId = UnknownModel, Alias = "a b", VersionId = UnknownVersion }).ResponseAsync),
        ["SetModelAlias unknown model"] = new(StatusCode.NotFound, UnknownModel, c => c.SetModelAliasAsync(new SetModelAliasRequest { ModelId = UnknownModel, Alias = "prod", VersionId = UnknownVersion }).ResponseAsync),
        ["SetModelAlias version id of a model"] = new(StatusCode.InvalidArgument, "version_id", c => c.SetModelAliasAsync(new SetModelAliasRequest { ModelId = UnknownModel, Alias = "prod", VersionId = UnknownModel }).ResponseAsync),
        ["GetModelAlias unknown"] = new(StatusCode.NotFound, "alias 'prod'", c => c.GetModelAliasAsync(new GetModelAliasRequest { ModelId = UnknownModel, Alias = "prod" }).ResponseAsync),
        ["GetModelVersion bad reference"] = new(StatusCode.InvalidArgument, "reference", c => c.GetModelVersionAsync(new GetModelVersionRequest { Reference = "just-a-name" }).ResponseAsync),
        ["GetModelVersion unknown reference"] = new(StatusCode.NotFound, "model 'x' in namespace 'nowhere'", c => c.GetModelVersionAsync(new GetModelVersionRequest { Reference = "nowhere/x@prod" }).ResponseAsync),
        ["UpdateUniqueTags nothing"] = new(StatusCode.InvalidArgument, "add or remove", c => c.UpdateUniqueTagsAsync(new UpdateUniqueTagsRequest { VersionId = UnknownVersion }).ResponseAsync),
        ["CreateDataset without digest"] = new(StatusCode.InvalidArgument, "digest", c => c.CreateDatasetAsync(new CreateDatasetRequest { Name = "d" }).ResponseAsync),
        ["GetDataset unknown"] = new(StatusCode.NotFound, "dataset", c => c.GetDatasetAsync(new GetDatasetRequest { Id = ObjectIds.Dataset("nowhere", "d") }).ResponseAsync),
        ["GetDatasetUsage with a model id"] = new(StatusCode.InvalidArgument, "dataset_id", c => c.GetDatasetUsageAsync(new GetDatasetUsageRequest { DatasetId = UnknownModel }).ResponseAsync),
        ["SetLineage experiment with parents"] = new(StatusCode.InvalidArgument, "only name datasets", c => c.SetLineageAsync(new SetLineageRequest { SubjectId = ObjectIds.Experiment("x", "y"), Lineage = new LineageSpec { DerivedFrom = { new DerivationLink { VersionId = UnknownVersion } } } }).ResponseAsync),
        ["SetLineage unknown dataset version"] = new(StatusCode.InvalidArgument, "dataset_version_id", c => c.SetLineageAsync(new SetLineageRequest { SubjectId = UnknownVersion, Lineage = new LineageSpec { Datasets = { new DatasetLink { DatasetVersionId = UnknownModel } } } }).ResponseAsync),
        ["GetLineage unknown"] = new(StatusCode.NotFound, UnknownVersion, c => c.GetLineageAsync(new GetLineageRequest { VersionId = UnknownVersion }).ResponseAsync),
        ["SearchModels unknown field"] = new(StatusCode.InvalidArgument, "filter: unknown field 'colour'", c => c.SearchModelsAsync(new SearchRequest { Filter = "colour = 'red'" }).ResponseAsync),
        ["SearchExperiments missing value"] = new(StatusCode.InvalidArgument, "ends where a condition was expected at position 27", c => c.SearchExperimentsAsync(new SearchRequest { Filter = "metrics.accuracy > 0.9 and" }).ResponseAsync),
        ["SearchModelVersions bad order"] = new(StatusCode.InvalidArgument, "order_by", c => c.SearchModelVersionsAsync(new SearchRequest { OrderBy = "owner" }).ResponseAsync),
        ["SearchModels foreign page token"] = new(StatusCode.InvalidArgument, "page_token", c => c.SearchModelsAsync(new SearchRequest { PageSize = 1, PageToken = PageTokens.Encode("other", "1", "x") }).ResponseAsync),
    };

    public static TheoryData<string> CaseNames() => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Bad_registry_input_gets_its_status_naming_the_field(string caseName)
    {
        var expected = Cases[caseName];
        var error = await Assert.ThrowsAsync<RpcException>(() => expected.Call(_client));
        Assert.Equal(expected.Status, error.StatusCode);
        Assert.Contains(expected.MessagePart, error.Status.Detail, StringComparison.Ordinal);
    }
}
