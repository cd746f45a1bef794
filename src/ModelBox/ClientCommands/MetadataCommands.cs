using System.CommandLine;
using System.Text.Json;

namespace ModelBox.Cli.ClientCommands;

/// <summary><c>modelbox client metadata ...</c>: JSON values per key on any object.</summary>
internal static class MetadataCommands
{
    private static readonly Column<KeyValuePair<string, JsonElement>>[] s_columns =
    [
        new("KEY", m => m.Key),
        new("VALUE", m => m.Value.GetRawText()),
    ];

    public static Command Create(ClientGlobalOptions global)
    {
        var command = new Command("metadata", "Set, show and delete metadata (JSON per key) of any object");
        command.Add(SetCommand(global));
        command.Add(GetCommand(global));
        command.Add(DeleteCommand(global));
        return command;
    }

    private static Command SetCommand(ClientGlobalOptions global)
    {
        var parentId = ParentIdOption();
        var pairs = new Argument<string[]>("key=json")
        {
            Description = "Keys to write; a value that is not valid JSON is stored as a string",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("set", "Write metadata keys (other keys are kept)") { parentId, pairs };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var values = CliValues.ParseMetadata(parseResult.GetValue(pairs), "key=json")!;
            var result = await client.UpdateMetadataAsync(parseResult.GetRequiredValue(parentId), values, ct);
            output.WriteOutcome(
                $"wrote {result.Keys} key{(result.Keys == 1 ? "" : "s")}",
                new { num_keys_written = result.Keys, updated_at = result.UpdatedAt });
        });
        return command;
    }

    private static Command GetCommand(ClientGlobalOptions global)
    {
        var parentId = ParentIdOption();
        var command = new Command("get", "Show all metadata of an object") { parentId };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var metadata = await client.ListMetadataAsync(parseResult.GetRequiredValue(parentId), ct);
            var sorted = metadata.OrderBy(m => m.Key, StringComparer.Ordinal).ToList();
            output.WriteMap(metadata, sorted, s_columns, "No metadata.");
        });
        return command;
    }

    private static Command DeleteCommand(ClientGlobalOptions global)
    {
        var parentId = ParentIdOption();
        var keys = new Option<string[]>("--key") { Description = "A key to delete, repeatable", Required = true, HelpName = "key" };
        var command = new Command("delete", "Delete metadata keys (keys the object does not have are ignored)") { parentId, keys };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var result = await client.DeleteMetadataAsync(parseResult.GetRequiredValue(parentId), parseResult.GetRequiredValue(keys), ct);
            output.WriteOutcome(
                $"deleted {result.Keys} key{(result.Keys == 1 ? "" : "s")}",
                new { num_keys_deleted = result.Keys, updated_at = result.UpdatedAt });
        });
        return command;
    }

    internal static Option<string> ParentIdOption() =>
        new("--parent-id") { Description = "The object id (experiment, checkpoint, model, model version or event)", Required = true };
}
