using System.Globalization;
using System.Text.Json;
using ModelBox.Domain;
using ModelBox.Domain.Operations;
using ModelBox.Domain.Registry;

namespace ModelBox.Server.Mlflow;

/// <summary>
/// MLflow's model registry over ModelBox's (docs/mlflow.md): a registered model is a model of the namespace
/// <c>default</c> with the same name; versions are ModelBox versions numbered 1, 2, 3 ...; aliases are aliases; tags are
/// metadata <c>tag.KEY</c>; the source, run id and description MLflow keeps are metadata <c>mlflow.source</c>,
/// <c>mlflow.run_id</c>, <c>mlflow.description</c>. A version made from a run gets lineage to that run.
/// </summary>
public sealed class MlflowRegistryApi(ModelRegistry registry, ModelGovernance governance, MetadataEditor metadata, RegistrySearch search)
{
    public const string Namespace = "default";
    private const string SourceKey = "mlflow.source";
    private const string RunIdKey = "mlflow.run_id";
    private const string DescriptionKey = "mlflow.description";
    private const string UserKey = "mlflow.user_id";

    /// <summary>A renamed model's MLflow name (a JSON string); absent, the MLflow name is the ModelBox name.</summary>
    public const string NameKey = "mlflow.name";

    /// <summary>A version's MLflow stage (a JSON string: Staging, Production or Archived; absent or None is None).</summary>
    public const string StageKey = "mlflow.current_stage";

    /// <summary>MLflow's stages, in the order get-latest-versions lists them.</summary>
    private static readonly string[] Stages = ["None", "Staging", "Production", "Archived"];
    private const int MaxScan = 100_000;

    public async Task CreateModelAsync(HttpContext context, MlflowRequest request)
    {
        var name = Name(request);
        var values = Tags(request);
        AddDescription(values, request.String("description"));
        if (await FindModelAsync(name, context.RequestAborted) is not null)
        {
            throw new MlflowException(MlflowErrorCodes.ResourceAlreadyExists, $"Registered Model (name={name}) already exists.");
        }

        var created = await registry.CreateModelAsync(new NewModel(Namespace, name, null, null, null, values), [], context.RequestAborted);
        if (created.Existed)
        {
            throw new MlflowException(
                MlflowErrorCodes.ResourceAlreadyExists,
                created.Value.DeletedAt is null
                    ? $"Registered Model (name={name}) already exists: the model was renamed to '{MlflowName(created.Value)}', and ModelBox keeps a model's id from its first name"
                    : $"Registered Model (name={name}) already exists.");
        }

        await WriteModelAsync(context, "registered_model", created.Value);
    }

    public async Task GetModelAsync(HttpContext context, MlflowRequest request) =>
        await WriteModelAsync(context, "registered_model", await ModelAsync(Name(request), context.RequestAborted));

    public async Task UpdateModelAsync(HttpContext context, MlflowRequest request)
    {
        var model = await ModelAsync(Name(request), context.RequestAborted);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        AddDescription(values, request.String("description") ?? string.Empty);
        await metadata.UpdateMetadataAsync(model.Id, values, context.RequestAborted);
        await WriteModelAsync(context, "registered_model", await ModelAsync(MlflowName(model), context.RequestAborted));
    }

    /// <summary>
    /// registered-models/rename: the new name is the model's metadata <see cref="NameKey"/> (its ModelBox name and id stay,
    /// so its versions, aliases, files and lineage stay with it); the old name is free for lookups but cannot be created
    /// again while the model holds its id.
    /// </summary>
    public async Task RenameModelAsync(HttpContext context, MlflowRequest request)
    {
        var cancellationToken = context.RequestAborted;
        var model = await ModelAsync(Name(request), cancellationToken);
        var newName = request.RequiredString("new_name");
        if (newName.Length > Validation.MaxNameLength)
        {
            throw MlflowException.Invalid($"new_name had length {newName.Length}, which exceeded length limit of {Validation.MaxNameLength}");
        }

        var holder = await FindModelAsync(newName, cancellationToken);
        if (holder is not null && holder.Id != model.Id)
        {
            throw new MlflowException(MlflowErrorCodes.ResourceAlreadyExists, $"Registered Model (name={newName}) already exists.");
        }

        var owner = ObjectIds.Model(Namespace, newName);
        if (owner != model.Id && await registry.FindModelAsync(owner, cancellationToken) is { } other)
        {
            throw new MlflowException(
                MlflowErrorCodes.ResourceAlreadyExists,
                $"Registered Model (name={newName}) cannot be used: ModelBox model {other.Id} (now '{MlflowName(other)}') was created under it and keeps its id");
        }

        await metadata.UpdateMetadataAsync(model.Id, new Dictionary<string, string> { [NameKey] = MlflowRunMapping.Json(newName) }, cancellationToken);
        await WriteModelAsync(context, "registered_model", await ModelAsync(newName, cancellationToken));
    }

    public async Task DeleteModelAsync(HttpContext context, MlflowRequest request)
    {
        var model = await ModelAsync(Name(request), context.RequestAborted);
        await registry.DeleteModelAsync(model.Id, context.RequestAborted);
        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task SearchModelsAsync(HttpContext context, MlflowRequest request)
    {
        var maxResults = MlflowLimits.MaxResults(request.Long("max_results"), 100);
        var filter = NameFilter(request.String("filter"), "name");
        var models = new List<Model>();
        string? token = null;
        do
        {
            var page = await registry.ListModelsAsync(Namespace, false, null, new PageRequest(PageRequest.MaxPageSize, token), context.RequestAborted);
            models.AddRange(page.Items.Where(m => filter(MlflowName(m))));
            token = models.Count < MaxScan ? page.NextPageToken : null;
        }
        while (token is not null);

        var offset = Offset(request.String("page_token"));
        var ordered = models.OrderBy(MlflowName, StringComparer.Ordinal).ToList();
        var pageItems = ordered.Skip(offset).Take(maxResults).ToList();
        var snapshots = new List<ModelSnapshot>();
        foreach (var model in pageItems)
        {
            snapshots.Add(await SnapshotAsync(model, context.RequestAborted));
        }

        await MlflowJson.WriteAsync(context, w =>
        {
            w.WriteStartArray("registered_models");
            foreach (var snapshot in snapshots)
            {
                WriteModel(w, snapshot);
            }

            w.WriteEndArray();
            if (offset + pageItems.Count < ordered.Count)
            {
                w.WriteString("next_page_token", (offset + pageItems.Count).ToString(CultureInfo.InvariantCulture));
            }
        });
    }

    public async Task SetModelTagAsync(HttpContext context, MlflowRequest request)
    {
        var model = await ModelAsync(Name(request), context.RequestAborted);
        await SetTagAsync(model.Id, request, context.RequestAborted);
        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task DeleteModelTagAsync(HttpContext context, MlflowRequest request)
    {
        var model = await ModelAsync(Name(request), context.RequestAborted);
        await DeleteTagAsync(model.Id, model.Metadata, request, context.RequestAborted);
        await MlflowJson.WriteEmptyAsync(context);
    }

    /// <summary>registered-models/get-latest-versions: the highest version of each stage asked (every stage when none is).</summary>
    public async Task GetLatestVersionsAsync(HttpContext context, MlflowRequest request)
    {
        var model = await ModelAsync(Name(request), context.RequestAborted);
        var stages = request.Strings("stages").Select(Stage).ToList();
        var latest = LatestPerStage(await AllVersionsAsync(model, context.RequestAborted), stages.Count == 0 ? Stages : stages);
        var aliases = await governance.ListAliasesAsync(model.Id, context.RequestAborted);
        await MlflowJson.WriteAsync(context, w =>
        {
            w.WriteStartArray("model_versions");
            foreach (var version in latest)
            {
                WriteVersion(w, model, version, aliases);
            }

            w.WriteEndArray();
        });
    }

    /// <summary>
    /// model-versions/transition-stage: the stage is the version's metadata <see cref="StageKey"/> (so ModelBox's search,
    /// API and change stream see it). With archive_existing_versions, the other versions in the target stage (Staging or
    /// Production) move to Archived first, as MLflow does.
    /// </summary>
    public async Task TransitionStageAsync(HttpContext context, MlflowRequest request)
    {
        var cancellationToken = context.RequestAborted;
        var model = await ModelAsync(Name(request), cancellationToken);
        var version = await VersionAsync(model, request.RequiredString("version"), cancellationToken);
        var stage = Stage(request.RequiredString("stage"));
        if (request.Bool("archive_existing_versions") == true)
        {
            if (stage is not ("Staging" or "Production"))
            {
                throw MlflowException.Invalid($"Model version transition cannot archive existing model versions because '{stage}' is not an Active stage. Valid stages are Staging, Production");
            }

            foreach (var other in await AllVersionsAsync(model, cancellationToken))
            {
                if (other.Id != version.Id && StageOf(other) == stage)
                {
                    await metadata.UpdateMetadataAsync(other.Id, new Dictionary<string, string> { [StageKey] = MlflowRunMapping.Json("Archived") }, cancellationToken);
                }
            }
        }

        await metadata.UpdateMetadataAsync(version.Id, new Dictionary<string, string> { [StageKey] = MlflowRunMapping.Json(stage) }, cancellationToken);
        await WriteVersionAsync(context, model, await VersionAsync(model, version.Version, cancellationToken));
    }

    public async Task SetAliasAsync(HttpContext context, MlflowRequest request)
    {
        var model = await ModelAsync(Name(request), context.RequestAborted);
        var version = await VersionAsync(model, request.RequiredString("version"), context.RequestAborted);
        await governance.SetAliasAsync(model.Id, request.RequiredString("alias"), version.Id, "mlflow", context.RequestAborted);
        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task DeleteAliasAsync(HttpContext context, MlflowRequest request)
    {
        var model = await ModelAsync(Name(request), context.RequestAborted);
        await governance.DeleteAliasAsync(model.Id, request.RequiredString("alias"), "mlflow", context.RequestAborted);
        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task GetVersionByAliasAsync(HttpContext context, MlflowRequest request)
    {
        var model = await ModelAsync(Name(request), context.RequestAborted);
        var version = await governance.GetVersionByAliasAsync(model.Id, request.RequiredString("alias"), context.RequestAborted);
        await WriteVersionAsync(context, model, version);
    }

    public async Task CreateVersionAsync(HttpContext context, MlflowRequest request)
    {
        var cancellationToken = context.RequestAborted;
        var model = await ModelAsync(Name(request), cancellationToken);
        var source = request.RequiredString("source");
        var values = Tags(request);
        values[SourceKey] = MlflowRunMapping.Json(source);
        AddDescription(values, request.String("description"));
        Lineage? lineage = null;
        var runId = request.String("run_id");
        if (string.IsNullOrEmpty(runId) && source.StartsWith("runs:/", StringComparison.Ordinal))
        {
            runId = source["runs:/".Length..].Split('/')[0];
        }

        if (!string.IsNullOrEmpty(runId))
        {
            values[RunIdKey] = MlflowRunMapping.Json(runId);
            lineage = new Lineage(MlflowRunMapping.ExperimentId(runId), null, [], []);
        }

        // Versions are numbered as MLflow numbers them: one more than the highest so far (a number taken meanwhile is skipped).
        var next = (await AllVersionsAsync(model, cancellationToken)).Select(v => long.TryParse(v.Version, out var n) ? n : 0).DefaultIfEmpty(0).Max() + 1;
        for (var attempt = 0; ; attempt++, next++)
        {
            var created = await governance.CreateModelVersionAsync(
                new NewModelVersion(model.Id, model.Name, next.ToString(CultureInfo.InvariantCulture), null, Framework.Unknown, [], values),
                lineage,
                "mlflow",
                [],
                cancellationToken);
            if (!created.Existed)
            {
                await WriteVersionAsync(context, model, created.Value);
                return;
            }

            if (attempt == 16)
            {
                throw new MlflowException(MlflowErrorCodes.InternalError, $"could not number a new version of '{model.Name}'");
            }
        }
    }

    public async Task GetVersionAsync(HttpContext context, MlflowRequest request)
    {
        var model = await ModelAsync(Name(request), context.RequestAborted);
        await WriteVersionAsync(context, model, await VersionAsync(model, request.RequiredString("version"), context.RequestAborted));
    }

    public async Task UpdateVersionAsync(HttpContext context, MlflowRequest request)
    {
        var model = await ModelAsync(Name(request), context.RequestAborted);
        var version = await VersionAsync(model, request.RequiredString("version"), context.RequestAborted);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        AddDescription(values, request.String("description") ?? string.Empty);
        await metadata.UpdateMetadataAsync(version.Id, values, context.RequestAborted);
        await WriteVersionAsync(context, model, await VersionAsync(model, version.Version, context.RequestAborted));
    }

    public async Task DeleteVersionAsync(HttpContext context, MlflowRequest request)
    {
        var model = await ModelAsync(Name(request), context.RequestAborted);
        var version = await VersionAsync(model, request.RequiredString("version"), context.RequestAborted);
        await registry.DeleteModelVersionAsync(version.Id, context.RequestAborted);
        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task SearchVersionsAsync(HttpContext context, MlflowRequest request)
    {
        var maxResults = MlflowLimits.MaxResults(request.Long("max_results"), 10_000);
        var (name, runId) = VersionFilter(request.String("filter"));
        var models = new List<Model>();
        if (name is not null)
        {
            try
            {
                models.Add(await ModelAsync(name, context.RequestAborted));
            }
            catch (MlflowException)
            {
            }
        }
        else
        {
            string? token = null;
            do
            {
                var page = await registry.ListModelsAsync(Namespace, false, null, new PageRequest(PageRequest.MaxPageSize, token), context.RequestAborted);
                models.AddRange(page.Items);
                token = models.Count < MaxScan ? page.NextPageToken : null;
            }
            while (token is not null);
        }

        var found = new List<(Model Model, ModelVersion Version, IReadOnlyList<ModelAlias> Aliases)>();
        foreach (var model in models.OrderBy(MlflowName, StringComparer.Ordinal))
        {
            var aliases = await governance.ListAliasesAsync(model.Id, context.RequestAborted);
            foreach (var version in (await AllVersionsAsync(model, context.RequestAborted)).OrderByDescending(v => v.CreatedAt))
            {
                if (runId is null || (version.Metadata.TryGetValue(RunIdKey, out var json) && MlflowRunMapping.Text(json) == runId))
                {
                    found.Add((model, version, aliases));
                }
            }
        }

        var offset = Offset(request.String("page_token"));
        var pageItems = found.Skip(offset).Take(maxResults).ToList();
        await MlflowJson.WriteAsync(context, w =>
        {
            w.WriteStartArray("model_versions");
            foreach (var (model, version, aliases) in pageItems)
            {
                WriteVersion(w, model, version, aliases);
            }

            w.WriteEndArray();
            if (offset + pageItems.Count < found.Count)
            {
                w.WriteString("next_page_token", (offset + pageItems.Count).ToString(CultureInfo.InvariantCulture));
            }
        });
    }

    public async Task SetVersionTagAsync(HttpContext context, MlflowRequest request)
    {
        var model = await ModelAsync(Name(request), context.RequestAborted);
        var version = await VersionAsync(model, request.RequiredString("version"), context.RequestAborted);
        await SetTagAsync(version.Id, request, context.RequestAborted);
        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task DeleteVersionTagAsync(HttpContext context, MlflowRequest request)
    {
        var model = await ModelAsync(Name(request), context.RequestAborted);
        var version = await VersionAsync(model, request.RequiredString("version"), context.RequestAborted);
        await DeleteTagAsync(version.Id, version.Metadata, request, context.RequestAborted);
        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task GetDownloadUriAsync(HttpContext context, MlflowRequest request)
    {
        var model = await ModelAsync(Name(request), context.RequestAborted);
        var version = await VersionAsync(model, request.RequiredString("version"), context.RequestAborted);
        var source = version.Metadata.TryGetValue(SourceKey, out var json) ? MlflowRunMapping.Text(json) : string.Empty;
        await MlflowJson.WriteAsync(context, w => w.WriteString("artifact_uri", source));
    }

    // ---------------------------------------------------------------- shared

    private static string Name(MlflowRequest request)
    {
        var name = request.RequiredString("name");
        return name.Length > Validation.MaxNameLength
            ? throw MlflowException.Invalid($"name had length {name.Length}, which exceeded length limit of {Validation.MaxNameLength}")
            : name;
    }

    private async Task<Model> ModelAsync(string name, CancellationToken cancellationToken) =>
        await FindModelAsync(name, cancellationToken) ?? throw MlflowException.NotFound($"Registered Model with name={name} not found");

    /// <summary>The live model MLflow calls <paramref name="name"/>: the one created under it, unless renamed since, else the one renamed to it.</summary>
    private async Task<Model?> FindModelAsync(string name, CancellationToken cancellationToken)
    {
        if (await registry.FindModelAsync(ObjectIds.Model(Namespace, name), cancellationToken) is { DeletedAt: null } model && MlflowName(model) == name)
        {
            return model;
        }

        var renamed = await search.SearchModelsAsync(
            Namespace, false, $"metadata.{NameKey} = '{name.Replace("'", "''", StringComparison.Ordinal)}'", "name asc", new PageRequest(1, null), null, cancellationToken);
        return renamed.Items.Count > 0 ? renamed.Items[0] : null;
    }

    /// <summary>The name MLflow knows a model by.</summary>
    private static string MlflowName(Model model) => Text(model.Metadata, NameKey) is { Length: > 0 } renamed ? renamed : model.Name;

    private async Task<ModelVersion> VersionAsync(Model model, string version, CancellationToken cancellationToken)
    {
        try
        {
            return await registry.GetModelVersionAsync(ObjectIds.ModelVersion(model.Id, version), cancellationToken);
        }
        catch (ModelBoxException e) when (e.Kind == ErrorKind.NotFound)
        {
            throw MlflowException.NotFound($"Model Version (name={MlflowName(model)}, version={version}) not found");
        }
    }

    private async Task<List<ModelVersion>> AllVersionsAsync(Model model, CancellationToken cancellationToken)
    {
        var versions = new List<ModelVersion>();
        string? token = null;
        do
        {
            var page = await registry.ListModelVersionsAsync(model.Id, null, new PageRequest(PageRequest.MaxPageSize, token), cancellationToken);
            versions.AddRange(page.Items);
            token = versions.Count < MaxScan ? page.NextPageToken : null;
        }
        while (token is not null);
        return versions;
    }

    private async Task SetTagAsync(string objectId, MlflowRequest request, CancellationToken cancellationToken)
    {
        var key = MlflowLimits.Key(request.String("key"), "key");
        var value = MlflowLimits.Value(request.String("value"), "Tag value", key, MlflowLimits.MaxTagValueLength);
        await metadata.UpdateMetadataAsync(objectId, new Dictionary<string, string> { [MlflowRunMapping.TagPrefix + key] = MlflowRunMapping.Json(value) }, cancellationToken);
    }

    private async Task DeleteTagAsync(string objectId, IReadOnlyDictionary<string, string> current, MlflowRequest request, CancellationToken cancellationToken)
    {
        var key = MlflowLimits.Key(request.String("key"), "key");
        if (!current.ContainsKey(MlflowRunMapping.TagPrefix + key))
        {
            throw MlflowException.NotFound($"No tag with key '{key}'");
        }

        await metadata.DeleteMetadataAsync(objectId, [MlflowRunMapping.TagPrefix + key], cancellationToken);
    }

    private static Dictionary<string, string> Tags(MlflowRequest request)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in request.KeyValues("tags"))
        {
            var checkedKey = MlflowLimits.Key(key, "tags.key");
            values[MlflowRunMapping.TagPrefix + checkedKey] = MlflowRunMapping.Json(MlflowLimits.Value(value, "Tag value", checkedKey, MlflowLimits.MaxTagValueLength));
        }

        return values;
    }

    private static void AddDescription(Dictionary<string, string> values, string? description)
    {
        if (description is not null)
        {
            values[DescriptionKey] = MlflowRunMapping.Json(description);
        }
    }

    /// <summary>MLflow's stage names, matched without regard to case (as MLflow's server does).</summary>
    private static string Stage(string text) =>
        Stages.FirstOrDefault(s => string.Equals(s, text, StringComparison.OrdinalIgnoreCase))
            ?? throw MlflowException.Invalid($"Invalid Model Version stage: {text}. Value must be one of {string.Join(", ", Stages)}.");

    private static string StageOf(ModelVersion version) => Text(version.Metadata, StageKey) is { Length: > 0 } stage ? stage : "None";

    /// <summary>The highest version of each of <paramref name="stages"/> that has one, in that order.</summary>
    private static List<ModelVersion> LatestPerStage(IEnumerable<ModelVersion> versions, IReadOnlyList<string> stages)
    {
        var byStage = versions
            .GroupBy(StageOf, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.MaxBy(v => long.TryParse(v.Version, out var n) ? n : 0)!, StringComparer.Ordinal);
        return stages.Distinct(StringComparer.Ordinal).Where(byStage.ContainsKey).Select(s => byStage[s]).ToList();
    }

    private static string Text(IReadOnlyDictionary<string, string> metadata, string key) =>
        metadata.TryGetValue(key, out var json) ? MlflowRunMapping.Text(json) : string.Empty;

    /// <summary>A model with what MLflow shows beside it: its latest version, its aliases, and each version's number by id.</summary>
    private sealed record ModelSnapshot(Model Model, IReadOnlyList<ModelVersion> Latest, IReadOnlyList<ModelAlias> Aliases, IReadOnlyDictionary<string, string> Numbers);

    private async Task<ModelSnapshot> SnapshotAsync(Model model, CancellationToken cancellationToken)
    {
        var versions = await AllVersionsAsync(model, cancellationToken);
        return new ModelSnapshot(
            model,
            LatestPerStage(versions, Stages),
            await governance.ListAliasesAsync(model.Id, cancellationToken),
            versions.ToDictionary(v => v.Id, v => v.Version, StringComparer.Ordinal));
    }

    private async Task WriteModelAsync(HttpContext context, string property, Model model)
    {
        var snapshot = await SnapshotAsync(model, context.RequestAborted);
        await MlflowJson.WriteAsync(context, w =>
        {
            w.WritePropertyName(property);
            WriteModel(w, snapshot);
        });
    }

    private static void WriteModel(Utf8JsonWriter w, ModelSnapshot snapshot)
    {
        var (model, latest, aliases, numbers) = snapshot;
        w.WriteStartObject();
        w.WriteString("name", MlflowName(model));
        w.WriteNumber("creation_timestamp", model.CreatedAt.ToUnixTimeMilliseconds());
        w.WriteNumber("last_updated_timestamp", model.UpdatedAt.ToUnixTimeMilliseconds());
        w.WriteString("description", Text(model.Metadata, DescriptionKey));
        w.WriteStartArray("latest_versions");
        foreach (var version in latest)
        {
            WriteVersion(w, model, version, aliases);
        }

        w.WriteEndArray();
        MlflowJson.WriteKeyValues(w, "tags", MlflowRunMapping.WithPrefix(model.Metadata, MlflowRunMapping.TagPrefix));
        w.WriteStartArray("aliases");
        foreach (var alias in aliases.OrderBy(a => a.Alias, StringComparer.Ordinal))
        {
            w.WriteStartObject();
            w.WriteString("alias", alias.Alias);
            w.WriteString("version", numbers.GetValueOrDefault(alias.VersionId, string.Empty));
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private async Task WriteVersionAsync(HttpContext context, Model model, ModelVersion version)
    {
        var aliases = await governance.ListAliasesAsync(model.Id, context.RequestAborted);
        await MlflowJson.WriteAsync(context, w =>
        {
            w.WritePropertyName("model_version");
            WriteVersion(w, model, version, aliases);
        });
    }

    private static void WriteVersion(Utf8JsonWriter w, Model model, ModelVersion version, IReadOnlyList<ModelAlias> aliases)
    {
        w.WriteStartObject();
        w.WriteString("name", MlflowName(model));
        w.WriteString("version", version.Version);
        w.WriteNumber("creation_timestamp", version.CreatedAt.ToUnixTimeMilliseconds());
        w.WriteNumber("last_updated_timestamp", version.UpdatedAt.ToUnixTimeMilliseconds());
        w.WriteString("user_id", Text(version.Metadata, UserKey));
        w.WriteString("current_stage", StageOf(version));
        w.WriteString("description", Text(version.Metadata, DescriptionKey));
        w.WriteString("source", Text(version.Metadata, SourceKey));
        w.WriteString("run_id", Text(version.Metadata, RunIdKey));
        w.WriteString("status", "READY");
        MlflowJson.WriteKeyValues(w, "tags", MlflowRunMapping.WithPrefix(version.Metadata, MlflowRunMapping.TagPrefix));
        w.WriteStartArray("aliases");
        foreach (var alias in aliases.Where(a => a.VersionId == version.Id).OrderBy(a => a.Alias, StringComparer.Ordinal))
        {
            w.WriteStringValue(alias.Alias);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary><c>name = 'x'</c>, <c>name LIKE 'x%'</c>, <c>name ILIKE ...</c>, or nothing.</summary>
    private static Func<string, bool> NameFilter(string? filter, string field)
    {
        if (string.IsNullOrWhiteSpace(filter))
        {
            return _ => true;
        }

        var tokens = MlflowRunFilter.Tokenize(filter);
        if (tokens.Count != 3 || !string.Equals(tokens[0].Text, field, StringComparison.OrdinalIgnoreCase) || !tokens[2].Quoted)
        {
            throw MlflowException.Invalid($"Invalid filter '{filter}': this server filters registered models by {field} = 'x', LIKE or ILIKE");
        }

        var text = tokens[2].Text;
        return tokens[1].Text.ToUpperInvariant() switch
        {
            "=" => name => string.Equals(name, text, StringComparison.Ordinal),
            "!=" => name => !string.Equals(name, text, StringComparison.Ordinal),
            "LIKE" => Like(text, ignoreCase: false),
            "ILIKE" => Like(text, ignoreCase: true),
            _ => throw MlflowException.Invalid($"Invalid filter '{filter}': use =, !=, LIKE or ILIKE"),
        };
    }

    private static Func<string, bool> Like(string pattern, bool ignoreCase)
    {
        var regex = "^" + string.Concat(pattern.Select(c => c switch { '%' => ".*", '_' => ".", _ => System.Text.RegularExpressions.Regex.Escape(c.ToString()) })) + "$";
        var compiled = new System.Text.RegularExpressions.Regex(
            regex,
            (ignoreCase ? System.Text.RegularExpressions.RegexOptions.IgnoreCase : System.Text.RegularExpressions.RegexOptions.None) | System.Text.RegularExpressions.RegexOptions.CultureInvariant,
            TimeSpan.FromMilliseconds(100));
        return compiled.IsMatch;
    }

    /// <summary><c>name = 'x'</c> and/or <c>run_id = '...'</c>, joined by AND.</summary>
    private static (string? Name, string? RunId) VersionFilter(string? filter)
    {
        if (string.IsNullOrWhiteSpace(filter))
        {
            return (null, null);
        }

        var tokens = MlflowRunFilter.Tokenize(filter);
        string? name = null, runId = null;
        for (var i = 0; i < tokens.Count; i += 4)
        {
            if (i + 2 >= tokens.Count || tokens[i + 1].Text != "=" || !tokens[i + 2].Quoted
                || (i + 3 < tokens.Count && !string.Equals(tokens[i + 3].Text, "and", StringComparison.OrdinalIgnoreCase)))
            {
                throw MlflowException.Invalid($"Invalid filter '{filter}': this server filters model versions by name = 'x' and run_id = 'y'");
            }

            switch (tokens[i].Text.ToLowerInvariant())
            {
                case "name":
                    name = tokens[i + 2].Text;
                    break;
                case "run_id":
                    runId = tokens[i + 2].Text;
                    break;
                default:
                    throw MlflowException.Invalid($"Invalid filter '{filter}': cannot filter model versions by '{tokens[i].Text}'; use name or run_id");
            }
        }

        return (name, runId);
    }

    private static int Offset(string? token) =>
        string.IsNullOrEmpty(token) ? 0
        : int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var offset) ? offset
        : throw MlflowException.Invalid("Invalid page token");
}
