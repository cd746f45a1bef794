using System.CommandLine;
using System.Text.Json;

namespace ModelBox.Cli.ClientCommands;

/// <summary><c>modelbox client watch</c>: prints every change of a namespace as one JSON line, until Ctrl+C.</summary>
internal static class WatchCommand
{
    private static readonly JsonSerializerOptions s_lineOptions = new(CliJson.Options) { WriteIndented = false };

    public static Command Create(ClientGlobalOptions global)
    {
        var ns = new Option<string?>("--namespace") { Description = "The namespace; default \"default\"" };
        var since = new Option<long>("--since") { Description = "Start after this sequence number (0: from the first change)" };
        var recursive = ExperimentCommands.RecursiveOption();
        var limit = new Option<int?>("--limit") { Description = "Stop after this many changes (default: run until Ctrl+C)", HelpName = "count" };
        var command = new Command("watch", "Print every change of a namespace as one JSON line; resumes by itself; runs until Ctrl+C or --limit") { ns, since, recursive, limit };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var sinceValue = parseResult.GetValue(since);
            if (sinceValue < 0)
            {
                throw new CliUsageException($"--since must be 0 or more, not {sinceValue}");
            }

            var limitValue = parseResult.GetValue(limit);
            if (limitValue is < 1)
            {
                throw new CliUsageException($"--limit must be 1 or more, not {limitValue}");
            }

            var printed = 0;
            try
            {
                await foreach (var change in client.WatchNamespaceAsync(parseResult.GetValue(ns) ?? "", parseResult.GetValue(recursive), sinceValue, ct))
                {
                    Console.Out.WriteLine(JsonSerializer.Serialize(
                        new
                        {
                            sequence = change.Sequence,
                            @event = change.Kind.ToString().ToLowerInvariant(),
                            object_kind = change.ObjectKind,
                            object_id = change.ObjectId,
                            changed_at = change.ChangedAt,
                            payload = change.Payload,
                        },
                        s_lineOptions));
                    await Console.Out.FlushAsync(ct);
                    if (++printed == limitValue)
                    {
                        break;
                    }
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Ctrl+C is how a watch ends.
            }
        });
        return command;
    }
}
