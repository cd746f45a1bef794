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
public sealed class MlflowRegistryApi(ModelRegistry registry, ModelGovernance governance, MetadataEditor metadata)
{
    public const string Namespace = "default";
    private const string SourceKey = "mlflow.source";
    private const string RunIdKey = "mlflow.run_id";
    private const string DescriptionKey = "mlflow.description";
    private const string UserKey = "mlflow.user_id";
    private const int MaxScan = 100_000;

    public async Task CreateModelAsync(HttpContext context, MlflowRequest request)
    {
        var name = Name(request);
        var values = Tags(request);
        AddDescription(values, request.String("description"));
        var created = await registry.CreateModelAsync(new NewModel(Namespace, name, null, null, null, values), [], context.RequestAborted);
        if (created.Existed)
        {
            throw new MlflowException(MlflowErrorCodes.ResourceAlreadyExists, $"Registered Model (name={name}) already exists.");
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
        await WriteModelAsync(context, "registered_model", await ModelAsync(model.Name, context.RequestAborted));
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
            models.AddRange(page.Items.Where(m => filter(m.Name)));
            token = models.Count < MaxScan ? page.NextPageToken : null;
        }
        while (token is not null);

        var offset = Offset(request.String("page_token"));
        var ordered = models.OrderBy(m => m.Name, StringComparer.Ordinal).ToList();
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

    public async Task GetLatestVersionsAsync(HttpContext context, MlflowRequest request)
    {
        var model = await ModelAsync(Name(request), context.RequestAborted);
        var stages = request.Strings("stages");
        // Stages are deprecated in MLflow and every ModelBox version is in stage "None".
        var latest = stages.Count == 0 || stages.Any(s => string.Equals(s, "None", StringComparison.OrdinalIgnoreCase))
            ? (await SnapshotAsync(model, context.RequestAborted)).Latest
            : [];
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
        foreach (var model in models.OrderBy(m => m.Name, StringComparer.Ordinal))
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

    private async Task<Model> ModelAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            return await registry.GetModelAsync(ObjectIds.Model(Namespace, name), cancellationToken);
        }
        catch (ModelBoxException e) when (e.Kind == ErrorKind.NotFound)
        {
            throw MlflowException.NotFound($"Registered Model with name={name} not found");
        }
    }

    private async Task<ModelVersion> VersionAsync(Model model, string version, CancellationToken cancellationToken)
    {
        try
        {
            return await registry.GetModelVersionAsync(ObjectIds.ModelVersion(model.Id, version), cancellationToken);
        }
        catch (ModelBoxException e) when (e.Kind == ErrorKind.NotFound)
        {
            throw MlflowException.NotFound($"Model Version (name={model.Name}, version={version}) not found");
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

    private static string Text(IReadOnlyDictionary<string, string> metadata, string key) =>
        metadata.TryGetValue(key, out var json) ? MlflowRunMapping.Text(json) : string.Empty;

    /// <summary>A model with what MLflow shows beside it: its latest version, its aliases, and each version's number by id.</summary>
    private sealed record ModelSnapshot(Model Model, IReadOnlyList<ModelVersion> Latest, IReadOnlyList<ModelAlias> Aliases, IReadOnlyDictionary<string, string> Numbers);

    private async Task<ModelSnapshot> SnapshotAsync(Model model, CancellationToken cancellationToken)
    {
        var versions = await AllVersionsAsync(model, cancellationToken);
        var latest = versions.MaxBy(v => long.TryParse(v.Version, out var n) ? n : 0);
        return new ModelSnapshot(
            model,
            latest is null ? [] : [latest],
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
        w.WriteString("name", model.Name);
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
        w.WriteString("name", model.Name);
        w.WriteString("version", version.Version);
        w.WriteNumber("creation_timestamp", version.CreatedAt.ToUnixTimeMilliseconds());
        w.WriteNumber("last_updated_timestamp", version.UpdatedAt.ToUnixTimeMilliseconds());
        w.WriteString("user_id", Text(version.Metadata, UserKey));
        w.WriteString("current_stage", "None");
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
