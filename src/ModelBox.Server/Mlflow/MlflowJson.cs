using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using ModelBox.Domain;
using ModelBox.Domain.Storage;

namespace ModelBox.Server.Mlflow;

[JsonSerializable(typeof(string))]
internal sealed partial class MlflowJsonContext : JsonSerializerContext;

/// <summary>Writes MLflow's JSON shapes (proto3 JSON with MLflow's field names; int64 as numbers, as MLflow's server writes them).</summary>
public static class MlflowJson
{
    public static async Task WriteAsync(HttpContext context, Action<Utf8JsonWriter> body, int status = StatusCodes.Status200OK)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        await using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    public static Task WriteEmptyAsync(HttpContext context) => WriteAsync(context, _ => { });

    public static Task WriteErrorAsync(HttpContext context, string code, string message) =>
        WriteAsync(
            context,
            w =>
            {
                w.WriteString("error_code", code);
                w.WriteString("message", message);
            },
            MlflowErrorCodes.HttpStatus(code));

    /// <summary>A double as proto3 JSON writes it: a number, or "NaN", "Infinity", "-Infinity".</summary>
    public static void WriteDouble(Utf8JsonWriter writer, string name, double value)
    {
        if (double.IsNaN(value))
        {
            writer.WriteString(name, "NaN");
        }
        else if (double.IsPositiveInfinity(value))
        {
            writer.WriteString(name, "Infinity");
        }
        else if (double.IsNegativeInfinity(value))
        {
            writer.WriteString(name, "-Infinity");
        }
        else
        {
            writer.WriteNumber(name, value);
        }
    }

    public static void WriteKeyValues(Utf8JsonWriter writer, string name, IEnumerable<KeyValuePair<string, string>> entries)
    {
        writer.WriteStartArray(name);
        foreach (var (key, value) in entries)
        {
            writer.WriteStartObject();
            writer.WriteString("key", key);
            writer.WriteString("value", value);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    public static void WriteMetric(Utf8JsonWriter writer, string key, in MetricPoint point)
    {
        writer.WriteStartObject();
        writer.WriteString("key", key);
        WriteDouble(writer, "value", point.Number);
        writer.WriteNumber("timestamp", point.WallclockMillis);
        writer.WriteNumber("step", point.Step);
        writer.WriteEndObject();
    }

    public static void WriteExperiment(Utf8JsonWriter writer, MlflowExperimentRecord record)
    {
        writer.WriteStartObject();
        writer.WriteString("experiment_id", record.Number.ToString(CultureInfo.InvariantCulture));
        writer.WriteString("name", record.Name);
        writer.WriteString("artifact_location", record.ArtifactLocation);
        writer.WriteString("lifecycle_stage", record.DeletedAt is null ? "active" : "deleted");
        writer.WriteNumber("last_update_time", record.UpdatedAt.ToUnixTimeMilliseconds());
        writer.WriteNumber("creation_time", record.CreatedAt.ToUnixTimeMilliseconds());
        WriteKeyValues(writer, "tags", record.Tags.OrderBy(t => t.Key, StringComparer.Ordinal));
        writer.WriteEndObject();
    }

    public static void WriteRunInfo(Utf8JsonWriter writer, string name, Experiment run)
    {
        writer.WriteStartObject(name);
        var runId = MlflowRunMapping.RunId(run.Id);
        writer.WriteString("run_id", runId);
        writer.WriteString("run_uuid", runId);
        writer.WriteString("run_name", MlflowRunMapping.RunName(run));
        writer.WriteString("experiment_id", Domain.Operations.MlflowExperimentCatalog.NumberOf(run.Namespace).ToString(CultureInfo.InvariantCulture));
        writer.WriteString("user_id", run.Owner);
        writer.WriteString("status", MlflowRunMapping.Status(run.Status));
        writer.WriteNumber("start_time", MlflowRunMapping.StartTime(run));
        if (MlflowRunMapping.EndTime(run) is { } end)
        {
            writer.WriteNumber("end_time", end);
        }

        writer.WriteString("artifact_uri", MlflowRunMapping.ArtifactUri(run));
        writer.WriteString("lifecycle_stage", run.DeletedAt is null ? "active" : "deleted");
        writer.WriteEndObject();
    }

    public static void WriteRun(Utf8JsonWriter writer, Experiment run, IReadOnlyList<MetricSeries> latest)
    {
        writer.WriteStartObject();
        WriteRunInfo(writer, "info", run);
        writer.WriteStartObject("data");
        writer.WriteStartArray("metrics");
        foreach (var series in latest)
        {
            foreach (var point in series.Points.Where(p => p.IsNumeric))
            {
                WriteMetric(writer, series.Key, point);
            }
        }

        writer.WriteEndArray();
        WriteKeyValues(writer, "params", MlflowRunMapping.WithPrefix(run.Metadata, MlflowRunMapping.ParamPrefix));
        WriteKeyValues(writer, "tags", MlflowRunMapping.WithPrefix(run.Metadata, MlflowRunMapping.TagPrefix));
        writer.WriteEndObject();
        writer.WriteStartObject("inputs");
        if (run.Metadata.TryGetValue(MlflowRunInputsApi.InputsKey, out var inputs))
        {
            writer.WritePropertyName("dataset_inputs");
            writer.WriteRawValue(inputs);
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
