using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Operations;
using ModelBox.Domain.Registry;
using ModelBox.Domain.Search;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.Tests;

/// <summary>
/// The behaviour every <see cref="IRegistryStore"/> backend must have: labels, aliases, moving unique tags, datasets,
/// lineage and search, each write with its change record and audit event. Backends subclass it with a factory.
/// </summary>
public abstract class RegistryStoreSpecification : BackendSpecification
{
    private static readonly AuditContext Alice = new("alice", T0.AddMinutes(1));

    private IRegistryStore Registry => Backend.Registry ?? throw new InvalidOperationException("the backend has no registry store");

    private async Task<List<LoggedEvent>> AuditEventsAsync(string objectId) =>
        (await Backend.Events.ListEventsAsync(objectId, null, PageRequest.All))!.Items.Where(e => e.Name.StartsWith("audit.", StringComparison.Ordinal)).ToList();

    [Fact]
    public async Task Labels_are_set_overwritten_removed_with_a_change_record_and_an_audit_event_each()
    {
        var model = await CreateModelAsync("ops", "asr");
        var set = await Registry.SetLabelsAsync(model.Id, new Dictionary<string, string> { ["env"] = "staging", ["privacy"] = "pii" }, Alice);
        Assert.Equal(2, set!.KeysChanged);
        var moved = await Registry.SetLabelsAsync(model.Id, new Dictionary<string, string> { ["env"] = "production", ["privacy"] = "pii" }, Alice);
        Assert.Equal(1, moved!.KeysChanged);
        var removed = await Registry.RemoveLabelsAsync(model.Id, ["privacy", "absent"], Alice);
        Assert.Equal(1, removed!.KeysChanged);
        Assert.Equal(new Dictionary<string, string> { ["env"] = "production" }, removed.Labels);

        var labels = await Registry.GetLabelsAsync([model.Id]);
        Assert.Equal("production", labels[model.Id]["env"]);

        var changes = (await ReadLogAsync("ops")).Where(c => c.ObjectKind == ChangeObjectKinds.Labels).ToList();
        Assert.Equal(3, changes.Count);
        Assert.All(changes, c => Assert.Equal(model.Id, c.ObjectId));
        Assert.Equal("production", State(changes[1]).GetProperty("labels").GetProperty("env").GetString());
        Assert.Equal("alice", State(changes[1]).GetProperty("actor").GetString());

        var audit = await AuditEventsAsync(model.Id);
        Assert.Equal(["audit.label_removed", "audit.label_set", "audit.label_set", "audit.label_set"], audit.Select(e => e.Name).Order(StringComparer.Ordinal));
        var envMove = audit.Single(e => e.Metadata["key"] == "\"env\"" && e.Metadata["old"] == "\"staging\"");
        Assert.Equal("\"production\"", envMove.Metadata["new"]);
        Assert.Equal("\"alice\"", envMove.Metadata["actor"]);
        Assert.Equal("alice", envMove.Source);
    }

    [Fact]
    public async Task Labels_of_missing_or_deleted_objects_are_refused()
    {
        var model = await CreateModelAsync("ops", "gone");
        await Store.DeleteModelAsync(model.Id, T0.AddMinutes(1));
        Assert.Null(await Registry.SetLabelsAsync(model.Id, new Dictionary<string, string> { ["a"] = "b" }, Alice));
        Assert.Null(await Registry.SetLabelsAsync(ObjectIds.Model("ops", "never"), new Dictionary<string, string> { ["a"] = "b" }, Alice));
    }

    [Fact]
    public async Task An_alias_points_at_one_version_and_moves_atomically()
    {
        var model = await CreateModelAsync("ops", "asr");
        var v1 = (await Store.CreateModelVersionAsync(Version(model.Id, "1") with { UniqueTags = [] })).Value;
        var v2 = (await Store.CreateModelVersionAsync(Version(model.Id, "2", T0.AddSeconds(1)) with { UniqueTags = [] })).Value;

        var (first, previous) = await Registry.SetAliasAsync(model.Id, "production", v1.Id, Alice);
        Assert.Null(previous);
        Assert.Equal(v1.Id, first.VersionId);
        var (_, before) = await Registry.SetAliasAsync(model.Id, "production", v2.Id, Alice);
        Assert.Equal(v1.Id, before);
        Assert.Equal(v2.Id, (await Registry.GetAliasAsync(model.Id, "production"))!.VersionId);
        Assert.Single(await Registry.ListAliasesAsync(model.Id));

        var changes = (await ReadLogAsync("ops")).Where(c => c.ObjectKind == ChangeObjectKinds.Alias).ToList();
        Assert.Equal([ChangeType.Created, ChangeType.Updated], changes.Select(c => c.Change));
        Assert.Equal(v2.Id, State(changes[1]).GetProperty("version_id").GetString());
        Assert.Equal(v1.Id, State(changes[1]).GetProperty("previous_version_id").GetString());

        var deleted = await Registry.DeleteAliasAsync(model.Id, "production", Alice);
        Assert.Equal(v2.Id, deleted!.VersionId);
        Assert.Null(await Registry.GetAliasAsync(model.Id, "production"));
        Assert.Null(await Registry.DeleteAliasAsync(model.Id, "production", Alice));
        Assert.Equal(["audit.alias_deleted", "audit.alias_set", "audit.alias_set"], (await AuditEventsAsync(model.Id)).Select(e => e.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task An_alias_cannot_point_at_a_version_of_another_model_or_a_missing_one()
    {
        var model = await CreateModelAsync("ops", "asr");
        var other = await CreateModelAsync("ops", "tts");
        var foreign = (await Store.CreateModelVersionAsync(Version(other.Id, "1"))).Value;
        var wrongModel = await Assert.ThrowsAsync<ModelBoxException>(() => Registry.SetAliasAsync(model.Id, "prod", foreign.Id, Alice));
        Assert.Equal(ErrorKind.FailedPrecondition, wrongModel.Kind);
        var missing = await Assert.ThrowsAsync<ModelBoxException>(() => Registry.SetAliasAsync(model.Id, "prod", ObjectIds.ModelVersion(model.Id, "9"), Alice));
        Assert.Equal(ErrorKind.NotFound, missing.Kind);
        Assert.DoesNotContain(await ReadLogAsync("ops"), c => c.ObjectKind == ChangeObjectKinds.Alias);
    }

    [Fact]
    public async Task A_unique_tag_moves_to_the_new_version_that_claims_it()
    {
        var model = await CreateModelAsync("ops", "asr");
        var v1 = (await Registry.CreateModelVersionAsync(Version(model.Id, "1") with { UniqueTags = ["production", "best"] }, Lineage.Empty, Alice)).Value;
        var v2 = (await Registry.CreateModelVersionAsync(Version(model.Id, "2", T0.AddSeconds(1)) with { UniqueTags = ["production"] }, Lineage.Empty, Alice)).Value;
        Assert.Equal(["best"], (await Store.GetModelVersionAsync(v1.Id))!.UniqueTags);
        Assert.Equal(["production"], (await Store.GetModelVersionAsync(v2.Id))!.UniqueTags);

        var updated = await Registry.UpdateUniqueTagsAsync(v2.Id, ["best"], ["production"], Alice);
        Assert.Equal(["best"], updated!.UniqueTags);
        Assert.Empty((await Store.GetModelVersionAsync(v1.Id))!.UniqueTags);

        var v1Changes = (await ReadLogAsync("ops")).Where(c => c.ObjectId == v1.Id && c.ObjectKind == ChangeObjectKinds.ModelVersion).ToList();
        Assert.Equal([ChangeType.Created, ChangeType.Updated, ChangeType.Updated], v1Changes.Select(c => c.Change));
        var moves = (await AuditEventsAsync(v2.Id)).Where(e => e.Name == "audit.unique_tag_set").ToList();
        Assert.Contains(moves, e => e.Metadata["tag"] == "\"production\"" && e.Metadata["old"] == $"\"{v1.Id}\"");
        Assert.Contains(moves, e => e.Metadata["tag"] == "\"best\"" && e.Metadata["old"] == $"\"{v1.Id}\"");
    }

    [Fact]
    public async Task Datasets_register_idempotently_and_version_by_digest()
    {
        var dataset = new Dataset(ObjectIds.Dataset("ops", "librispeech"), "ops", "librispeech", "speech", Metadata(("hours", "960")), T0, T0);
        DatasetVersion VersionOf(string digest) => new(ObjectIds.DatasetVersion(dataset.Id, digest), dataset.Id, digest, "s3://data/" + digest, Metadata(), T0.AddSeconds(digest.Length + digest[^1]));

        var first = await Registry.RegisterDatasetAsync(dataset, VersionOf("sha256:aa"));
        Assert.False(first.DatasetExisted);
        Assert.False(first.VersionExisted);
        var again = await Registry.RegisterDatasetAsync(dataset, VersionOf("sha256:aa"));
        Assert.True(again.DatasetExisted);
        Assert.True(again.VersionExisted);
        var second = await Registry.RegisterDatasetAsync(dataset, VersionOf("sha256:bb"));
        Assert.True(second.DatasetExisted);
        Assert.False(second.VersionExisted);

        Assert.Equal(["sha256:aa", "sha256:bb"], (await Registry.ListDatasetVersionsAsync(dataset.Id)).Select(v => v.Digest));
        Assert.Equal("960", (await Registry.GetDatasetAsync(dataset.Id))!.Metadata["hours"]);
        var page = await Registry.ListDatasetsAsync("ops", new PageRequest(10, null));
        Assert.Equal(["librispeech"], page.Items.Select(d => d.Name));
        var kinds = (await ReadLogAsync("ops")).Select(c => c.ObjectKind).ToList();
        Assert.Equal([ChangeObjectKinds.Dataset, ChangeObjectKinds.DatasetVersion, ChangeObjectKinds.DatasetVersion], kinds);
    }

    [Fact]
    public async Task Lineage_answers_the_three_queries()
    {
        var experiment = await CreateExperimentAsync("ops", "run-1");
        var checkpoint = (await Store.CreateCheckpointAsync(Checkpoint(experiment.Id, 3))).Value;
        var dataset = new Dataset(ObjectIds.Dataset("ops", "corpus"), "ops", "corpus", string.Empty, Metadata(), T0, T0);
        var train = (await Registry.RegisterDatasetAsync(dataset, new DatasetVersion(ObjectIds.DatasetVersion(dataset.Id, "d1"), dataset.Id, "d1", "s3://d1", Metadata(), T0))).Version;
        var eval = (await Registry.RegisterDatasetAsync(dataset, new DatasetVersion(ObjectIds.DatasetVersion(dataset.Id, "d2"), dataset.Id, "d2", "s3://d2", Metadata(), T0))).Version;
        var model = await CreateModelAsync("ops", "asr");

        var baseVersion = (await Registry.CreateModelVersionAsync(
            Version(model.Id, "1") with { UniqueTags = [] },
            new Lineage(null, checkpoint.Id, [new DatasetLink(train.Id, DatasetRole.Training), new DatasetLink(eval.Id, DatasetRole.Evaluation)], []),
            Alice)).Value;
        var tuned = (await Registry.CreateModelVersionAsync(
            Version(model.Id, "2", T0.AddSeconds(1)) with { UniqueTags = [] }, new Lineage(null, null, [], [new DerivationLink(baseVersion.Id, "fine-tuning")]), Alice)).Value;
        var quantized = (await Registry.CreateModelVersionAsync(
            Version(model.Id, "3", T0.AddSeconds(2)) with { UniqueTags = [] }, new Lineage(null, null, [], [new DerivationLink(tuned.Id, "quantization")]), Alice)).Value;

        var graph = (await Registry.GetLineageAsync(quantized.Id))!;
        Assert.Equal([tuned.Id, baseVersion.Id], graph.Ancestors.Select(a => a.Version.Id));
        Assert.Equal([1, 2], graph.Ancestors.Select(a => a.Depth));
        Assert.Equal(["quantization", "fine-tuning"], graph.Ancestors.Select(a => a.Relation));
        Assert.Equal(experiment.Id, graph.Ancestors[1].ExperimentId);

        var baseGraph = (await Registry.GetLineageAsync(baseVersion.Id))!;
        Assert.Equal(experiment.Id, baseGraph.Experiment!.Id);
        Assert.Equal(checkpoint.Id, baseGraph.Checkpoint!.Id);
        Assert.Equal([(train.Id, DatasetRole.Training), (eval.Id, DatasetRole.Evaluation)], baseGraph.Datasets.Select(d => (d.Version.Id, d.Role)).OrderBy(d => d.Role));
        Assert.Equal([tuned.Id], baseGraph.Descendants.Select(d => d.Id));

        Assert.Equal([baseVersion.Id], (await Registry.ListVersionsTrainedInAsync(experiment.Id)).Select(v => v.Id));

        Assert.True(await Registry.SetLineageAsync(quantized.Id, new Lineage(null, null, [new DatasetLink(eval.Id, DatasetRole.Training), new DatasetLink(eval.Id, DatasetRole.Evaluation)], [new DerivationLink(tuned.Id, "quantization")]), Alice));
        Assert.Equal(2, (await Registry.GetRecordedLineageAsync(quantized.Id))!.Datasets.Count);

        var usage = await Registry.GetDatasetUsageAsync(dataset.Id);
        Assert.Equal([baseVersion.Id, quantized.Id], usage.ModelVersions.Select(v => v.Id));
        Assert.Equal([experiment.Id], usage.Experiments.Select(e => e.Id));
        var evalUsage = await Registry.GetDatasetUsageAsync(eval.Id);
        Assert.Equal([baseVersion.Id, quantized.Id], evalUsage.ModelVersions.Select(v => v.Id));
    }

    [Fact]
    public async Task Lineage_refuses_cycles_and_unknown_references_and_records_changes()
    {
        var model = await CreateModelAsync("ops", "asr");
        var a = (await Store.CreateModelVersionAsync(Version(model.Id, "a") with { UniqueTags = [] })).Value;
        var b = (await Registry.CreateModelVersionAsync(
            Version(model.Id, "b") with { UniqueTags = [] }, new Lineage(null, null, [], [new DerivationLink(a.Id, "distillation")]), Alice)).Value;

        var cycle = await Assert.ThrowsAsync<ModelBoxException>(() =>
            Registry.SetLineageAsync(a.Id, new Lineage(null, null, [], [new DerivationLink(b.Id, "x")]), Alice));
        Assert.Equal(ErrorKind.FailedPrecondition, cycle.Kind);
        var unknown = await Assert.ThrowsAsync<ModelBoxException>(() =>
            Registry.SetLineageAsync(a.Id, new Lineage(ObjectIds.Experiment("ops", "nope"), null, [], []), Alice));
        Assert.Equal(ErrorKind.NotFound, unknown.Kind);

        Assert.True(await Registry.SetLineageAsync(b.Id, Lineage.Empty, Alice));
        Assert.True((await Registry.GetRecordedLineageAsync(b.Id))!.IsEmpty);
        var lineageChanges = (await ReadLogAsync("ops")).Where(c => c.ObjectKind == ChangeObjectKinds.Lineage).ToList();
        Assert.Equal([b.Id, b.Id], lineageChanges.Select(c => c.ObjectId));
        Assert.Equal(2, (await AuditEventsAsync(b.Id)).Count(e => e.Name == "audit.lineage_set"));
    }

    [Fact]
    public async Task Search_combines_labels_metadata_metrics_and_attributes_with_and_or_not()
    {
        var ids = new Dictionary<string, string>();
        for (var i = 0; i < 6; i++)
        {
            var e = (await Store.CreateExperimentAsync(Experiment("ops", $"run-{i}", T0.AddSeconds(i)) with
            {
                Owner = i % 2 == 0 ? "alice" : "bob",
                Metadata = Metadata(("lr", i < 3 ? "0.1" : "0.01"), ("dataset", "\"libri\"")),
            })).Value;
            ids[e.Name] = e.Id;
            await Registry.SetLabelsAsync(e.Id, new Dictionary<string, string> { ["env"] = i < 2 ? "production" : "dev" }, Alice);
            await Backend.Metrics!.AppendAsync([new MetricSeriesPoints(e.Id, "accuracy", [MetricPoint.OfDouble(1, 1, 0.5), MetricPoint.OfDouble(2, 2, 0.5 + (i * 0.1))])]);
        }

        async Task<List<string>> NamesAsync(string filter, string? order = "name") =>
            (await Registry.SearchExperimentsAsync(SearchQueries.Build(SearchTarget.Experiments, "ops", filter, order), PageRequest.All))
                .Items.Select(e => e.Name).ToList();

        Assert.Equal(["run-0", "run-1"], await NamesAsync("labels.env = 'production'"));
        Assert.Equal(["run-2", "run-3", "run-4", "run-5"], await NamesAsync("labels.env != 'production'"));
        Assert.Equal(["run-4", "run-5"], await NamesAsync("metrics.accuracy > 0.85"));
        Assert.Equal(["run-0", "run-5"], await NamesAsync("(metrics.accuracy > 0.95 or labels.env = 'production') and owner = 'alice' or name = 'run-5'"));
        Assert.Equal(["run-3", "run-4", "run-5"], await NamesAsync("metadata.lr < 0.05"));
        Assert.Equal(["run-0", "run-1", "run-2", "run-3", "run-4", "run-5"], await NamesAsync("metadata.dataset = 'libri'"));
        Assert.Empty(await NamesAsync("metadata.dataset = 3"));
        Assert.Equal(["run-1", "run-3", "run-5"], await NamesAsync("not owner = 'alice'"));
        Assert.Equal(["run-0", "run-1"], await NamesAsync("labels.env in ('production', 'qa') and has(metrics.accuracy)"));
        Assert.Equal(["run-0", "run-1", "run-2", "run-3", "run-4", "run-5"], await NamesAsync("not has(metrics.loss)"));
        Assert.Equal(["run-5", "run-4", "run-3", "run-2", "run-1", "run-0"], await NamesAsync(string.Empty, null));
    }

    [Fact]
    public async Task Search_compares_and_sorts_text_byte_by_byte()
    {
        string[] names = ["beta", "Alpha", "alpha", "_tool", "Zulu"];
        for (var i = 0; i < names.Length; i++)
        {
            var name = names[i];
            var model = (await Store.CreateModelAsync(Model("ops", name, T0.AddSeconds(i)) with
            {
                Owner = name == "alpha" ? "Alice" : "alice",
                Metadata = Metadata(("corpus", name switch { "Zulu" => "\"Libri\"", "_tool" => "\"libri \"", _ => "\"libri\"" })),
            })).Value;
            await Registry.SetLabelsAsync(model.Id, new Dictionary<string, string> { ["team"] = name switch { "beta" => "ML", "_tool" => "ml ", _ => "ml" } }, Alice);
        }

        async Task<List<string>> NamesAsync(string filter, string order = "name", int? pageSize = null)
        {
            var query = SearchQueries.Build(SearchTarget.Models, "ops", filter, order);
            var names = new List<string>();
            string? token = null;
            do
            {
                var page = await Registry.SearchModelsAsync(query, new PageRequest(pageSize, token));
                names.AddRange(page.Items.Select(m => m.Name));
                token = page.NextPageToken;
            }
            while (token is not null);
            return names;
        }

        Assert.Equal(["Alpha", "Zulu", "_tool", "alpha", "beta"], await NamesAsync(string.Empty));
        Assert.Equal(["beta", "alpha", "_tool", "Zulu", "Alpha"], await NamesAsync(string.Empty, "name desc", pageSize: 2));
        Assert.Equal(["Alpha", "Zulu", "_tool"], await NamesAsync("name < 'a'", pageSize: 1));
        Assert.Equal(["Alpha", "Zulu", "_tool", "beta"], await NamesAsync("owner = 'alice'"));
        // Trailing spaces count (MySQL's PAD SPACE collations would ignore them).
        Assert.Equal(["Alpha", "Zulu", "alpha"], await NamesAsync("labels.team = 'ml'"));
        Assert.Equal(["_tool"], await NamesAsync("labels.team = 'ml '"));
        Assert.Equal(["Alpha", "alpha", "beta"], await NamesAsync("metadata.corpus = 'libri'"));
        Assert.Equal(["_tool"], await NamesAsync("metadata.corpus = 'libri '"));
        Assert.Equal(["Zulu"], await NamesAsync("metadata.corpus > 'L' and metadata.corpus < 'M'"));
        Assert.Empty(await Registry.GetLabelsAsync([]));
    }

    [Fact]
    public async Task Search_compares_the_last_metric_value_with_infinities_as_numbers_and_NaN_and_tensors_as_missing()
    {
        var last = new Dictionary<string, MetricPoint>
        {
            ["inf"] = MetricPoint.OfDouble(2, 2, double.PositiveInfinity),
            ["neginf"] = MetricPoint.OfFloat(2, 2, float.NegativeInfinity),
            ["nan"] = MetricPoint.OfDouble(2, 2, double.NaN),
            ["half"] = MetricPoint.OfDouble(2, 2, 0.5),
            ["text"] = MetricPoint.OfString(2, 2, "Infinity"),
        };
        foreach (var (name, point) in last)
        {
            var experiment = await CreateExperimentAsync("ops", name);
            await Backend.Metrics!.AppendAsync([new MetricSeriesPoints(experiment.Id, "loss", [MetricPoint.OfDouble(1, 1, 1.0), point])]);
        }

        async Task<List<string>> NamesAsync(string filter) =>
            (await Registry.SearchExperimentsAsync(SearchQueries.Build(SearchTarget.Experiments, "ops", filter, "name"), PageRequest.All))
                .Items.Select(e => e.Name).ToList();

        Assert.Equal(["inf"], await NamesAsync("metrics.loss > 100"));
        Assert.Equal(["neginf"], await NamesAsync("metrics.loss < -100"));
        Assert.Equal(["half", "neginf"], await NamesAsync("metrics.loss < 1"));
        Assert.Equal(["inf", "nan", "text"], await NamesAsync("not metrics.loss < 1"));
        Assert.Equal(["half", "inf", "nan", "neginf", "text"], await NamesAsync("has(metrics.loss)"));
    }

    [Fact]
    public async Task Search_compares_metadata_by_JSON_type_also_in_mixed_lists_and_beyond_the_range_of_a_double()
    {
        var values = new Dictionary<string, string>
        {
            ["number"] = "1",
            ["text"] = "\"1\"",
            ["bool"] = "true",
            ["huge"] = "1e400",
            ["letter"] = "\"a\"",
            ["object"] = "{\"v\": 1}",
            ["spaced"] = "\n 7 ",
            ["tiny"] = "1e-400",
            ["spaced-text"] = " \"b\\u0022\"",
        };
        foreach (var (name, json) in values)
        {
            await Store.CreateExperimentAsync(Experiment("ops", name) with { Metadata = Metadata(("x", json)) });
        }

        async Task<List<string>> NamesAsync(string filter) =>
            (await Registry.SearchExperimentsAsync(SearchQueries.Build(SearchTarget.Experiments, "ops", filter, "name"), PageRequest.All))
                .Items.Select(e => e.Name).ToList();

        Assert.Equal(["number"], await NamesAsync("metadata.x = 1"));
        Assert.Equal(["text"], await NamesAsync("metadata.x = '1'"));
        Assert.Equal(["bool"], await NamesAsync("metadata.x = true"));
        Assert.Equal(["letter", "number"], await NamesAsync("metadata.x in (1, 'a')"));
        Assert.Equal(["huge"], await NamesAsync("metadata.x > 1e300"));
        Assert.Equal(["bool", "huge", "letter", "object", "spaced", "spaced-text", "text", "tiny"], await NamesAsync("metadata.x != 1"));
        Assert.Equal(["spaced"], await NamesAsync("metadata.x = 7"));
        Assert.Equal(["tiny"], await NamesAsync("metadata.x = 0"));
        Assert.Equal(["spaced-text"], await NamesAsync("metadata.x = 'b\"'"));
        Assert.Equal(9, (await NamesAsync("has(metadata.x)")).Count);
    }

    [Fact]
    public async Task Label_selectors_list_experiments_models_and_versions_in_list_order_across_pages()
    {
        var search = new RegistrySearch(Registry);
        var model = await CreateModelAsync("ops", "asr");
        await CreateModelAsync("ops", "tts");
        var other = await CreateModelAsync("ops", "lid");
        var versions = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var experiment = (await Store.CreateExperimentAsync(Experiment("ops", $"run-{i}", T0.AddSeconds(i)))).Value;
            var version = (await Store.CreateModelVersionAsync(Version(model.Id, $"{i}", T0.AddSeconds(i)) with { UniqueTags = [] })).Value;
            versions.Add(version.Id);
            var labels = new Dictionary<string, string> { ["env"] = i % 2 == 0 ? "production" : "dev" };
            if (i == 4)
            {
                labels["privacy"] = "pii";
            }

            await Registry.SetLabelsAsync(experiment.Id, labels, Alice);
            await Registry.SetLabelsAsync(version.Id, labels, Alice);
        }

        await Registry.SetLabelsAsync(model.Id, new Dictionary<string, string> { ["env"] = "production" }, Alice);
        await Registry.SetLabelsAsync(other.Id, new Dictionary<string, string> { ["env"] = "production", ["privacy"] = "pii" }, Alice);
        var taggedVersionOfOther = (await Store.CreateModelVersionAsync(Version(other.Id, "0") with { UniqueTags = [] })).Value;
        await Registry.SetLabelsAsync(taggedVersionOfOther.Id, new Dictionary<string, string> { ["env"] = "production" }, Alice);

        async Task<List<string>> AllAsync<T>(Func<PageRequest, Task<Page<T>>> list, Func<T, string> name)
        {
            var names = new List<string>();
            string? token = null;
            do
            {
                var page = await list(new PageRequest(1, token));
                names.AddRange(page.Items.Select(name));
                token = page.NextPageToken;
            }
            while (token is not null);
            return names;
        }

        Assert.Equal(["run-2", "run-0"], await AllAsync(p => search.ListExperimentsAsync("ops", false, "env=production,privacy!=pii", p), e => e.Name));
        Assert.Equal(["run-4"], await AllAsync(p => search.ListExperimentsAsync("ops", false, "privacy", p), e => e.Name));
        Assert.Equal(["run-3", "run-1"], await AllAsync(p => search.ListExperimentsAsync("ops", false, "env in (dev, qa)", p), e => e.Name));
        Assert.Equal(["asr"], await AllAsync(p => search.ListModelsAsync("ops", false, "env=production,!privacy", p), m => m.Name));
        Assert.Equal(["tts"], await AllAsync(p => search.ListModelsAsync("ops", false, "env notin (production)", p), m => m.Name));
        Assert.Equal([versions[0], versions[2]], await AllAsync(p => search.ListModelVersionsAsync(model.Id, "env=production,privacy!=pii", p), v => v.Id));
    }

    [Fact]
    public async Task Search_pages_by_keyset_and_refuses_a_token_of_another_search()
    {
        for (var i = 0; i < 7; i++)
        {
            await Store.CreateModelAsync(Model("ops", $"m{i}", T0.AddSeconds(i % 3)));
        }

        var query = SearchQueries.Build(SearchTarget.Models, "ops", "owner = 'owner'", "created_at desc");
        var seen = new List<string>();
        string? token = null;
        do
        {
            var page = await Registry.SearchModelsAsync(query, new PageRequest(3, token));
            seen.AddRange(page.Items.Select(m => m.Name));
            token = page.NextPageToken;
            if (token is not null)
            {
                var other = SearchQueries.Build(SearchTarget.Models, "ops", "owner = 'someone'", "created_at desc");
                var error = await Assert.ThrowsAsync<ModelBoxException>(() => Registry.SearchModelsAsync(other, new PageRequest(3, token)));
                Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
            }
        }
        while (token is not null);

        var all = (await Registry.SearchModelsAsync(query, PageRequest.All)).Items.Select(m => m.Name).ToList();
        Assert.Equal(all, seen);
        Assert.Equal(7, seen.Distinct().Count());
    }

    [Fact]
    public async Task Search_of_versions_filters_by_model_attributes_and_leaves_deleted_out()
    {
        var asr = await CreateModelAsync("ops", "asr");
        var tts = await CreateModelAsync("ops", "tts");
        var keep = (await Store.CreateModelVersionAsync(Version(asr.Id, "1") with { UniqueTags = [] })).Value;
        var gone = (await Store.CreateModelVersionAsync(Version(asr.Id, "2") with { UniqueTags = [] })).Value;
        await Store.CreateModelVersionAsync(Version(tts.Id, "1") with { UniqueTags = [], Framework = Framework.PyTorch });
        await Store.DeleteModelVersionAsync(gone.Id, T0.AddMinutes(1));

        var found = await Registry.SearchModelVersionsAsync(
            SearchQueries.Build(SearchTarget.ModelVersions, null, "model = 'asr' and framework = 'onnx'", "name"), PageRequest.All);
        Assert.Equal([keep.Id], found.Items.Select(v => v.Id));
    }
}
