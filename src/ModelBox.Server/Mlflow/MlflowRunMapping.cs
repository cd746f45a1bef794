using System.Globalization;
using System.Text.Json;
using ModelBox.Domain;
using ModelBox.Domain.Operations;

namespace ModelBox.Server.Mlflow;

/// <summary>
/// How an MLflow run lives in a ModelBox experiment (docs/mlflow.md): run id = the experiment id's 32 hex digits; params
/// and tags are metadata keys <c>param.KEY</c> and <c>tag.KEY</c> holding JSON strings; the run name is the tag
/// <c>mlflow.runName</c>; start and end times MLflow's client sent are <c>run.start_time</c> / <c>run.end_time</c>.
/// </summary>
public static class MlflowRunMapping
{
    public const string ParamPrefix = "param.";
    public const string TagPrefix = "tag.";
    public const string StartTimeKey = "run.start_time";
    public const string EndTimeKey = "run.end_time";
    public const string RunNameTag = "mlflow.runName";
    public const string UserTag = "mlflow.user";

    private static readonly string ExperimentPrefix = ObjectIds.Prefix(ObjectKind.Experiment) + "-";

    /// <summary>The ModelBox experiment id of an MLflow run id (32 hex digits); NotFound in MLflow's words for anything else.</summary>
    public static string ExperimentId(string? runId, string field = "run_id")
    {
        if (string.IsNullOrEmpty(runId))
        {
            throw MlflowException.Missing(field);
        }

        var id = ExperimentPrefix + runId;
        return ObjectIds.TryGetKind(id, out var kind) && kind == ObjectKind.Experiment
            ? id
            : throw MlflowException.NotFound($"Run with id={runId} not found");
    }

    /// <summary>The experiment id of a run id, or a value no experiment id equals (a filter on an unknown run id matches nothing).</summary>
    public static string ExperimentIdOrNone(string runId) => ExperimentPrefix + runId;

    public static string RunId(string experimentId) => experimentId[ExperimentPrefix.Length..];

    public static string Status(ExperimentStatus status) => status switch
    {
        ExperimentStatus.Finished => "FINISHED",
        ExperimentStatus.Failed => "FAILED",
        ExperimentStatus.Killed => "KILLED",
        _ => "RUNNING",
    };

    /// <summary>MLflow's run status; SCHEDULED is kept as RUNNING (ModelBox has no queued state).</summary>
    public static ExperimentStatus ParseStatus(string text) => text.ToUpperInvariant() switch
    {
        "RUNNING" or "SCHEDULED" => ExperimentStatus.Running,
        "FINISHED" => ExperimentStatus.Finished,
        "FAILED" => ExperimentStatus.Failed,
        "KILLED" => ExperimentStatus.Killed,
        _ => throw MlflowException.Invalid($"Invalid run status '{text}'; one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED"),
    };

    public static string Json(string value) => JsonSerializer.Serialize(value, MlflowJsonContext.Default.String);

    public static string Json(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The text of a metadata value written as a JSON string (or any other JSON written by ModelBox's API, as its text).</summary>
    public static string Text(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.ValueKind == JsonValueKind.String ? document.RootElement.GetString()! : document.RootElement.GetRawText();
        }
        catch (JsonException)
        {
            return json;
        }
    }

    public static long? Number(IReadOnlyDictionary<string, string> metadata, string key) =>
        metadata.TryGetValue(key, out var json) && long.TryParse(json, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value : null;

    public static IEnumerable<KeyValuePair<string, string>> WithPrefix(IReadOnlyDictionary<string, string> metadata, string prefix) =>
        metadata.Where(e => e.Key.StartsWith(prefix, StringComparison.Ordinal))
            .OrderBy(e => e.Key, StringComparer.Ordinal)
            .Select(e => new KeyValuePair<string, string>(e.Key[prefix.Length..], Text(e.Value)));

    public static string RunName(Experiment run) =>
        run.Metadata.TryGetValue(TagPrefix + RunNameTag, out var json) ? Text(json) : run.Name;

    public static long StartTime(Experiment run) => Number(run.Metadata, StartTimeKey) ?? run.CreatedAt.ToUnixTimeMilliseconds();

    public static long? EndTime(Experiment run) => Number(run.Metadata, EndTimeKey) ?? run.EndedAt?.ToUnixTimeMilliseconds();

    public static string ArtifactUri(Experiment run) =>
        $"{MlflowExperimentCatalog.DefaultArtifactLocation(MlflowExperimentCatalog.NumberOf(run.Namespace))}/{RunId(run.Id)}/artifacts";
}
