using ModelBox.Domain;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.Tests;

/// <summary>
/// The behaviour every <see cref="IMetadataStore"/> backend must show. A backend's test class subclasses this with its
/// factory.
/// </summary>
public abstract class MetadataStoreSpecification : StoreSpecification
{
    // Microsecond precision, as the domain hands timestamps to the store.
    protected static readonly DateTimeOffset T0 = new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.Zero).AddTicks(1_234_560);

    protected IMetadataStore Store => Backend.Store;

    /// <summary>Records a migration newer than this build knows, as a newer ModelBox would have.</summary>
    protected Task RecordMigrationAsync(long version) => Factory.ExecuteAsync(
        "INSERT INTO \"VersionInfo\" (\"Version\", \"AppliedOn\", \"Description\") VALUES (@Version, @AppliedOn, 'from the future')",
        new { Version = version, AppliedOn = DateTime.UtcNow });

    // ---- Schema version ----

    [Fact]
    public async Task A_migrated_store_is_at_the_newest_schema_version()
    {
        var status = await Store.GetSchemaStatusAsync();

        Assert.True(status.LatestKnownVersion >= 4);
        Assert.Equal(status.LatestKnownVersion, status.CurrentVersion);
        Assert.False(status.IsNewerThanKnown);
        Assert.False(status.IsBehind);
    }

    [Fact]
    public async Task A_database_migrated_by_a_newer_build_reports_its_version_as_newer_than_known()
    {
        var latest = (await Store.GetSchemaStatusAsync()).LatestKnownVersion;

        await RecordMigrationAsync(latest + 1);

        var status = await Store.GetSchemaStatusAsync();
        Assert.Equal(latest + 1, status.CurrentVersion);
        Assert.True(status.IsNewerThanKnown);
    }

    [Fact]
    public async Task Migrating_again_changes_nothing()
    {
        var experiment = await CreateExperimentAsync("default", "run");

        await Store.MigrateAsync();

        AssertSame(experiment, await Store.GetExperimentAsync(experiment.Id));
        var status = await Store.GetSchemaStatusAsync();
        Assert.Equal(status.LatestKnownVersion, status.CurrentVersion);
    }

    // ---- Round trips ----

    [Fact]
    public async Task Names_that_differ_only_in_case_or_trailing_spaces_are_different_objects()
    {
        string[] names = ["resnet", "resnet ", "ResNet"];
        foreach (var name in names)
        {
            var created = await Store.CreateExperimentAsync(Experiment("spaces", name, T0));
            Assert.False(created.Existed, $"'{name}' was taken for an existing experiment");
            Assert.Equal(name, (await Store.GetExperimentAsync(created.Value.Id))!.Name);
        }

        var listed = await Store.ListExperimentsAsync("spaces", new PageRequest(null, null));
        Assert.Equal(names.Order(StringComparer.Ordinal), listed.Items.Select(e => e.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Experiment_round_trips_every_field()
    {
        var experiment = Experiment("vision", "resnet", T0) with
        {
            Owner = "ada@example.com",
            Framework = Framework.Jax,
            Task = "image-classification",
            ExternalId = "wandb/run/42",
            Description = "multi\nline ✓ description",
            Status = ExperimentStatus.Finished,
            EndedAt = T0.AddMinutes(90),
            UpdatedAt = T0.AddMinutes(91),
            Metadata = Metadata(("lr", "0.001"), ("layers", "[64, 128, {\"kind\": \"conv\"}]"), ("note", "\"straße\"")),
        };

        var created = await Store.CreateExperimentAsync(experiment);
        var fetched = await Store.GetExperimentAsync(experiment.Id);

        Assert.False(created.Existed);
        AssertSame(experiment, created.Value);
        AssertSame(experiment, fetched);
        Assert.Equal(TimeSpan.Zero, fetched!.CreatedAt.Offset);
    }

    [Fact]
    public async Task Checkpoint_round_trips_every_field()
    {
        var experiment = await CreateExperimentAsync("default", "run");
        var checkpoint = Checkpoint(experiment.Id, 7, T0.AddSeconds(5)) with
        {
            Metrics = new Dictionary<string, float>
            {
                ["loss"] = 0.123456789f,
                ["accuracy"] = 1f,
                ["tiny"] = float.Epsilon,
                ["huge"] = float.MaxValue,
                ["diverged"] = float.NaN,
                ["overflow"] = float.PositiveInfinity,
                ["ünïcode"] = -3.5f,
            },
            Metadata = Metadata(("optimizer", "{\"name\": \"adam\", \"betas\": [0.9, 0.999]}")),
        };

        var created = await Store.CreateCheckpointAsync(checkpoint);
        var fetched = await Store.GetCheckpointAsync(checkpoint.Id);

        Assert.False(created.Existed);
        AssertSame(checkpoint, created.Value);
        AssertSame(checkpoint, fetched);
    }

    [Fact]
    public async Task Model_round_trips_every_field()
    {
        var model = Model("nlp", "bert", T0) with
        {
            Owner = "grace",
            Task = "fill-mask",
            Description = "a model",
            Metadata = Metadata(("license", "\"apache-2.0\""), ("params", "110000000"), ("empty", "{}")),
        };

        var created = await Store.CreateModelAsync(model);
        var fetched = await Store.GetModelAsync(model.Id);

        Assert.False(created.Existed);
        AssertSame(model, created.Value);
        AssertSame(model, fetched);
    }

    [Fact]
    public async Task Model_version_round_trips_every_field()
    {
        var model = await CreateModelAsync("default", "bert");
        var version = Version(model.Id, "v1", T0.AddSeconds(3)) with
        {
            Name = "first",
            Description = "initial weights",
            Framework = Framework.Transformers,
            UniqueTags = ["prod", "latest", "a,b", "\"quoted\""],
            Metadata = Metadata(("sha", "\"abc123\""), ("null", "null")),
        };

        var created = await Store.CreateModelVersionAsync(version);
        var fetched = await Store.GetModelVersionAsync(version.Id);

        Assert.False(created.Existed);
        AssertSame(version, created.Value);
        AssertSame(version, fetched);
    }

    [Fact]
    public async Task Objects_without_metadata_metrics_or_tags_round_trip_empty()
    {
        var experiment = await CreateExperimentAsync("default", "bare");
        var checkpoint = (await Store.CreateCheckpointAsync(Checkpoint(experiment.Id, 0, T0))).Value;
        var model = await CreateModelAsync("default", "bare");
        var version = (await Store.CreateModelVersionAsync(Version(model.Id, "v1", T0))).Value;

        Assert.Empty((await Store.GetExperimentAsync(experiment.Id))!.Metadata);
        Assert.Empty((await Store.GetCheckpointAsync(checkpoint.Id))!.Metrics);
        Assert.Empty((await Store.GetCheckpointAsync(checkpoint.Id))!.Metadata);
        Assert.Empty((await Store.GetModelAsync(model.Id))!.Metadata);
        Assert.Empty((await Store.GetModelVersionAsync(version.Id))!.UniqueTags);
        Assert.Empty((await Store.GetModelVersionAsync(version.Id))!.Metadata);
    }

    [Fact]
    public async Task Get_of_an_unknown_id_returns_null()
    {
        Assert.Null(await Store.GetExperimentAsync(ObjectIds.Experiment("default", "nope")));
        Assert.Null(await Store.GetCheckpointAsync(ObjectIds.Checkpoint(ObjectIds.Experiment("default", "nope"), 1)));
        Assert.Null(await Store.GetModelAsync(ObjectIds.Model("default", "nope")));
        Assert.Null(await Store.GetModelVersionAsync(ObjectIds.ModelVersion(ObjectIds.Model("default", "nope"), "v1")));
    }

    // ---- Idempotent creates ----

    [Fact]
    public async Task Creating_an_experiment_again_returns_the_stored_one_and_existed()
    {
        var original = Experiment("default", "run", T0) with { Description = "first", Metadata = Metadata(("a", "1")) };
        await Store.CreateExperimentAsync(original);

        var again = await Store.CreateExperimentAsync(
            original with { Description = "second", CreatedAt = T0.AddHours(1), UpdatedAt = T0.AddHours(1), Metadata = Metadata(("b", "2")) });

        Assert.True(again.Existed);
        AssertSame(original, again.Value);
        AssertSame(original, await Store.GetExperimentAsync(original.Id));
    }

    [Fact]
    public async Task Creating_a_checkpoint_again_returns_the_stored_one_and_existed()
    {
        var experiment = await CreateExperimentAsync("default", "run");
        var original = Checkpoint(experiment.Id, 3, T0) with { Metrics = new Dictionary<string, float> { ["loss"] = 0.5f } };
        await Store.CreateCheckpointAsync(original);

        var again = await Store.CreateCheckpointAsync(
            original with { Metrics = new Dictionary<string, float> { ["loss"] = 0.1f }, CreatedAt = T0.AddHours(1) });

        Assert.True(again.Existed);
        AssertSame(original, again.Value);
    }

    [Fact]
    public async Task Creating_a_model_and_a_version_again_returns_the_stored_ones_and_existed()
    {
        var model = Model("default", "bert", T0) with { Description = "first" };
        await Store.CreateModelAsync(model);
        var version = Version(model.Id, "v1", T0) with { UniqueTags = ["prod"] };
        await Store.CreateModelVersionAsync(version);

        var modelAgain = await Store.CreateModelAsync(model with { Description = "second", CreatedAt = T0.AddDays(1) });
        var versionAgain = await Store.CreateModelVersionAsync(version with { UniqueTags = ["dev"], CreatedAt = T0.AddDays(1) });

        Assert.True(modelAgain.Existed);
        AssertSame(model, modelAgain.Value);
        Assert.True(versionAgain.Existed);
        AssertSame(version, versionAgain.Value);
    }

    [Fact]
    public async Task Creating_a_deleted_object_again_returns_it_deleted()
    {
        var experiment = await CreateExperimentAsync("default", "run");
        var deletedAt = await Store.DeleteExperimentAsync(experiment.Id, T0.AddMinutes(1));

        var again = await Store.CreateExperimentAsync(Experiment("default", "run", T0.AddMinutes(2)));

        Assert.True(again.Existed);
        Assert.Equal(deletedAt, again.Value.DeletedAt);
        Assert.Empty((await Store.ListExperimentsAsync("default", PageRequest.All)).Items);
    }

    [Fact]
    public async Task Concurrent_identical_creates_store_one_object()
    {
        var experiment = Experiment("default", "raced", T0) with { Metadata = Metadata(("k", "1")) };

        var results = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(() => Store.CreateExperimentAsync(experiment))));

        Assert.Single(results, result => !result.Existed);
        Assert.Equal(31, results.Count(result => result.Existed));
        Assert.All(results, result => AssertSame(experiment, result.Value));
        Assert.Single((await Store.ListExperimentsAsync("default", PageRequest.All)).Items);
        Assert.Single((await Store.ListNamespacesAsync(PageRequest.All)).Items);
    }

    [Fact]
    public async Task Concurrent_creates_of_different_objects_all_succeed()
    {
        var experiment = await CreateExperimentAsync("default", "run");

        var results = await Task.WhenAll(Enumerable.Range(0, 32).Select(epoch =>
            Task.Run(() => Store.CreateCheckpointAsync(Checkpoint(experiment.Id, epoch, T0.AddSeconds(epoch))))));

        Assert.All(results, result => Assert.False(result.Existed));
        Assert.Equal(
            Enumerable.Range(0, 32).Select(epoch => (long)epoch),
            (await Store.ListCheckpointsAsync(experiment.Id, PageRequest.All)).Items.Select(checkpoint => checkpoint.Epoch));
    }

    [Fact]
    public async Task Objects_of_different_kinds_with_the_same_natural_key_do_not_collide()
    {
        var experiment = await CreateExperimentAsync("default", "same");
        var model = await CreateModelAsync("default", "same");

        Assert.NotEqual(experiment.Id, model.Id);
        Assert.Null(await Store.GetModelAsync(experiment.Id));
        Assert.Null(await Store.GetExperimentAsync(model.Id));
        Assert.Equal("same", (await Store.GetExperimentAsync(experiment.Id))!.Name);
        Assert.Equal("same", (await Store.GetModelAsync(model.Id))!.Name);
        Assert.Single((await Store.ListExperimentsAsync("default", PageRequest.All)).Items);
        Assert.Single((await Store.ListModelsAsync("default", PageRequest.All)).Items);
    }

    [Fact]
    public async Task Metadata_of_objects_is_kept_apart()
    {
        var experiment = await Store.CreateExperimentAsync(Experiment("default", "same", T0) with { Metadata = Metadata(("k", "\"experiment\"")) });
        var model = await Store.CreateModelAsync(Model("default", "same", T0) with { Metadata = Metadata(("k", "\"model\"")) });

        Assert.Equal("\"experiment\"", (await Store.GetExperimentAsync(experiment.Value.Id))!.Metadata["k"]);
        Assert.Equal("\"model\"", (await Store.GetModelAsync(model.Value.Id))!.Metadata["k"]);
        Assert.Equal("\"model\"", (await Store.ListModelsAsync("default", PageRequest.All)).Items.Single().Metadata["k"]);
    }

    // ---- Namespaces ----

    [Fact]
    public async Task Namespaces_are_recorded_once_by_the_first_create_and_listed_by_name()
    {
        await CreateExperimentAsync("vision", "a", T0.AddSeconds(1));
        await CreateModelAsync("audio", "a", T0.AddSeconds(2));
        await CreateExperimentAsync("vision", "b", T0.AddSeconds(3));
        await CreateModelAsync("vision", "c", T0.AddSeconds(4));
        await CreateExperimentAsync("Zeta", "a", T0.AddSeconds(5));

        var namespaces = (await Store.ListNamespacesAsync(PageRequest.All)).Items;

        Assert.Equal(
            [new NamespaceInfo("Zeta", T0.AddSeconds(5)), new NamespaceInfo("audio", T0.AddSeconds(2)), new NamespaceInfo("vision", T0.AddSeconds(1))],
            namespaces);
    }

    [Fact]
    public async Task Namespaces_page_by_name()
    {
        var names = Enumerable.Range(0, 25).Select(i => $"ns-{i:D2}").ToList();
        foreach (var name in names.AsEnumerable().Reverse())
        {
            await CreateModelAsync(name, "m");
        }

        var pages = await ReadAllPagesAsync(page => Store.ListNamespacesAsync(page), 10);

        Assert.Equal([10, 10, 5], pages.Select(page => page.Items.Count));
        Assert.Equal(names, pages.SelectMany(page => page.Items).Select(ns => ns.Name));
    }

    // ---- Listing order and pages ----

    [Fact]
    public async Task Experiments_are_listed_newest_first_within_their_namespace()
    {
        var old = await CreateExperimentAsync("default", "old", T0);
        var newer = await CreateExperimentAsync("default", "new", T0.AddSeconds(10));
        var middle = await CreateExperimentAsync("default", "middle", T0.AddSeconds(5));
        await CreateExperimentAsync("other", "elsewhere", T0.AddSeconds(7));

        var listed = (await Store.ListExperimentsAsync("default", PageRequest.All)).Items;

        Assert.Equal([newer.Id, middle.Id, old.Id], listed.Select(e => e.Id));
        Assert.Empty((await Store.ListExperimentsAsync("nobody-here", PageRequest.All)).Items);
    }

    [Fact]
    public async Task Experiments_created_at_the_same_instant_are_ordered_by_descending_id_across_pages()
    {
        var experiments = new List<Experiment>();
        for (var i = 0; i < 7; i++)
        {
            experiments.Add(await CreateExperimentAsync("default", $"tie-{i}", T0));
        }

        var pages = await ReadAllPagesAsync(page => Store.ListExperimentsAsync("default", page), 3);

        Assert.Equal(
            experiments.Select(e => e.Id).OrderDescending(StringComparer.Ordinal),
            pages.SelectMany(page => page.Items).Select(e => e.Id));
    }

    [Fact]
    public async Task Experiments_page_without_gaps_or_duplicates()
    {
        var created = new List<Experiment>();
        for (var i = 0; i < 25; i++)
        {
            created.Add(await CreateExperimentAsync("default", $"run-{i}", T0.AddSeconds(i)));
        }

        var pages = await ReadAllPagesAsync(page => Store.ListExperimentsAsync("default", page), 10);

        Assert.Equal([10, 10, 5], pages.Select(page => page.Items.Count));
        Assert.Equal(created.Select(e => e.Id).Reverse(), pages.SelectMany(page => page.Items).Select(e => e.Id));
        Assert.Equal("run-24", pages[0].Items[0].Name);
    }

    [Fact]
    public async Task Models_are_listed_newest_first_and_page_without_gaps_or_duplicates()
    {
        var created = new List<Model>();
        for (var i = 0; i < 25; i++)
        {
            created.Add(await CreateModelAsync("default", $"model-{i}", T0.AddSeconds(i)));
        }

        await CreateModelAsync("other", "elsewhere", T0.AddSeconds(100));

        var pages = await ReadAllPagesAsync(page => Store.ListModelsAsync("default", page), 10);

        Assert.Equal([10, 10, 5], pages.Select(page => page.Items.Count));
        Assert.Equal(created.Select(m => m.Id).Reverse(), pages.SelectMany(page => page.Items).Select(m => m.Id));
    }

    [Fact]
    public async Task Checkpoints_are_listed_by_ascending_epoch_and_page_without_gaps_or_duplicates()
    {
        var experiment = await CreateExperimentAsync("default", "run");
        var other = await CreateExperimentAsync("default", "other");
        var epochs = Enumerable.Range(0, 25).Select(i => (long)(i * 7 % 25) * 1000).ToList();
        foreach (var epoch in epochs)
        {
            await Store.CreateCheckpointAsync(Checkpoint(experiment.Id, epoch, T0.AddSeconds(-epoch)));
        }

        await Store.CreateCheckpointAsync(Checkpoint(other.Id, 500, T0));

        var pages = await ReadAllPagesAsync(page => Store.ListCheckpointsAsync(experiment.Id, page), 10);

        Assert.Equal([10, 10, 5], pages.Select(page => page.Items.Count));
        Assert.Equal(epochs.Order(), pages.SelectMany(page => page.Items).Select(c => c.Epoch));
        Assert.All(pages.SelectMany(page => page.Items), c => Assert.Equal(experiment.Id, c.ExperimentId));
    }

    [Fact]
    public async Task Model_versions_are_listed_oldest_first_and_page_without_gaps_or_duplicates()
    {
        var model = await CreateModelAsync("default", "bert");
        var otherModel = await CreateModelAsync("default", "gpt");
        var created = new List<ModelVersion>();
        for (var i = 0; i < 25; i++)
        {
            // Pairs share a creation instant, so the id breaks the tie.
            created.Add((await Store.CreateModelVersionAsync(Version(model.Id, $"v{i}", T0.AddSeconds(i / 2)))).Value);
        }

        await Store.CreateModelVersionAsync(Version(otherModel.Id, "v0", T0));

        var pages = await ReadAllPagesAsync(page => Store.ListModelVersionsAsync(model.Id, page), 10);

        Assert.Equal([10, 10, 5], pages.Select(page => page.Items.Count));
        Assert.Equal(
            created.OrderBy(v => v.CreatedAt).ThenBy(v => v.Id, StringComparer.Ordinal).Select(v => v.Id),
            pages.SelectMany(page => page.Items).Select(v => v.Id));
    }

    [Fact]
    public async Task A_page_that_ends_exactly_at_the_last_item_has_no_next_token()
    {
        for (var i = 0; i < 20; i++)
        {
            await CreateExperimentAsync("default", $"run-{i}", T0.AddSeconds(i));
        }

        var pages = await ReadAllPagesAsync(page => Store.ListExperimentsAsync("default", page), 10);

        Assert.Equal([10, 10], pages.Select(page => page.Items.Count));
        Assert.Null(pages[^1].NextPageToken);
    }

    [Fact]
    public async Task Listing_everything_returns_all_items_and_no_token()
    {
        for (var i = 0; i < 25; i++)
        {
            await CreateExperimentAsync("default", $"run-{i}", T0.AddSeconds(i));
        }

        var all = await Store.ListExperimentsAsync("default", PageRequest.All);

        Assert.Equal(25, all.Items.Count);
        Assert.Null(all.NextPageToken);
    }

    [Fact]
    public async Task An_empty_listing_has_no_items_and_no_token()
    {
        var page = await Store.ListModelsAsync("default", new PageRequest(10, null));

        Assert.Empty(page.Items);
        Assert.Null(page.NextPageToken);
    }

    [Fact]
    public async Task Listed_objects_carry_their_metadata()
    {
        var experiment = await Store.CreateExperimentAsync(Experiment("default", "run", T0) with { Metadata = Metadata(("k", "[1,2]")) });
        var checkpoint = await Store.CreateCheckpointAsync(Checkpoint(experiment.Value.Id, 1, T0) with
        {
            Metadata = Metadata(("c", "true")),
            Metrics = new Dictionary<string, float> { ["loss"] = 2.5f },
        });
        var model = await Store.CreateModelAsync(Model("default", "m", T0) with { Metadata = Metadata(("m", "1")) });
        var version = await Store.CreateModelVersionAsync(Version(model.Value.Id, "v1", T0) with { Metadata = Metadata(("v", "2")), UniqueTags = ["x"] });

        AssertSame(experiment.Value, (await Store.ListExperimentsAsync("default", PageRequest.All)).Items.Single());
        AssertSame(checkpoint.Value, (await Store.ListCheckpointsAsync(experiment.Value.Id, PageRequest.All)).Items.Single());
        AssertSame(model.Value, (await Store.ListModelsAsync("default", PageRequest.All)).Items.Single());
        AssertSame(version.Value, (await Store.ListModelVersionsAsync(model.Value.Id, PageRequest.All)).Items.Single());
    }

    [Theory]
    [InlineData("not a token!")]
    [InlineData("MQ")]
    public async Task A_token_that_does_not_decode_is_invalid_argument(string token)
    {
        await AssertMalformedTokenAsync(() => Store.ListExperimentsAsync("default", new PageRequest(10, token)));
        await AssertMalformedTokenAsync(() => Store.ListNamespacesAsync(new PageRequest(10, token)));
    }

    [Fact]
    public async Task A_token_of_the_wrong_shape_is_invalid_argument()
    {
        var experiment = await CreateExperimentAsync("default", "run");
        var model = await CreateModelAsync("default", "m");
        var threeParts = PageTokens.Encode("1", "2", "3");
        var textWhereNumberBelongs = PageTokens.Encode("yesterday", experiment.Id);

        await AssertMalformedTokenAsync(() => Store.ListExperimentsAsync("default", new PageRequest(10, threeParts)));
        await AssertMalformedTokenAsync(() => Store.ListExperimentsAsync("default", new PageRequest(10, textWhereNumberBelongs)));
        await AssertMalformedTokenAsync(() => Store.ListModelsAsync("default", new PageRequest(10, PageTokens.Encode("1"))));
        await AssertMalformedTokenAsync(() => Store.ListCheckpointsAsync(experiment.Id, new PageRequest(10, threeParts)));
        await AssertMalformedTokenAsync(() => Store.ListCheckpointsAsync(experiment.Id, new PageRequest(10, PageTokens.Encode("one"))));
        await AssertMalformedTokenAsync(() => Store.ListModelVersionsAsync(model.Id, new PageRequest(10, PageTokens.Encode("1"))));
        await AssertMalformedTokenAsync(() => Store.ListNamespacesAsync(new PageRequest(10, threeParts)));
    }

    // ---- Soft deletion ----

    [Fact]
    public async Task Deleting_an_experiment_hides_it_and_its_checkpoints_with_one_timestamp()
    {
        var experiment = await CreateExperimentAsync("default", "run");
        var kept = await CreateExperimentAsync("default", "kept");
        var checkpoints = await CreateCheckpointsAsync(experiment.Id, 3);
        var deleteTime = T0.AddHours(1);

        var deletedAt = await Store.DeleteExperimentAsync(experiment.Id, deleteTime);

        Assert.Equal(deleteTime, deletedAt);
        Assert.Equal([kept.Id], (await Store.ListExperimentsAsync("default", PageRequest.All)).Items.Select(e => e.Id));
        Assert.Empty((await Store.ListCheckpointsAsync(experiment.Id, PageRequest.All)).Items);
        Assert.Equal(deleteTime, (await Store.GetExperimentAsync(experiment.Id))!.DeletedAt);
        foreach (var checkpoint in checkpoints)
        {
            Assert.Equal(deleteTime, (await Store.GetCheckpointAsync(checkpoint.Id))!.DeletedAt);
        }

        Assert.Null((await Store.GetExperimentAsync(kept.Id))!.DeletedAt);
    }

    [Fact]
    public async Task Deleting_a_model_hides_it_and_its_versions()
    {
        var model = await CreateModelAsync("default", "bert");
        var version = (await Store.CreateModelVersionAsync(Version(model.Id, "v1", T0))).Value;
        var deleteTime = T0.AddHours(1);

        Assert.Equal(deleteTime, await Store.DeleteModelAsync(model.Id, deleteTime));

        Assert.Empty((await Store.ListModelsAsync("default", PageRequest.All)).Items);
        Assert.Empty((await Store.ListModelVersionsAsync(model.Id, PageRequest.All)).Items);
        Assert.Equal(deleteTime, (await Store.GetModelAsync(model.Id))!.DeletedAt);
        Assert.Equal(deleteTime, (await Store.GetModelVersionAsync(version.Id))!.DeletedAt);
    }

    [Fact]
    public async Task Deleting_a_model_version_hides_only_that_version()
    {
        var model = await CreateModelAsync("default", "bert");
        var v1 = (await Store.CreateModelVersionAsync(Version(model.Id, "v1", T0))).Value;
        var v2 = (await Store.CreateModelVersionAsync(Version(model.Id, "v2", T0.AddSeconds(1)))).Value;

        Assert.Equal(T0.AddHours(1), await Store.DeleteModelVersionAsync(v1.Id, T0.AddHours(1)));

        Assert.Equal([v2.Id], (await Store.ListModelVersionsAsync(model.Id, PageRequest.All)).Items.Select(v => v.Id));
        Assert.Null((await Store.GetModelAsync(model.Id))!.DeletedAt);
        Assert.Equal(T0.AddHours(1), (await Store.GetModelVersionAsync(v1.Id))!.DeletedAt);
    }

    [Fact]
    public async Task Deleting_again_returns_the_first_deletion_time()
    {
        var experiment = await CreateExperimentAsync("default", "run");
        var model = await CreateModelAsync("default", "m");
        var version = (await Store.CreateModelVersionAsync(Version(model.Id, "v1", T0))).Value;

        var first = await Store.DeleteExperimentAsync(experiment.Id, T0.AddHours(1));
        var second = await Store.DeleteExperimentAsync(experiment.Id, T0.AddHours(2));
        var versionFirst = await Store.DeleteModelVersionAsync(version.Id, T0.AddHours(1));
        var versionSecond = await Store.DeleteModelVersionAsync(version.Id, T0.AddHours(2));
        var modelFirst = await Store.DeleteModelAsync(model.Id, T0.AddHours(3));
        var modelSecond = await Store.DeleteModelAsync(model.Id, T0.AddHours(4));

        Assert.Equal(T0.AddHours(1), first);
        Assert.Equal(first, second);
        Assert.Equal(T0.AddHours(1), versionSecond);
        Assert.Equal(versionFirst, versionSecond);
        Assert.Equal(T0.AddHours(3), modelSecond);
        Assert.Equal(modelFirst, modelSecond);
        Assert.Equal(T0.AddHours(1), (await Store.GetExperimentAsync(experiment.Id))!.DeletedAt);
    }

    [Fact]
    public async Task Deleting_or_restoring_an_unknown_object_returns_null()
    {
        var experimentId = ObjectIds.Experiment("default", "nope");
        var modelId = ObjectIds.Model("default", "nope");
        var versionId = ObjectIds.ModelVersion(modelId, "v1");

        Assert.Null(await Store.DeleteExperimentAsync(experimentId, T0));
        Assert.Null(await Store.DeleteModelAsync(modelId, T0));
        Assert.Null(await Store.DeleteModelVersionAsync(versionId, T0));
        Assert.Null(await Store.RestoreExperimentAsync(experimentId, T0));
        Assert.Null(await Store.RestoreModelAsync(modelId, T0));
        Assert.Null(await Store.RestoreModelVersionAsync(versionId, T0));
    }

    [Fact]
    public async Task Restoring_an_experiment_brings_back_the_checkpoints_deleted_with_it()
    {
        var experiment = await CreateExperimentAsync("default", "run");
        var checkpoints = await CreateCheckpointsAsync(experiment.Id, 3);
        await Store.DeleteExperimentAsync(experiment.Id, T0.AddHours(1));

        var restored = await Store.RestoreExperimentAsync(experiment.Id, T0.AddHours(2));

        Assert.NotNull(restored);
        Assert.Null(restored.DeletedAt);
        Assert.Equal(T0.AddHours(2), restored.UpdatedAt);
        Assert.Equal([experiment.Id], (await Store.ListExperimentsAsync("default", PageRequest.All)).Items.Select(e => e.Id));
        Assert.Equal(checkpoints.Select(c => c.Id), (await Store.ListCheckpointsAsync(experiment.Id, PageRequest.All)).Items.Select(c => c.Id));
        foreach (var checkpoint in checkpoints)
        {
            Assert.Null((await Store.GetCheckpointAsync(checkpoint.Id))!.DeletedAt);
        }
    }

    [Fact]
    public async Task A_restored_experiment_accepts_checkpoints_again()
    {
        var experiment = await CreateExperimentAsync("default", "run");
        await Store.DeleteExperimentAsync(experiment.Id, T0.AddHours(1));
        await Store.RestoreExperimentAsync(experiment.Id, T0.AddHours(2));

        var created = await Store.CreateCheckpointAsync(Checkpoint(experiment.Id, 1, T0.AddHours(3)));

        Assert.False(created.Existed);
        Assert.Single((await Store.ListCheckpointsAsync(experiment.Id, PageRequest.All)).Items);
    }

    [Fact]
    public async Task Restoring_a_model_brings_back_exactly_the_versions_deleted_with_it()
    {
        var model = await CreateModelAsync("default", "bert");
        var deletedEarlier = (await Store.CreateModelVersionAsync(Version(model.Id, "v1", T0))).Value;
        var deletedWithModel = (await Store.CreateModelVersionAsync(Version(model.Id, "v2", T0.AddSeconds(1)))).Value;
        var alsoDeletedWithModel = (await Store.CreateModelVersionAsync(Version(model.Id, "v3", T0.AddSeconds(2)))).Value;

        await Store.DeleteModelVersionAsync(deletedEarlier.Id, T0.AddHours(1));
        await Store.DeleteModelAsync(model.Id, T0.AddHours(2));
        var restored = await Store.RestoreModelAsync(model.Id, T0.AddHours(3));

        Assert.NotNull(restored);
        Assert.Null(restored.DeletedAt);
        Assert.Equal(T0.AddHours(3), restored.UpdatedAt);
        Assert.Equal(
            [deletedWithModel.Id, alsoDeletedWithModel.Id],
            (await Store.ListModelVersionsAsync(model.Id, PageRequest.All)).Items.Select(v => v.Id));
        Assert.Equal(T0.AddHours(1), (await Store.GetModelVersionAsync(deletedEarlier.Id))!.DeletedAt);
        Assert.Single((await Store.ListModelsAsync("default", PageRequest.All)).Items);
    }

    [Fact]
    public async Task Restoring_a_live_object_returns_it_unchanged()
    {
        var experiment = await CreateExperimentAsync("default", "run");
        var model = await CreateModelAsync("default", "m");
        var version = (await Store.CreateModelVersionAsync(Version(model.Id, "v1", T0))).Value;

        AssertSame(experiment, await Store.RestoreExperimentAsync(experiment.Id, T0.AddHours(1)));
        AssertSame(model, await Store.RestoreModelAsync(model.Id, T0.AddHours(1)));
        AssertSame(version, await Store.RestoreModelVersionAsync(version.Id, T0.AddHours(1)));
    }

    [Fact]
    public async Task Restoring_a_deleted_model_version_brings_it_back()
    {
        var model = await CreateModelAsync("default", "m");
        var version = (await Store.CreateModelVersionAsync(Version(model.Id, "v1", T0))).Value;
        await Store.DeleteModelVersionAsync(version.Id, T0.AddHours(1));

        var restored = await Store.RestoreModelVersionAsync(version.Id, T0.AddHours(2));

        Assert.Null(restored!.DeletedAt);
        Assert.Equal(T0.AddHours(2), restored.UpdatedAt);
        Assert.Equal([version.Id], (await Store.ListModelVersionsAsync(model.Id, PageRequest.All)).Items.Select(v => v.Id));
    }

    [Fact]
    public async Task Restoring_a_model_version_of_a_deleted_model_is_a_failed_precondition()
    {
        var model = await CreateModelAsync("default", "m");
        var version = (await Store.CreateModelVersionAsync(Version(model.Id, "v1", T0))).Value;
        await Store.DeleteModelAsync(model.Id, T0.AddHours(1));

        var error = await Assert.ThrowsAsync<ModelBoxException>(() => Store.RestoreModelVersionAsync(version.Id, T0.AddHours(2)));

        Assert.Equal(ErrorKind.FailedPrecondition, error.Kind);
        Assert.Contains(model.Id, error.Message, StringComparison.Ordinal);
        Assert.Equal(T0.AddHours(1), (await Store.GetModelVersionAsync(version.Id))!.DeletedAt);
    }

    // ---- Parents ----

    [Fact]
    public async Task Creating_a_checkpoint_of_an_unknown_experiment_is_not_found()
    {
        var experimentId = ObjectIds.Experiment("default", "ghost");

        var error = await Assert.ThrowsAsync<ModelBoxException>(() => Store.CreateCheckpointAsync(Checkpoint(experimentId, 1, T0)));

        Assert.Equal(ErrorKind.NotFound, error.Kind);
        Assert.Contains(experimentId, error.Message, StringComparison.Ordinal);
        Assert.Null(await Store.GetCheckpointAsync(ObjectIds.Checkpoint(experimentId, 1)));
    }

    [Fact]
    public async Task Creating_a_checkpoint_of_a_deleted_experiment_is_not_found()
    {
        var experiment = await CreateExperimentAsync("default", "run");
        await Store.DeleteExperimentAsync(experiment.Id, T0.AddHours(1));

        var error = await Assert.ThrowsAsync<ModelBoxException>(() => Store.CreateCheckpointAsync(Checkpoint(experiment.Id, 1, T0.AddHours(2))));

        Assert.Equal(ErrorKind.NotFound, error.Kind);
        Assert.Contains(experiment.Id, error.Message, StringComparison.Ordinal);
        Assert.Null(await Store.GetCheckpointAsync(ObjectIds.Checkpoint(experiment.Id, 1)));
    }

    [Fact]
    public async Task Creating_a_version_of_an_unknown_or_deleted_model_is_not_found()
    {
        var ghost = ObjectIds.Model("default", "ghost");
        var model = await CreateModelAsync("default", "m");
        await Store.DeleteModelAsync(model.Id, T0.AddHours(1));

        var unknown = await Assert.ThrowsAsync<ModelBoxException>(() => Store.CreateModelVersionAsync(Version(ghost, "v1", T0)));
        var deleted = await Assert.ThrowsAsync<ModelBoxException>(() => Store.CreateModelVersionAsync(Version(model.Id, "v1", T0)));

        Assert.Equal(ErrorKind.NotFound, unknown.Kind);
        Assert.Contains(ghost, unknown.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorKind.NotFound, deleted.Kind);
        Assert.Contains(model.Id, deleted.Message, StringComparison.Ordinal);
    }

    // ---- Updates ----

    [Fact]
    public async Task Finishing_an_experiment_sets_its_end_time_and_update_time()
    {
        var experiment = await CreateExperimentAsync("default", "run");

        foreach (var status in new[] { ExperimentStatus.Finished, ExperimentStatus.Failed, ExperimentStatus.Killed })
        {
            var now = T0.AddMinutes((int)status);
            await Store.UpdateExperimentAsync(experiment.Id, new ExperimentChanges(ExperimentStatus.Running, null, null), now.AddSeconds(-1));

            var updated = await Store.UpdateExperimentAsync(experiment.Id, new ExperimentChanges(status, null, null), now);

            Assert.Equal(status, updated!.Status);
            Assert.Equal(now, updated.EndedAt);
            Assert.Equal(now, updated.UpdatedAt);
            AssertSame(updated, await Store.GetExperimentAsync(experiment.Id));
        }
    }

    [Fact]
    public async Task Running_again_clears_the_end_time()
    {
        var experiment = await CreateExperimentAsync("default", "run");
        await Store.UpdateExperimentAsync(experiment.Id, new ExperimentChanges(ExperimentStatus.Failed, null, null), T0.AddMinutes(1));

        var resumed = await Store.UpdateExperimentAsync(experiment.Id, new ExperimentChanges(ExperimentStatus.Running, null, null), T0.AddMinutes(2));

        Assert.Equal(ExperimentStatus.Running, resumed!.Status);
        Assert.Null(resumed.EndedAt);
        Assert.Equal(T0.AddMinutes(2), resumed.UpdatedAt);
    }

    [Fact]
    public async Task Finishing_a_finished_experiment_again_keeps_its_end_time()
    {
        var experiment = await CreateExperimentAsync("default", "run");
        await Store.UpdateExperimentAsync(experiment.Id, new ExperimentChanges(ExperimentStatus.Finished, null, null), T0.AddMinutes(1));

        var again = await Store.UpdateExperimentAsync(experiment.Id, new ExperimentChanges(ExperimentStatus.Finished, null, null), T0.AddMinutes(2));

        Assert.Equal(T0.AddMinutes(1), again!.EndedAt);
        Assert.Equal(T0.AddMinutes(2), again.UpdatedAt);
    }

    [Fact]
    public async Task An_update_changes_only_the_fields_it_names()
    {
        var experiment = (await Store.CreateExperimentAsync(Experiment("default", "run", T0) with
        {
            Description = "before",
            ExternalId = "ext-before",
            Metadata = Metadata(("k", "1")),
        })).Value;

        var described = await Store.UpdateExperimentAsync(experiment.Id, new ExperimentChanges(null, "after", null), T0.AddMinutes(1));
        var relinked = await Store.UpdateExperimentAsync(experiment.Id, new ExperimentChanges(null, null, "ext-after"), T0.AddMinutes(2));
        var touched = await Store.UpdateExperimentAsync(experiment.Id, new ExperimentChanges(null, null, null), T0.AddMinutes(3));

        AssertSame(experiment with { Description = "after", UpdatedAt = T0.AddMinutes(1) }, described);
        AssertSame(experiment with { Description = "after", ExternalId = "ext-after", UpdatedAt = T0.AddMinutes(2) }, relinked);
        AssertSame(experiment with { Description = "after", ExternalId = "ext-after", UpdatedAt = T0.AddMinutes(3) }, touched);
        AssertSame(touched!, await Store.GetExperimentAsync(experiment.Id));
    }

    [Fact]
    public async Task Updating_an_unknown_or_deleted_experiment_returns_null()
    {
        var experiment = await CreateExperimentAsync("default", "run");
        await Store.DeleteExperimentAsync(experiment.Id, T0.AddHours(1));
        var changes = new ExperimentChanges(ExperimentStatus.Finished, "x", "y");

        Assert.Null(await Store.UpdateExperimentAsync(ObjectIds.Experiment("default", "ghost"), changes, T0.AddHours(2)));
        Assert.Null(await Store.UpdateExperimentAsync(experiment.Id, changes, T0.AddHours(2)));
        Assert.Equal(ExperimentStatus.Running, (await Store.GetExperimentAsync(experiment.Id))!.Status);
    }

    [Fact]
    public async Task Ping_succeeds_on_a_healthy_store()
    {
        await Store.PingAsync();
    }

    // ---- Builders and assertions ----

    protected static IReadOnlyDictionary<string, string> Metadata(params (string Key, string Json)[] entries) =>
        entries.ToDictionary(entry => entry.Key, entry => entry.Json, StringComparer.Ordinal);

    [Fact]
    public async Task FindObject_resolves_every_kind_to_its_namespace_and_reports_deletion_through_the_parent()
    {
        var experiment = (await Store.CreateExperimentAsync(Experiment("find", "run", T0))).Value;
        var checkpoint = (await Store.CreateCheckpointAsync(Checkpoint(experiment.Id, 1, T0))).Value;
        var model = (await Store.CreateModelAsync(Model("find-models", "m", T0))).Value;
        var version = (await Store.CreateModelVersionAsync(Version(model.Id, "1", T0))).Value;

        Assert.Equal(new ObjectRef(experiment.Id, ObjectKind.Experiment, "find", false), await Store.FindObjectAsync(experiment.Id));
        Assert.Equal(new ObjectRef(checkpoint.Id, ObjectKind.Checkpoint, "find", false), await Store.FindObjectAsync(checkpoint.Id));
        Assert.Equal(new ObjectRef(model.Id, ObjectKind.Model, "find-models", false), await Store.FindObjectAsync(model.Id));
        Assert.Equal(new ObjectRef(version.Id, ObjectKind.ModelVersion, "find-models", false), await Store.FindObjectAsync(version.Id));
        Assert.Null(await Store.FindObjectAsync(ObjectIds.Experiment("find", "missing")));
        Assert.Null(await Store.FindObjectAsync("not-an-id"));

        await Store.DeleteModelAsync(model.Id, T0.AddSeconds(1));
        Assert.True((await Store.FindObjectAsync(model.Id))!.Deleted);
        Assert.True((await Store.FindObjectAsync(version.Id))!.Deleted);
        Assert.False((await Store.FindObjectAsync(checkpoint.Id))!.Deleted);
    }

    [Fact]
    public async Task FindObjects_answers_many_ids_of_every_kind_at_once_as_FindObject_does_one()
    {
        var experiment = (await Store.CreateExperimentAsync(Experiment("find-many", "run", T0))).Value;
        var checkpoint = (await Store.CreateCheckpointAsync(Checkpoint(experiment.Id, 1, T0))).Value;
        var model = (await Store.CreateModelAsync(Model("find-many/models", "m", T0))).Value;
        var version = (await Store.CreateModelVersionAsync(Version(model.Id, "1", T0))).Value;
        await Store.DeleteModelAsync(model.Id, T0.AddSeconds(1));
        // More than one query's worth of ids of one kind.
        var many = new List<string>();
        for (var i = 0; i < 600; i++)
        {
            many.Add((await Store.CreateExperimentAsync(Experiment("find-many/bulk", $"run-{i}", T0))).Value.Id);
        }

        string[] named = [experiment.Id, checkpoint.Id, model.Id, version.Id, ObjectIds.Experiment("find-many", "missing"), "not-an-id", experiment.Id];
        var found = await Store.FindObjectsAsync([.. named, .. many]);

        foreach (var id in named)
        {
            Assert.Equal(await Store.FindObjectAsync(id), found.GetValueOrDefault(id));
        }

        Assert.Equal(4 + many.Count, found.Count);
        Assert.All(many, id => Assert.Equal(new ObjectRef(id, ObjectKind.Experiment, "find-many/bulk", false), found[id]));
        Assert.True(found[version.Id].Deleted);
        Assert.Empty(await Store.FindObjectsAsync([]));
    }

    protected static Experiment Experiment(string @namespace, string name, DateTimeOffset at) => new(
        ObjectIds.Experiment(@namespace, name),
        @namespace,
        name,
        Owner: "owner",
        Framework.PyTorch,
        Task: "task",
        ExternalId: string.Empty,
        Description: string.Empty,
        ExperimentStatus.Running,
        EndedAt: null,
        Metadata(),
        at,
        at);

    protected static Checkpoint Checkpoint(string experimentId, long epoch, DateTimeOffset at) => new(
        ObjectIds.Checkpoint(experimentId, epoch),
        experimentId,
        epoch,
        new Dictionary<string, float>(StringComparer.Ordinal),
        Metadata(),
        at,
        at);

    protected static Model Model(string @namespace, string name, DateTimeOffset at) => new(
        ObjectIds.Model(@namespace, name),
        @namespace,
        name,
        Owner: "owner",
        Task: "task",
        Description: string.Empty,
        Metadata(),
        at,
        at);

    protected static ModelVersion Version(string modelId, string version, DateTimeOffset at) => new(
        ObjectIds.ModelVersion(modelId, version),
        modelId,
        Name: string.Empty,
        version,
        Description: string.Empty,
        Framework.PyTorch,
        UniqueTags: [],
        Metadata(),
        at,
        at);

    protected async Task<Experiment> CreateExperimentAsync(string @namespace, string name, DateTimeOffset? at = null) =>
        (await Store.CreateExperimentAsync(Experiment(@namespace, name, at ?? T0))).Value;

    protected async Task<Model> CreateModelAsync(string @namespace, string name, DateTimeOffset? at = null) =>
        (await Store.CreateModelAsync(Model(@namespace, name, at ?? T0))).Value;

    private async Task<List<Checkpoint>> CreateCheckpointsAsync(string experimentId, int count)
    {
        var checkpoints = new List<Checkpoint>();
        for (var epoch = 0; epoch < count; epoch++)
        {
            checkpoints.Add((await Store.CreateCheckpointAsync(Checkpoint(experimentId, epoch, T0.AddSeconds(epoch)))).Value);
        }

        return checkpoints;
    }

    /// <summary>Follows next-page tokens to the end; fails rather than loops if a backend keeps handing out tokens.</summary>
    private static async Task<List<Page<T>>> ReadAllPagesAsync<T>(Func<PageRequest, Task<Page<T>>> list, int pageSize)
    {
        var pages = new List<Page<T>>();
        string? token = null;
        do
        {
            var page = await list(new PageRequest(pageSize, token));
            pages.Add(page);
            Assert.True(pages.Count <= 100, "the listing never reached its last page");
            Assert.True(page.Items.Count <= pageSize);
            Assert.True(page.NextPageToken is null || page.Items.Count == pageSize, "only the last page may be short");
            token = page.NextPageToken;
        }
        while (token is not null);

        return pages;
    }

    private static async Task AssertMalformedTokenAsync(Func<Task> list)
    {
        var error = await Assert.ThrowsAsync<ModelBoxException>(list);
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Contains(new InputName("page token"), error.Text.Inputs);
    }

    protected static void AssertSame(Experiment expected, Experiment? actual)
    {
        Assert.NotNull(actual);
        AssertSameEntries(expected.Metadata, actual.Metadata);
        Assert.Equal(expected, actual with { Metadata = expected.Metadata });
    }

    protected static void AssertSame(Checkpoint expected, Checkpoint? actual)
    {
        Assert.NotNull(actual);
        AssertSameEntries(expected.Metadata, actual.Metadata);
        AssertSameEntries(expected.Metrics, actual.Metrics);
        Assert.Equal(expected, actual with { Metadata = expected.Metadata, Metrics = expected.Metrics });
    }

    protected static void AssertSame(Model expected, Model? actual)
    {
        Assert.NotNull(actual);
        AssertSameEntries(expected.Metadata, actual.Metadata);
        Assert.Equal(expected, actual with { Metadata = expected.Metadata });
    }

    protected static void AssertSame(ModelVersion expected, ModelVersion? actual)
    {
        Assert.NotNull(actual);
        AssertSameEntries(expected.Metadata, actual.Metadata);
        Assert.Equal(expected.UniqueTags, actual.UniqueTags);
        Assert.Equal(expected, actual with { Metadata = expected.Metadata, UniqueTags = expected.UniqueTags });
    }

    private static void AssertSameEntries<T>(IReadOnlyDictionary<string, T> expected, IReadOnlyDictionary<string, T> actual) =>
        Assert.Equal(
            expected.OrderBy(entry => entry.Key, StringComparer.Ordinal),
            actual.OrderBy(entry => entry.Key, StringComparer.Ordinal));
}
