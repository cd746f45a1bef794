using System.CommandLine;
using System.Globalization;
using ModelBox.Client;

namespace ModelBox.Cli.ClientCommands;

/// <summary><c>modelbox client model-versions ...</c>: versions of a model.</summary>
internal static class ModelVersionCommands
{
    private static readonly Column<ModelVersion>[] s_columns =
    [
        new("ID", v => v.Id),
        new("VERSION", v => v.Version),
        new("NAME", v => v.Name),
        new("FRAMEWORK", v => CliValues.Name(v.Framework)),
        new("TAGS", v => string.Join(", ", v.UniqueTags)),
        new("CREATED", v => CommandOutput.Time(v.CreatedAt)),
    ];

    public static Command Create(ClientGlobalOptions global)
    {
        var command = new Command("model-versions", "Create, list, delete and restore versions of a model");
        command.Aliases.Add("model-version");
        command.Add(CreateCommand(global));
        command.Add(ListCommand(global));
        command.Add(GetCommand(global));
        command.Add(DeleteCommand(global));
        command.Add(RestoreCommand(global));
        return command;
    }

    private static Command CreateCommand(ClientGlobalOptions global)
    {
        var model = new Option<string>("--model") { Description = "The model id", Required = true };
        var version = new Option<string>("--version") { Description = "Version label, unique within the model", Required = true };
        var name = new Option<string?>("--name") { Description = "A name" };
        var description = new Option<string?>("--description") { Description = "A human description" };
        var framework = new Option<string?>("--framework") { Description = $"Framework: {CliValues.FrameworkNames}" };
        var uniqueTags = new Option<string[]>("--unique-tag") { Description = "A tag unique within the model, repeatable", HelpName = "tag" };
        var metadata = ExperimentCommands.MetadataOption();
        var lineage = new LineageOptions();
        var command = new Command("create", "Create a version of a model (returns the existing one for the same version label), with its lineage")
        {
            model, version, name, description, framework, uniqueTags, metadata,
        };
        lineage.AddTo(command);
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var frameworkValue = CliValues.ParseFramework(parseResult.GetValue(framework));
            var metadataValue = CliValues.ParseMetadata(parseResult.GetValue(metadata));
            var result = await client.CreateModelVersionAsync(
                parseResult.GetRequiredValue(model),
                parseResult.GetRequiredValue(version),
                parseResult.GetValue(name),
                parseResult.GetValue(description),
                frameworkValue,
                parseResult.GetValue(uniqueTags),
                metadataValue,
                lineage.AnyGiven(parseResult) ? lineage.Read(parseResult) : null,
                ct);
            Write(output, result.Value, result.AlreadyExisted);
        });
        return command;
    }

    private static Command ListCommand(ClientGlobalOptions global)
    {
        var model = new Option<string>("--model") { Description = "The model id", Required = true };
        var command = new Command("list", "List the versions of a model, oldest first") { model };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var versions = await client.ListModelVersionsAsync(parseResult.GetRequiredValue(model), ct).ToListAsync(ct);
            output.WriteList(versions, s_columns, "No model versions.");
        });
        return command;
    }

    private static Command GetCommand(ClientGlobalOptions global)
    {
        var id = new Argument<string?>("id") { Description = "The version id (or give --model and --alias)", Arity = ArgumentArity.ZeroOrOne };
        var model = new Option<string?>("--model") { Description = "The model whose alias to follow" };
        var alias = new Option<string?>("--alias") { Description = "The alias of --model (production, staging ...)" };
        var command = new Command("get", "Show a model version, by id or by a model's alias") { id, model, alias };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var (versionId, modelId, aliasName) = (parseResult.GetValue(id), parseResult.GetValue(model), parseResult.GetValue(alias));
            if (versionId is not null == (modelId is not null || aliasName is not null) || (modelId is null) != (aliasName is null))
            {
                throw new CliUsageException("give either a version id, or both --model and --alias");
            }

            Write(output, versionId is not null
                ? await client.GetModelVersionAsync(versionId, ct)
                : await client.GetModelVersionByAliasAsync(modelId!, aliasName!, ct));
        });
        return command;
    }

    private static Command DeleteCommand(ClientGlobalOptions global)
    {
        var id = ExperimentCommands.IdArgument();
        var command = new Command("delete", "Soft-delete a model version (restore undoes it)") { id };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var versionId = parseResult.GetRequiredValue(id);
            var deletedAt = await client.DeleteModelVersionAsync(versionId, ct);
            output.WriteOutcome($"Deleted model version {versionId}.", new { id = versionId, deleted_at = deletedAt });
        });
        return command;
    }

    private static Command RestoreCommand(ClientGlobalOptions global)
    {
        var id = ExperimentCommands.IdArgument();
        var command = new Command("restore", "Restore a deleted model version") { id };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
            Write(output, await client.RestoreModelVersionAsync(parseResult.GetRequiredValue(id), ct)));
        return command;
    }

    private static void Write(CommandOutput output, ModelVersion v, bool alreadyExisted = false)
    {
        var fields = new List<(string, string)>
        {
            ("ID", v.Id),
            ("Model", v.ModelId),
            ("Version", v.Version),
            ("Name", v.Name),
            ("Description", v.Description),
            ("Framework", CliValues.Name(v.Framework)),
            ("Unique tags", string.Join(", ", v.UniqueTags)),
            ("Labels", RegistryCommands.Labels(v.Labels)),
            ("Files", v.Files.Count.ToString(CultureInfo.InvariantCulture)),
            ("Metadata", CommandOutput.Metadata(v.Metadata)),
            ("Created", CommandOutput.Time(v.CreatedAt)),
            ("Updated", CommandOutput.Time(v.UpdatedAt)),
        };
        if (alreadyExisted)
        {
            fields.Add(("Note", "this version already existed; nothing was changed"));
        }

        output.WriteObject(v, fields);
    }
}
