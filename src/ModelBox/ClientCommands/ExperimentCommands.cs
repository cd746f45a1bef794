using System.CommandLine;
using ModelBox.Client;

namespace ModelBox.Cli.ClientCommands;

/// <summary><c>modelbox client experiments ...</c>: training runs.</summary>
internal static class ExperimentCommands
{
    private static readonly Column<Experiment>[] s_columns =
    [
        new("ID", e => e.Id),
        new("NAME", e => e.Name),
        new("NAMESPACE", e => e.Namespace),
        new("OWNER", e => e.Owner),
        new("FRAMEWORK", e => CliValues.Name(e.Framework)),
        new("STATUS", e => CliValues.Name(e.Status)),
        new("CREATED", e => CommandOutput.Time(e.CreatedAt)),
    ];

    public static Command Create(ClientGlobalOptions global)
    {
        var command = new Command("experiments", "Create, list, change and label experiments (training runs)");
        command.Aliases.Add("experiment");
        command.Add(CreateCommand(global));
        command.Add(ListCommand(global));
        command.Add(GetCommand(global));
        command.Add(UpdateCommand(global));
        command.Add(DeleteCommand(global));
        command.Add(RestoreCommand(global));
        RegistryCommands.AddLabelCommands(command, global);
        return command;
    }

    private static Command CreateCommand(ClientGlobalOptions global)
    {
        var name = new Option<string>("--name") { Description = "Name, unique within the namespace", Required = true };
        var owner = new Option<string>("--owner") { Description = "Owner, usually an email address" };
        var ns = NamespaceOption();
        var framework = new Option<string?>("--framework") { Description = $"Training framework: {CliValues.FrameworkNames}" };
        var task = new Option<string?>("--task") { Description = "The task it trains for (asr, classification ...)" };
        var externalId = new Option<string?>("--external-id") { Description = "An id in another system (a job scheduler, a notebook)" };
        var description = new Option<string?>("--description") { Description = "A human description" };
        var metadata = MetadataOption();

        var command = new Command("create", "Create an experiment (returns the existing one for the same namespace and name)")
        {
            name, owner, ns, framework, task, externalId, description, metadata,
        };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var frameworkValue = CliValues.ParseFramework(parseResult.GetValue(framework));
            var metadataValue = CliValues.ParseMetadata(parseResult.GetValue(metadata));
            var result = await client.CreateExperimentAsync(
                parseResult.GetRequiredValue(name),
                parseResult.GetValue(owner) ?? "",
                parseResult.GetValue(ns) ?? "",
                frameworkValue,
                parseResult.GetValue(task),
                parseResult.GetValue(externalId),
                parseResult.GetValue(description),
                metadataValue,
                ct);
            Write(output, result.Value, result.AlreadyExisted);
        });
        return command;
    }

    private static Command ListCommand(ClientGlobalOptions global)
    {
        var ns = NamespaceOption();
        var recursive = RecursiveOption();
        var command = new Command("list", "List the experiments of a namespace, newest first") { ns, recursive };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var experiments = await client.ListExperimentsAsync(parseResult.GetValue(ns) ?? "", parseResult.GetValue(recursive), ct).ToListAsync(ct);
            output.WriteList(experiments, s_columns, "No experiments.");
        });
        return command;
    }

    private static Command GetCommand(ClientGlobalOptions global)
    {
        var id = IdArgument();
        var command = new Command("get", "Show an experiment") { id };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
            Write(output, await client.GetExperimentAsync(parseResult.GetRequiredValue(id), ct)));
        return command;
    }

    private static Command UpdateCommand(ClientGlobalOptions global)
    {
        var id = IdArgument();
        var status = new Option<string?>("--status") { Description = $"New status: {CliValues.StatusNames}" };
        var description = new Option<string?>("--description") { Description = "New description" };
        var externalId = new Option<string?>("--external-id") { Description = "New external id" };
        var command = new Command("update", "Change an experiment's status, description or external id") { id, status, description, externalId };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var statusValue = CliValues.ParseStatus(parseResult.GetValue(status));
            var descriptionValue = parseResult.GetValue(description);
            var externalIdValue = parseResult.GetValue(externalId);
            if (statusValue is null && descriptionValue is null && externalIdValue is null)
            {
                throw new CliUsageException("nothing to update; give --status, --description or --external-id");
            }

            Write(output, await client.UpdateExperimentAsync(parseResult.GetRequiredValue(id), statusValue, descriptionValue, externalIdValue, ct));
        });
        return command;
    }

    private static Command DeleteCommand(ClientGlobalOptions global)
    {
        var id = IdArgument();
        var command = new Command("delete", "Soft-delete an experiment and its checkpoints (restore undoes it)") { id };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var experimentId = parseResult.GetRequiredValue(id);
            var deletedAt = await client.DeleteExperimentAsync(experimentId, ct);
            output.WriteOutcome($"Deleted experiment {experimentId}.", new { id = experimentId, deleted_at = deletedAt });
        });
        return command;
    }

    private static Command RestoreCommand(ClientGlobalOptions global)
    {
        var id = IdArgument();
        var command = new Command("restore", "Restore a deleted experiment and the checkpoints deleted with it") { id };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
            Write(output, await client.RestoreExperimentAsync(parseResult.GetRequiredValue(id), ct)));
        return command;
    }

    private static void Write(CommandOutput output, Experiment e, bool? alreadyExisted = null)
    {
        var fields = new List<(string, string)>
        {
            ("ID", e.Id),
            ("Name", e.Name),
            ("Namespace", e.Namespace),
            ("Owner", e.Owner),
            ("Framework", CliValues.Name(e.Framework)),
            ("Task", e.Task),
            ("Status", CliValues.Name(e.Status)),
            ("Ended", CommandOutput.Time(e.EndedAt)),
            ("External ID", e.ExternalId),
            ("Description", e.Description),
            ("Metadata", CommandOutput.Metadata(e.Metadata)),
            ("Created", CommandOutput.Time(e.CreatedAt)),
            ("Updated", CommandOutput.Time(e.UpdatedAt)),
        };
        if (alreadyExisted == true)
        {
            fields.Add(("Note", "an experiment with this name already existed in the namespace; nothing was changed"));
        }

        output.WriteObject(e, fields);
    }

    /// <summary><c>--recursive</c>: also the namespaces below the one named.</summary>
    internal static Option<bool> RecursiveOption() => new("--recursive")
    {
        Description = "Also the namespaces below it (vision covers vision/detection)",
    };

    internal static Option<string?> NamespaceOption() => new("--namespace", "-n")
    {
        Description = "Namespace [default: default]",
    };

    internal static Option<string[]> MetadataOption() => new("--metadata")
    {
        Description = "Metadata as key=json, repeatable (a value that is not JSON is taken as a string)",
        HelpName = "key=json",
    };

    internal static Argument<string> IdArgument() => new("id") { Description = "The object id" };
}
