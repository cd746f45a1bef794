using System.Text.Json;
using System.Text.Json.Nodes;
using ModelBox.Domain;
using ModelBox.Domain.Operations;
using ModelBox.Domain.Registry;

namespace ModelBox.Server.Mlflow;

/// <summary>
/// What MLflow logs about a run beside metrics, params and tags: its dataset inputs (<c>runs/log-inputs</c>), registered
/// as ModelBox datasets in the run's namespace with lineage from the run, and its logged models (<c>runs/log-model</c>),
/// kept as MLflow keeps them, in the tag <c>mlflow.log-model.history</c>.
/// </summary>
public sealed class MlflowRunInputsApi(MlflowTrackingApi tracking, DatasetCatalog datasets, LineageTracker lineage, MetadataEditor metadata)
{
    /// <summary>The run's dataset inputs as MLflow shows them (a JSON array), kept beside the run's other MLflow attributes.</summary>
    public const string InputsKey = "run.inputs";

    public const string ModelHistoryTag = "mlflow.log-model.history";

    public const int MaxDatasetsPerRun = 100;
    public const int MaxDatasetNameLength = 500;
    public const int MaxDigestLength = 36;

    public async Task LogInputsAsync(HttpContext context, MlflowRequest request)
    {
        var cancellationToken = context.RequestAborted;
        var id = MlflowTrackingApi.RunIdOf(request);
        var run = await tracking.GetRunAsync(id, cancellationToken);
        var inputs = run.Metadata.TryGetValue(InputsKey, out var stored) ? JsonNode.Parse(stored)!.AsArray() : [];
        var incoming = request.Messages("datasets");
        if (inputs.Count + incoming.Count > MaxDatasetsPerRun)
        {
            throw MlflowException.Invalid($"a run may have at most {MaxDatasetsPerRun} dataset inputs; this request would make {inputs.Count + incoming.Count}");
        }

        for (var i = 0; i < incoming.Count; i++)
        {
            var node = await RegisterAsync(run, incoming[i], $"datasets[{i}]", cancellationToken);
            var digest = node["dataset"]!["digest"]!.GetValue<string>();
            var name = node["dataset"]!["name"]!.GetValue<string>();
            // The same dataset (name and digest) logged again replaces its entry, as MLflow keeps one input per dataset.
            for (var j = inputs.Count - 1; j >= 0; j--)
            {
                if (inputs[j]!["dataset"]!["name"]!.GetValue<string>() == name && inputs[j]!["dataset"]!["digest"]!.GetValue<string>() == digest)
                {
                    inputs.RemoveAt(j);
                }
            }

            inputs.Add(node);
        }

        await metadata.UpdateMetadataAsync(id, new Dictionary<string, string> { [InputsKey] = inputs.ToJsonString() }, cancellationToken);
        var allLinks = new List<DatasetLink>();
        foreach (var input in inputs)
        {
            var version = ObjectIds.DatasetVersion(
                ObjectIds.Dataset(run.Namespace, input!["dataset"]!["name"]!.GetValue<string>()), DatasetDigest(input["dataset"]!["digest"]!.GetValue<string>()));
            var role = input["tags"]?.AsArray().FirstOrDefault(t => t?["key"]?.GetValue<string>() == "mlflow.data.context")?["value"]?.GetValue<string>();
            allLinks.Add(new DatasetLink(version, Role(role)));
        }

        await lineage.SetLineageAsync(id, new Lineage(null, null, allLinks.DistinctBy(l => l.DatasetVersionId).ToList(), []), "mlflow", cancellationToken);
        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task LogModelAsync(HttpContext context, MlflowRequest request)
    {
        var cancellationToken = context.RequestAborted;
        var id = MlflowTrackingApi.RunIdOf(request);
        var modelJson = request.RequiredString("model_json");
        JsonNode model;
        try
        {
            model = JsonNode.Parse(modelJson) ?? throw MlflowException.Invalid("model_json must be a JSON object");
        }
        catch (JsonException e)
        {
            throw MlflowException.Invalid($"model_json is not JSON: {e.Message}");
        }

        if (model is not JsonObject)
        {
            throw MlflowException.Invalid("model_json must be a JSON object");
        }

        var run = await tracking.GetRunAsync(id, cancellationToken);
        var key = MlflowRunMapping.TagPrefix + ModelHistoryTag;
        var history = run.Metadata.TryGetValue(key, out var stored) && JsonNode.Parse(MlflowRunMapping.Text(stored)) is JsonArray array ? array : [];
        history.Add(model);
        await metadata.UpdateMetadataAsync(id, new Dictionary<string, string> { [key] = MlflowRunMapping.Json(history.ToJsonString()) }, cancellationToken);
        await MlflowJson.WriteEmptyAsync(context);
    }

    /// <summary>
    /// The ModelBox digest of an MLflow dataset digest. MLflow's are short hashes of its own making (8 hex digits for most
    /// dataset kinds) with no algorithm name, which ModelBox digests require: they are kept under the algorithm name
    /// <c>mlflow</c>. MLflow's API shows the digest as it was logged.
    /// </summary>
    internal static string DatasetDigest(string mlflowDigest) =>
        mlflowDigest.Contains(':', StringComparison.Ordinal) ? mlflowDigest : "mlflow:" + mlflowDigest;

    /// <summary>Registers the input's dataset (version by digest) in the run's namespace; returns the input as MLflow shows it.</summary>
    private async Task<JsonObject> RegisterAsync(Experiment run, MlflowRequest input, string field, CancellationToken cancellationToken)
    {
        var dataset = input.Message("dataset") ?? throw MlflowException.Missing(field + ".dataset");
        var name = dataset.String("name") is { Length: > 0 } n ? n : throw MlflowException.Missing(field + ".dataset.name");
        var digest = dataset.String("digest") is { Length: > 0 } d ? d : throw MlflowException.Missing(field + ".dataset.digest");
        if (name.Length > MaxDatasetNameLength)
        {
            throw MlflowException.Invalid($"{field}.dataset.name had length {name.Length}, which exceeded length limit of {MaxDatasetNameLength}");
        }

        if (digest.Length > MaxDigestLength)
        {
            throw MlflowException.Invalid($"{field}.dataset.digest had length {digest.Length}, which exceeded length limit of {MaxDigestLength}");
        }

        var sourceType = dataset.String("source_type") ?? string.Empty;
        var source = dataset.String("source") ?? string.Empty;
        var tags = input.KeyValues("tags");
        var described = new Dictionary<string, string>(StringComparer.Ordinal) { ["mlflow.source_type"] = MlflowRunMapping.Json(sourceType) };
        await datasets.RegisterDatasetAsync(new NewDataset(run.Namespace, name, null, source, DatasetDigest(digest), described), cancellationToken);

        var node = new JsonObject
        {
            ["tags"] = new JsonArray(tags.Select(t => (JsonNode)new JsonObject
            {
                ["key"] = MlflowLimits.Key(t.Key, field + ".tags.key"),
                ["value"] = MlflowLimits.Value(t.Value, "Tag value", t.Key, MlflowLimits.MaxTagValueLength),
            }).ToArray()),
            ["dataset"] = new JsonObject
            {
                ["name"] = name,
                ["digest"] = digest,
                ["source_type"] = sourceType,
                ["source"] = source,
                ["schema"] = dataset.String("schema") ?? string.Empty,
                ["profile"] = dataset.String("profile") ?? string.Empty,
            },
        };
        return node;
    }

    private static DatasetRole Role(string? context) =>
        context is not null && (context.StartsWith("eval", StringComparison.OrdinalIgnoreCase) || context.StartsWith("test", StringComparison.OrdinalIgnoreCase)
            || context.StartsWith("valid", StringComparison.OrdinalIgnoreCase))
            ? DatasetRole.Evaluation
            : DatasetRole.Training;
}
