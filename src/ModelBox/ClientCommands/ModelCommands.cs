using System.CommandLine;
using ModelBox.Client;

namespace ModelBox.Cli.ClientCommands;

/// <summary><c>modelbox client models ...</c>: registered models.</summary>
internal static class ModelCommands
{
    private static readonly Column<Model>[] s_columns =
    [
        new("ID", m => m.Id),
        new("NAME", m => m.Name),
        new("NAMESPACE", m => m.Namespace),
        new("OWNER", m => m.Owner),
        new("TASK", m => m.Task),
        new("DESCRIPTION", m => m.Description),
        new("CREATED", m => CommandOutput.Time(m.CreatedAt)),
    ];

    public static Command Create(ClientGlobalOptions global)
    {
        var command = new Command("models", "Create, list, delete and restore models");
        command.Aliases.Add("model");
        command.Add(CreateCommand(global));
        command.Add(ListCommand(global));
        command.Add(GetCommand(global));
        command.Add(DeleteCommand(global));
        command.Add(RestoreCommand(global));
        RegistryCommands.AddModelCommands(command, global);
        return command;
    }

    /// <summary><c>models list</c>; also mounted as <c>modelbox client list</c>, the original CLI's spelling.</summary>
    public static Command ListCommand(ClientGlobalOptions global)
    {
        var ns = ExperimentCommands.NamespaceOption();
        var recursive = ExperimentCommands.RecursiveOption();
        var command = new Command("list", "List the models of a namespace, newest first") { ns, recursive };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var models = await client.ListModelsAsync(parseResult.GetValue(ns) ?? "", parseResult.GetValue(recursive), ct).ToListAsync(ct);
            output.WriteList(models, s_columns, "No models.");
        });
        return command;
    }

    private static Command CreateCommand(ClientGlobalOptions global)
    {
        var name = new Option<string>("--name") { Description = "Name, unique within the namespace", Required = true };
        var owner = new Option<string>("--owner") { Description = "Owner, usually an email address" };
        var ns = ExperimentCommands.NamespaceOption();
        var task = new Option<string?>("--task") { Description = "The task it solves (asr, classification ...)" };
        var description = new Option<string?>("--description") { Description = "A human description" };
        var metadata = ExperimentCommands.MetadataOption();
        var command = new Command("create", "Create a model (returns the existing one for the same namespace and name)")
        {
            name, owner, ns, task, description, metadata,
        };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var metadataValue = CliValues.ParseMetadata(parseResult.GetValue(metadata));
            var result = await client.CreateModelAsync(
                parseResult.GetRequiredValue(name),
                parseResult.GetValue(owner) ?? "",
                parseResult.GetValue(ns) ?? "",
                parseResult.GetValue(task),
                parseResult.GetValue(description),
                metadataValue,
                ct);
            Write(output, result.Value, result.AlreadyExisted);
        });
        return command;
    }

    private static Command GetCommand(ClientGlobalOptions global)
    {
        var id = ExperimentCommands.IdArgument();
        var command = new Command("get", "Show a model") { id };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
            Write(output, await client.GetModelAsync(parseResult.GetRequiredValue(id), ct)));
        return command;
    }

    private static Command DeleteCommand(ClientGlobalOptions global)
    {
        var id = ExperimentCommands.IdArgument();
        var command = new Command("delete", "Soft-delete a model and its versions (restore undoes it)") { id };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var modelId = parseResult.GetRequiredValue(id);
            var deletedAt = await client.DeleteModelAsync(modelId, ct);
            output.WriteOutcome($"Deleted model {modelId}.", new { id = modelId, deleted_at = deletedAt });
        });
        return command;
    }

    private static Command RestoreCommand(ClientGlobalOptions global)
    {
        var id = ExperimentCommands.IdArgument();
        var command = new Command("restore", "Restore a deleted model and the versions deleted with it") { id };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
            Write(output, await client.RestoreModelAsync(parseResult.GetRequiredValue(id), ct)));
        return command;
    }

    private static void Write(CommandOutput output, Model m, bool alreadyExisted = false)
    {
        var fields = new List<(string, string)>
        {
            ("ID", m.Id),
            ("Name", m.Name),
            ("Namespace", m.Namespace),
            ("Owner", m.Owner),
            ("Task", m.Task),
            ("Description", m.Description),
            ("Files", m.Files.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("Labels", RegistryCommands.Labels(m.Labels)),
            ("Metadata", CommandOutput.Metadata(m.Metadata)),
            ("Created", CommandOutput.Time(m.CreatedAt)),
            ("Updated", CommandOutput.Time(m.UpdatedAt)),
        };
        if (alreadyExisted)
        {
            fields.Add(("Note", "a model with this name already existed in the namespace; nothing was changed"));
        }

        output.WriteObject(m, fields);
    }
}
