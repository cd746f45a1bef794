using System.CommandLine;
using System.Globalization;
using ModelBox.Client;

namespace ModelBox.Cli.ClientCommands;

/// <summary><c>modelbox client events ...</c>: things that happened to an object.</summary>
internal static class EventCommands
{
    private static readonly Column<Event>[] s_columns =
    [
        new("ID", e => e.Id),
        new("NAME", e => e.Name),
        new("SOURCE", e => e.Source),
        new("TIME", e => e.WallclockTime.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture)),
        new("METADATA", e => CommandOutput.Metadata(e.Metadata)),
    ];

    public static Command Create(ClientGlobalOptions global)
    {
        var command = new Command("events", "Log and list events of any object");
        command.Aliases.Add("event");
        command.Add(LogCommand(global));
        command.Add(ListCommand(global));
        return command;
    }

    private static Command LogCommand(ClientGlobalOptions global)
    {
        var parentId = MetadataCommands.ParentIdOption();
        var name = new Option<string>("--name") { Description = "What happened", Required = true };
        var source = new Option<string?>("--source") { Description = "Who reports it" };
        var time = new Option<string?>("--time") { Description = "When it happened (ISO 8601); default now", HelpName = "time" };
        var metadata = ExperimentCommands.MetadataOption();
        var command = new Command("log", "Log an event (every call logs a new one)") { parentId, name, source, time, metadata };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var wallclock = ParseTime(parseResult.GetValue(time), "--time");
            var createdAt = await client.LogEventAsync(
                parseResult.GetRequiredValue(parentId),
                parseResult.GetRequiredValue(name),
                parseResult.GetValue(source),
                wallclock,
                CliValues.ParseMetadata(parseResult.GetValue(metadata)),
                ct);
            output.WriteOutcome($"logged at {CommandOutput.Time(createdAt)}", new { created_at = createdAt });
        });
        return command;
    }

    private static Command ListCommand(ClientGlobalOptions global)
    {
        var parentId = MetadataCommands.ParentIdOption();
        var since = new Option<string?>("--since") { Description = "Only events after this time (ISO 8601)", HelpName = "time" };
        var command = new Command("list", "List the events of an object, oldest first") { parentId, since };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var sinceValue = ParseTime(parseResult.GetValue(since), "--since");
            var events = await client.ListEventsAsync(parseResult.GetRequiredValue(parentId), sinceValue, ct).ToListAsync(ct);
            output.WriteList(events, s_columns, "No events.");
        });
        return command;
    }

    private static DateTimeOffset? ParseTime(string? text, string option)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value)
            ? value
            : throw new CliUsageException($"{option} '{text}' is not a time; use ISO 8601, e.g. 2024-05-01T12:00:00Z");
    }
}
