using System.CommandLine;
using System.Globalization;
using ModelBox.Client;

namespace ModelBox.Cli.ClientCommands;

/// <summary>
/// Registry commands for operations: <c>models label|unlabel|alias</c>, <c>datasets ...</c>, <c>lineage VERSION_ID</c> and
/// <c>search experiments|models|versions --filter ...</c>.
/// </summary>
internal static class RegistryCommands
{
    private static readonly Column<Dataset>[] s_datasetColumns =
    [
        new("ID", d => d.Id),
        new("NAME", d => d.Name),
        new("NAMESPACE", d => d.Namespace),
        new("DESCRIPTION", d => d.Description),
        new("CREATED", d => CommandOutput.Time(d.CreatedAt)),
    ];

    private static readonly Column<Experiment>[] s_experimentColumns =
    [
        new("ID", e => e.Id),
        new("NAME", e => e.Name),
        new("NAMESPACE", e => e.Namespace),
        new("OWNER", e => e.Owner),
        new("STATUS", e => e.Status.ToString().ToLowerInvariant()),
        new("LABELS", e => Labels(e.Labels)),
    ];

    private static readonly Column<Model>[] s_modelColumns =
    [
        new("ID", m => m.Id),
        new("NAME", m => m.Name),
        new("NAMESPACE", m => m.Namespace),
        new("OWNER", m => m.Owner),
        new("TASK", m => m.Task),
        new("LABELS", m => Labels(m.Labels)),
    ];

    private static readonly Column<ModelVersion>[] s_versionColumns =
    [
        new("ID", v => v.Id),
        new("MODEL", v => v.ModelId),
        new("VERSION", v => v.Version),
        new("FRAMEWORK", v => CliValues.Name(v.Framework)),
        new("UNIQUE TAGS", v => string.Join(", ", v.UniqueTags)),
        new("LABELS", v => Labels(v.Labels)),
    ];

    /// <summary>Adds <c>label</c>, <c>unlabel</c> and <c>alias</c> to the <c>models</c> command.</summary>
    public static void AddModelCommands(Command models, ClientGlobalOptions global)
    {
        AddLabelCommands(models, global);
        models.Add(AliasCommand(global));
        models.Add(PullCommand(global));
    }

    private static Command PullCommand(ClientGlobalOptions global)
    {
        var reference = new Argument<string>("reference") { Description = "NAMESPACE/MODEL@ALIAS or NAMESPACE/MODEL:VERSION" };
        var dir = new Option<string>("--dir") { Description = "The folder to put the files in", Required = true };
        var cache = new Option<string?>("--cache-dir") { Description = "The content-addressed cache [default: MODELBOX_CACHE_DIR or ~/.cache/modelbox]" };
        var strict = new Option<bool>("--strict") { Description = "Fail (exit 1) when a file was skipped: tracked elsewhere, or a name that cannot be placed safely" };
        var command = new Command("pull", "Download the files of a model version (by alias or version) into a folder, through a verified local cache")
        {
            reference, dir, cache, strict,
        };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var pulled = await client.PullModelAsync(
                parseResult.GetRequiredValue(reference), parseResult.GetRequiredValue(dir), parseResult.GetValue(cache), ct);
            foreach (var skip in pulled.Skipped)
            {
                await Console.Error.WriteLineAsync(CommandOutput.Printable($"warning: skipped {skip.File.Id} ({skip.File.Path}): {skip.Reason}"));
            }

            output.WriteOutcome(
                $"Pulled {pulled.Files.Count.ToString(CultureInfo.InvariantCulture)} file(s) of {pulled.Version.Id} (version {pulled.Version.Version})"
                + (pulled.Skipped.Count > 0 ? $"; skipped {pulled.Skipped.Count.ToString(CultureInfo.InvariantCulture)}." : "."),
                new
                {
                    version_id = pulled.Version.Id,
                    version = pulled.Version.Version,
                    files = pulled.Files.Select(f => new { id = f.File.Id, path = f.LocalPath, cache_path = f.CachePath, sha256 = f.File.Sha256, size_bytes = f.File.SizeBytes }),
                    skipped = pulled.Skipped.Select(s => new { id = s.File.Id, path = s.File.Path, reason = s.Reason }),
                });
            if (parseResult.GetValue(strict) && pulled.Skipped.Count > 0)
            {
                throw new CliOperationException($"{pulled.Skipped.Count.ToString(CultureInfo.InvariantCulture)} file(s) of {pulled.Version.Id} were skipped (--strict)");
            }
        });
        return command;
    }

    public static string Labels(IReadOnlyDictionary<string, string> labels) =>
        string.Join(",", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));

    private static Command LabelCommand(ClientGlobalOptions global)
    {
        var id = new Argument<string>("id") { Description = "A model, model version or experiment id" };
        var labels = new Argument<string[]>("labels") { Description = "key=value pairs", Arity = ArgumentArity.OneOrMore };
        var command = new Command("label", "Set labels (key=value) on a model, model version or experiment") { id, labels };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var pair in parseResult.GetRequiredValue(labels))
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0)
                {
                    throw new CliUsageException($"label '{pair}' must be key=value");
                }

                values[pair[..equals]] = pair[(equals + 1)..];
            }

            var objectId = parseResult.GetRequiredValue(id);
            var result = await client.SetLabelsAsync(objectId, values, ct);
            output.WriteOutcome($"Labels of {objectId}: {Labels(result)}", new { id = objectId, labels = result });
        });
        return command;
    }

    private static Command UnlabelCommand(ClientGlobalOptions global)
    {
        var id = new Argument<string>("id") { Description = "A model, model version or experiment id" };
        var keys = new Argument<string[]>("keys") { Description = "Label keys to remove", Arity = ArgumentArity.OneOrMore };
        var command = new Command("unlabel", "Remove labels from a model, model version or experiment") { id, keys };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var objectId = parseResult.GetRequiredValue(id);
            var result = await client.RemoveLabelsAsync(objectId, parseResult.GetRequiredValue(keys), ct);
            output.WriteOutcome($"Labels of {objectId}: {Labels(result)}", new { id = objectId, labels = result });
        });
        return command;
    }

    private static Command AliasCommand(ClientGlobalOptions global)
    {
        var command = new Command("alias", "Aliases: named pointers from a model to one of its versions (production, staging ...)");
        command.Add(AliasSetCommand(global));
        command.Add(AliasGetCommand(global, "get", "Show where an alias points"));
        command.Add(AliasGetCommand(global, "delete", "Delete an alias"));
        var model = ModelOption();
        var list = new Command("list", "List the aliases of a model") { model };
        global.SetClientAction(list, async (parseResult, client, output, ct) =>
        {
            var aliases = await client.ListAliasesAsync(parseResult.GetRequiredValue(model), ct);
            output.WriteList(aliases, [new("ALIAS", a => a.Alias), new("VERSION", a => a.VersionId), new("UPDATED", a => CommandOutput.Time(a.UpdatedAt))], "No aliases.");
        });
        command.Add(list);
        return command;
    }

    private static Command AliasSetCommand(ClientGlobalOptions global)
    {
        var model = ModelOption();
        var alias = AliasOption();
        var version = new Option<string>("--version-id") { Description = "The version it points at", Required = true };
        var command = new Command("set", "Point an alias at a version (moves it atomically)") { model, alias, version };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
            WriteAlias(output, await client.SetAliasAsync(
                parseResult.GetRequiredValue(model), parseResult.GetRequiredValue(alias), parseResult.GetRequiredValue(version), ct)));
        return command;
    }

    private static Command AliasGetCommand(ClientGlobalOptions global, string name, string description)
    {
        var model = ModelOption();
        var alias = AliasOption();
        var command = new Command(name, description) { model, alias };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var (modelId, aliasName) = (parseResult.GetRequiredValue(model), parseResult.GetRequiredValue(alias));
            WriteAlias(output, name == "delete" ? await client.DeleteAliasAsync(modelId, aliasName, ct) : await client.GetAliasAsync(modelId, aliasName, ct));
        });
        return command;
    }

    /// <summary><c>datasets create|list|get|usage</c>.</summary>
    public static Command DatasetsCommand(ClientGlobalOptions global)
    {
        var command = new Command("datasets", "Datasets, versioned by content digest");
        command.Aliases.Add("dataset");

        var name = new Option<string>("--name") { Description = "Dataset name, unique within the namespace", Required = true };
        var digest = new Option<string>("--digest") { Description = "Content digest of this version (e.g. sha256:...)", Required = true };
        var uri = new Option<string?>("--uri") { Description = "Where the data is" };
        var description = new Option<string?>("--description") { Description = "A description" };
        var ns = ExperimentCommands.NamespaceOption();
        var metadata = ExperimentCommands.MetadataOption();
        var create = new Command("create", "Register a dataset version (creates the dataset on first use; idempotent)")
        {
            name, digest, uri, description, ns, metadata,
        };
        global.SetClientAction(create, async (parseResult, client, output, ct) =>
        {
            var result = await client.CreateDatasetAsync(
                parseResult.GetValue(ns) ?? "",
                parseResult.GetRequiredValue(name),
                parseResult.GetRequiredValue(digest),
                parseResult.GetValue(uri),
                parseResult.GetValue(description),
                CliValues.ParseMetadata(parseResult.GetValue(metadata)),
                ct);
            output.WriteObject(result, [
                ("Dataset", result.Dataset.Id),
                ("Name", result.Dataset.Name),
                ("Namespace", result.Dataset.Namespace),
                ("Version", result.Version.Id),
                ("Digest", result.Version.Digest),
                ("URI", result.Version.Uri),
                ("Note", result.VersionExisted ? "this version already existed" : result.DatasetExisted ? "new version of an existing dataset" : "new dataset"),
            ]);
        });
        command.Add(create);

        var listNamespace = ExperimentCommands.NamespaceOption();
        var listRecursive = ExperimentCommands.RecursiveOption();
        var list = new Command("list", "List the datasets of a namespace, by name") { listNamespace, listRecursive };
        global.SetClientAction(list, async (parseResult, client, output, ct) =>
            output.WriteList(
                await client.ListDatasetsAsync(parseResult.GetValue(listNamespace) ?? "", parseResult.GetValue(listRecursive), ct).ToListAsync(ct),
                s_datasetColumns,
                "No datasets."));
        command.Add(list);

        var id = ExperimentCommands.IdArgument();
        var get = new Command("get", "Show a dataset and its versions") { id };
        global.SetClientAction(get, async (parseResult, client, output, ct) =>
        {
            var details = await client.GetDatasetAsync(parseResult.GetRequiredValue(id), ct);
            output.WriteObject(details, [
                ("ID", details.Dataset.Id),
                ("Name", details.Dataset.Name),
                ("Namespace", details.Dataset.Namespace),
                ("Description", details.Dataset.Description),
                ("Versions", string.Join("; ", details.Versions.Select(v => $"{v.Id} {v.Digest} {v.Uri}"))),
                ("Created", CommandOutput.Time(details.Dataset.CreatedAt)),
            ]);
        });
        command.Add(get);

        var usageId = new Argument<string>("id") { Description = "A dataset or dataset version id" };
        var usage = new Command("usage", "The experiments and model versions that used a dataset") { usageId };
        global.SetClientAction(usage, async (parseResult, client, output, ct) =>
        {
            var used = await client.GetDatasetUsageAsync(parseResult.GetRequiredValue(usageId), ct);
            output.WriteObject(used, [
                ("Experiments", string.Join(", ", used.Experiments.Select(e => e.Id))),
                ("Model versions", string.Join(", ", used.ModelVersions.Select(v => v.Id))),
            ]);
        });
        command.Add(usage);
        return command;
    }

    /// <summary><c>lineage VERSION_ID</c>: the full lineage of a model version; <c>lineage set|unset</c> record it.</summary>
    public static Command LineageCommand(ClientGlobalOptions global)
    {
        var id = new Argument<string>("version-id") { Description = "The model version" };
        var command = new Command("lineage", "Show where a model version came from (lineage VERSION_ID), or record it (lineage set / unset)") { id };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
            WriteLineage(output, await client.GetLineageAsync(parseResult.GetRequiredValue(id), ct)));

        var setId = new Argument<string>("version-id") { Description = "The model version (or an experiment: its datasets)" };
        var lineage = new LineageOptions();
        var set = new Command("set", "Record where a model version came from; replaces what was recorded") { setId };
        lineage.AddTo(set);
        global.SetClientAction(set, async (parseResult, client, output, ct) =>
        {
            if (!lineage.AnyGiven(parseResult))
            {
                throw new CliUsageException("give at least one of --experiment-id, --checkpoint-id, --dataset, --derived-from (lineage unset clears it)");
            }

            var versionId = parseResult.GetRequiredValue(setId);
            await client.SetLineageAsync(versionId, lineage.Read(parseResult), ct);
            WriteLineage(output, await client.GetLineageAsync(versionId, ct));
        });
        command.Add(set);

        var unsetId = new Argument<string>("version-id") { Description = "The model version" };
        var unset = new Command("unset", "Clear the recorded lineage of a model version") { unsetId };
        global.SetClientAction(unset, async (parseResult, client, output, ct) =>
        {
            var versionId = parseResult.GetRequiredValue(unsetId);
            await client.SetLineageAsync(versionId, new LineageSpec(), ct);
            output.WriteOutcome($"Cleared the lineage of {versionId}.", new { id = versionId, lineage = new LineageSpec() });
        });
        command.Add(unset);
        return command;
    }

    /// <summary>Prints a lineage as a key/value view (or JSON).</summary>
    public static void WriteLineage(CommandOutput output, ModelLineage lineage) =>
        output.WriteObject(lineage, [
            ("Version", $"{lineage.Version.Id} ({lineage.Model.Name} {lineage.Version.Version})"),
            ("Experiment", lineage.Experiment is { } e ? $"{e.Id} ({e.Name})" : ""),
            ("Checkpoint", lineage.Checkpoint is { } c ? $"{c.Id} (epoch {c.Epoch.ToString(CultureInfo.InvariantCulture)})" : ""),
            ("Datasets", string.Join("; ", lineage.Datasets.Select(d => $"{d.Dataset.Name}@{d.Version.Digest} ({d.Role.ToString().ToLowerInvariant()})"))),
            ("Ancestors", string.Join("; ", lineage.Ancestors.Select(a => $"{a.Version.Id} ({a.Relation}, depth {a.Depth.ToString(CultureInfo.InvariantCulture)})"))),
            ("Descendants", string.Join(", ", lineage.Descendants.Select(d => d.Id))),
        ]);

    /// <summary>Adds <c>label</c> and <c>unlabel</c> to a group whose objects take labels (experiments, model versions).</summary>
    public static void AddLabelCommands(Command group, ClientGlobalOptions global)
    {
        group.Add(LabelCommand(global));
        group.Add(UnlabelCommand(global));
    }

    /// <summary><c>search experiments|models|versions --filter ...</c>.</summary>
    public static Command SearchCommand(ClientGlobalOptions global)
    {
        var command = new Command("search", "Search with a filter (docs/search.md), e.g. --filter \"metrics.accuracy > 0.9 and labels.env = 'production'\"");
        command.Add(SearchTarget(global, "experiments", (client, f, ns, recursive, order, ct) => client.SearchExperimentsAsync(f, ns, recursive, order, ct), s_experimentColumns));
        command.Add(SearchTarget(global, "models", (client, f, ns, recursive, order, ct) => client.SearchModelsAsync(f, ns, recursive, order, ct), s_modelColumns));
        command.Add(SearchTarget(global, "versions", (client, f, ns, recursive, order, ct) => client.SearchModelVersionsAsync(f, ns, recursive, order, ct), s_versionColumns));
        return command;
    }

    private static Command SearchTarget<T>(
        ClientGlobalOptions global,
        string name,
        Func<ModelBoxClient, string, string?, bool, string?, CancellationToken, IAsyncEnumerable<T>> run,
        Column<T>[] columns)
    {
        var filter = new Option<string?>("--filter", "-f") { Description = "The filter; empty matches everything" };
        var ns = new Option<string?>("--namespace", "-n") { Description = "Only this namespace [default: all]" };
        var order = new Option<string?>("--order-by") { Description = "name, created_at or updated_at, then asc or desc [default: created_at desc]" };
        var limit = new Option<int?>("--limit") { Description = "At most this many results" };
        var recursive = ExperimentCommands.RecursiveOption();
        var command = new Command(name, $"Search {name}") { filter, ns, recursive, order, limit };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var results = run(
                client, parseResult.GetValue(filter) ?? "", parseResult.GetValue(ns), parseResult.GetValue(recursive), parseResult.GetValue(order), ct);
            var items = parseResult.GetValue(limit) is { } max ? await results.Take(max).ToListAsync(ct) : await results.ToListAsync(ct);
            output.WriteList(items, columns, $"No {name} match.");
        });
        if (name == "versions")
        {
            command.Aliases.Add("model-versions");
        }

        return command;
    }

    private static Option<string> ModelOption() => new("--model") { Description = "The model id", Required = true };

    private static Option<string> AliasOption() => new("--alias") { Description = "The alias name (production, staging ...)", Required = true };

    private static void WriteAlias(CommandOutput output, ModelAlias alias) =>
        output.WriteObject(alias, [
            ("Model", alias.ModelId),
            ("Alias", alias.Alias),
            ("Version", alias.VersionId),
            ("Updated", CommandOutput.Time(alias.UpdatedAt)),
        ]);
}
