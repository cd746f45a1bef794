using ModelBox.Domain;
using ModelBox.Domain.Changes;

namespace ModelBox.Storage.Tests;

/// <summary>Events: every log is a new event, stored at full precision, listed oldest first after <c>since</c>, page by page.</summary>
public abstract class EventStoreSpecification : BackendSpecification
{
    // 2024-05-01T12:00:00.123456789Z: nanoseconds survive.
    private const long Wallclock = 1_714_564_800_123_456_789L;

    [Fact]
    public async Task An_event_round_trips_every_field_at_full_precision()
    {
        var experiment = await CreateExperimentAsync("lab", "run");
        var logged = new LoggedEvent(
            ObjectIds.NewEvent(T0), experiment.Id, "deployed", "ci-pipeline", Wallclock, Metadata(("commit", "\"abc\""), ("n", "3")), T0);

        Assert.True(await Backend.Events.LogEventAsync(logged));
        var page = await Backend.Events.ListEventsAsync(experiment.Id, null, PageRequest.All);

        var stored = Assert.Single(page!.Items);
        Assert.Equal(logged with { Metadata = stored.Metadata }, stored);
        Assert.Equal(logged.Metadata.OrderBy(e => e.Key), stored.Metadata.OrderBy(e => e.Key));
        Assert.Null(page.NextPageToken);
    }

    [Fact]
    public async Task The_same_event_logged_twice_is_two_events()
    {
        var model = await CreateModelAsync("lab", "net");
        var first = new LoggedEvent(ObjectIds.NewEvent(T0), model.Id, "x", "s", Wallclock, Metadata(), T0);
        var second = first with { Id = ObjectIds.NewEvent(T0) };

        await Backend.Events.LogEventAsync(first);
        await Backend.Events.LogEventAsync(second);

        var items = (await Backend.Events.ListEventsAsync(model.Id, null, PageRequest.All))!.Items;
        Assert.Equal(2, items.Count);
        Assert.NotEqual(items[0].Id, items[1].Id);
    }

    [Fact]
    public async Task Listing_honours_since_and_pages_oldest_first_through_equal_times()
    {
        var experiment = await CreateExperimentAsync("lab", "run");
        var logged = new List<LoggedEvent>();
        for (var i = 0; i < 9; i++)
        {
            // Three events share each wallclock time: the keyset must break ties by id.
            var e = new LoggedEvent(ObjectIds.NewEvent(T0.AddTicks(i)), experiment.Id, $"e{i}", "s", Wallclock + (i / 3), Metadata(), T0);
            await Backend.Events.LogEventAsync(e);
            logged.Add(e);
        }

        var expected = logged.Where(e => e.WallclockUnixNanos > Wallclock).OrderBy(e => e.WallclockUnixNanos).ThenBy(e => e.Id, StringComparer.Ordinal)
            .Select(e => e.Id).ToList();
        var seen = new List<string>();
        string? token = null;
        do
        {
            var page = await Backend.Events.ListEventsAsync(experiment.Id, Wallclock, new PageRequest(2, token));
            seen.AddRange(page!.Items.Select(e => e.Id));
            token = page.NextPageToken;
        }
        while (token is not null && seen.Count <= logged.Count);

        Assert.Equal(6, expected.Count);
        Assert.Equal(expected, seen);
    }

    [Fact]
    public async Task Events_of_unknown_or_deleted_parents_are_refused_and_hidden()
    {
        var experiment = await CreateExperimentAsync("lab", "run");
        await Backend.Events.LogEventAsync(new LoggedEvent(ObjectIds.NewEvent(T0), experiment.Id, "x", "s", Wallclock, Metadata(), T0));
        await Store.DeleteExperimentAsync(experiment.Id, T0.AddHours(1));
        var unknown = ObjectIds.Experiment("lab", "never");

        Assert.False(await Backend.Events.LogEventAsync(new LoggedEvent(ObjectIds.NewEvent(T0), unknown, "x", "s", Wallclock, Metadata(), T0)));
        Assert.False(await Backend.Events.LogEventAsync(new LoggedEvent(ObjectIds.NewEvent(T0), experiment.Id, "x", "s", Wallclock, Metadata(), T0)));
        Assert.Null(await Backend.Events.ListEventsAsync(unknown, null, PageRequest.All));
        Assert.Null(await Backend.Events.ListEventsAsync(experiment.Id, null, PageRequest.All));
    }

    [Fact]
    public async Task Logging_an_event_appends_a_created_event_record_in_the_parents_namespace()
    {
        var model = await CreateModelAsync("lab", "net");
        var version = (await Store.CreateModelVersionAsync(Version(model.Id, "1"))).Value;
        var logged = new LoggedEvent(ObjectIds.NewEvent(T0), version.Id, "promoted", "ops", Wallclock, Metadata(("to", "\"prod\"")), T0.AddMinutes(1));

        await Backend.Events.LogEventAsync(logged);

        var record = (await ReadLogAsync("lab"))[^1];
        Assert.Equal((ChangeObjectKinds.Event, logged.Id, ChangeType.Created, T0.AddMinutes(1)), (record.ObjectKind, record.ObjectId, record.Change, record.ChangedAt));
        Assert.Equal("2024-05-01T12:00:00.123456789Z", State(record).GetProperty("wallclock_time").GetString());
        Assert.Equal("prod", State(record).GetProperty("metadata").GetProperty("to").GetString());
        Assert.Equal(version.Id, State(record).GetProperty("parent_id").GetString());
    }
}
