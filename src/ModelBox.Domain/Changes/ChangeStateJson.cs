using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ModelBox.Domain.Changes;

/// <summary>
/// The JSON state a change record carries, written here once so every backend stores the same document.
/// Field names are snake_case like the proto JSON mapping; timestamps are RFC 3339 UTC with microseconds;
/// enums are the lower-case names the CLI uses; metadata values are embedded as the JSON they are.
/// </summary>
public static class ChangeStateJson
{
    private static readonly JsonWriterOptions s_options = new() { Indented = false, SkipValidation = false };

    public static string Experiment(Experiment e) => Write(w =>
    {
        w.WriteString("id", e.Id);
        w.WriteString("namespace", e.Namespace);
        w.WriteString("name", e.Name);
        w.WriteString("owner", e.Owner);
        w.WriteString("framework", Name(e.Framework));
        w.WriteString("task", e.Task);
        w.WriteString("external_id", e.ExternalId);
        w.WriteString("description", e.Description);
        w.WriteString("status", Name(e.Status));
        WriteTime(w, "ended_at", e.EndedAt);
        WriteMetadata(w, "metadata", e.Metadata);
        WriteTimes(w, e.CreatedAt, e.UpdatedAt, e.DeletedAt);
    });

    /// <summary>An MLflow experiment: the MLflow name, number and tags kept beside a namespace.</summary>
    public static string MlflowExperiment(Storage.MlflowExperimentRecord e) => Write(w =>
    {
        w.WriteString("id", MlflowExperimentId(e.Number));
        w.WriteString("namespace", e.Namespace);
        w.WriteString("experiment_id", e.Number.ToString(CultureInfo.InvariantCulture));
        w.WriteString("name", e.Name);
        w.WriteString("artifact_location", e.ArtifactLocation);
        w.WriteString("lifecycle_stage", e.DeletedAt is null ? "active" : "deleted");
        w.WriteStartObject("tags");
        foreach (var (key, value) in e.Tags.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            w.WriteString(key, value);
        }

        w.WriteEndObject();
        WriteTimes(w, e.CreatedAt, e.UpdatedAt, e.DeletedAt);
    });

    /// <summary>The object id of an MLflow experiment's change records.</summary>
    public static string MlflowExperimentId(long number) => "mlflow-experiment-" + number.ToString(CultureInfo.InvariantCulture);

    public static string Checkpoint(Checkpoint c, string @namespace) => Write(w =>
    {
        w.WriteString("id", c.Id);
        w.WriteString("namespace", @namespace);
        w.WriteString("experiment_id", c.ExperimentId);
        w.WriteNumber("epoch", c.Epoch);
        w.WriteStartObject("metrics");
        foreach (var (key, value) in c.Metrics.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            WriteNumber(w, key, value);
        }

        w.WriteEndObject();
        WriteMetadata(w, "metadata", c.Metadata);
        WriteTimes(w, c.CreatedAt, c.UpdatedAt, c.DeletedAt);
    });

    /// <summary>A file record; <c>stored</c> tells an upload (bytes in the blob store) from a tracked file.</summary>
    public static string File(FileRecord f, string @namespace) => Write(w =>
    {
        w.WriteString("id", f.Id);
        w.WriteString("namespace", @namespace);
        w.WriteString("parent_id", f.ParentId);
        w.WriteString("file_type", f.Type.ToString().ToLowerInvariant());
        w.WriteString("path", f.Path);
        w.WriteString("uri", f.Uri);
        w.WriteNumber("size_bytes", f.SizeBytes);
        w.WriteString("checksum", f.Md5);
        w.WriteString("sha256", f.Sha256);
        w.WriteBoolean("stored", f.Stored);
        WriteTimes(w, f.CreatedAt, f.UpdatedAt, null);
    });

    public static string Model(Model m) => Write(w =>
    {
        w.WriteString("id", m.Id);
        w.WriteString("namespace", m.Namespace);
        w.WriteString("name", m.Name);
        w.WriteString("owner", m.Owner);
        w.WriteString("task", m.Task);
        w.WriteString("description", m.Description);
        WriteMetadata(w, "metadata", m.Metadata);
        WriteTimes(w, m.CreatedAt, m.UpdatedAt, m.DeletedAt);
    });

    public static string ModelVersion(ModelVersion v, string @namespace) => Write(w =>
    {
        w.WriteString("id", v.Id);
        w.WriteString("namespace", @namespace);
        w.WriteString("model_id", v.ModelId);
        w.WriteString("name", v.Name);
        w.WriteString("version", v.Version);
        w.WriteString("description", v.Description);
        w.WriteString("framework", Name(v.Framework));
        w.WriteStartArray("unique_tags");
        foreach (var tag in v.UniqueTags)
        {
            w.WriteStringValue(tag);
        }

        w.WriteEndArray();
        WriteMetadata(w, "metadata", v.Metadata);
        WriteTimes(w, v.CreatedAt, v.UpdatedAt, v.DeletedAt);
    });

    /// <summary>
    /// A metadata write: the keys it wrote with their new values and the keys it deleted. Only the keys the write
    /// touched, not the whole map, so a change record is as large as the request rather than as the object's metadata.
    /// </summary>
    public static string Metadata(
        string parentId,
        string parentKind,
        IReadOnlyDictionary<string, string> written,
        IReadOnlyCollection<string> deletedKeys,
        DateTimeOffset updatedAt) => Write(w =>
    {
        w.WriteString("parent_id", parentId);
        w.WriteString("parent_kind", parentKind);
        WriteMetadata(w, "metadata", written);
        w.WriteStartArray("deleted_keys");
        foreach (var key in deletedKeys)
        {
            w.WriteStringValue(key);
        }

        w.WriteEndArray();
        WriteTime(w, "updated_at", updatedAt);
    });

    public static string Event(LoggedEvent e) => Write(w =>
    {
        w.WriteString("id", e.Id);
        w.WriteString("parent_id", e.ParentId);
        w.WriteString("name", e.Name);
        w.WriteString("source", e.Source);
        w.WriteString("wallclock_time", FormatNanos(e.WallclockUnixNanos));
        WriteMetadata(w, "metadata", e.Metadata);
        WriteTime(w, "created_at", e.CreatedAt);
    });

    /// <summary>RFC 3339 UTC with microseconds, e.g. <c>2024-05-01T12:00:00.123456Z</c>.</summary>
    public static string FormatTime(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>RFC 3339 UTC with nanoseconds, for event wallclock times stored at full precision.</summary>
    public static string FormatNanos(long unixNanos)
    {
        var seconds = Math.DivRem(unixNanos, 1_000_000_000L, out var nanos);
        if (nanos < 0)
        {
            seconds -= 1;
            nanos += 1_000_000_000L;
        }

        var time = DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime;
        return time.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture)
            + "." + nanos.ToString("D9", CultureInfo.InvariantCulture) + "Z";
    }

    /// <summary>Writes a map of metadata values (each already JSON text) as one JSON object.</summary>
    public static string MetadataObject(IReadOnlyDictionary<string, string> metadata) => Write(w =>
    {
        foreach (var (key, json) in metadata.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            w.WritePropertyName(key);
            w.WriteRawValue(json);
        }
    });

    private static string Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, s_options))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteTimes(Utf8JsonWriter w, DateTimeOffset createdAt, DateTimeOffset updatedAt, DateTimeOffset? deletedAt)
    {
        WriteTime(w, "created_at", createdAt);
        WriteTime(w, "updated_at", updatedAt);
        WriteTime(w, "deleted_at", deletedAt);
    }

    private static void WriteTime(Utf8JsonWriter w, string name, DateTimeOffset? value)
    {
        if (value is { } v)
        {
            w.WriteString(name, FormatTime(v));
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static void WriteMetadata(Utf8JsonWriter w, string name, IReadOnlyDictionary<string, string> metadata)
    {
        w.WriteStartObject(name);
        foreach (var (key, json) in metadata.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            w.WritePropertyName(key);
            w.WriteRawValue(json);
        }

        w.WriteEndObject();
    }

    // JSON has no NaN or infinity; spell them as the proto JSON mapping does ("NaN", "Infinity", "-Infinity").
    private static void WriteNumber(Utf8JsonWriter w, string name, float value)
    {
        if (float.IsFinite(value))
        {
            w.WriteNumber(name, value);
        }
        else
        {
            w.WriteString(name, float.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
        }
    }

    private static string Name(Framework framework) => framework switch
    {
        Framework.Unknown => "unknown",
        Framework.PyTorch => "pytorch",
        Framework.Keras => "keras",
        Framework.TensorFlow => "tensorflow",
        Framework.Jax => "jax",
        Framework.Sklearn => "sklearn",
        Framework.XGBoost => "xgboost",
        Framework.Transformers => "transformers",
        Framework.Onnx => "onnx",
        _ => ((int)framework).ToString(CultureInfo.InvariantCulture),
    };

    private static string Name(ExperimentStatus status) => status switch
    {
        ExperimentStatus.Unspecified => "unspecified",
        ExperimentStatus.Running => "running",
        ExperimentStatus.Finished => "finished",
        ExperimentStatus.Failed => "failed",
        ExperimentStatus.Killed => "killed",
        _ => ((int)status).ToString(CultureInfo.InvariantCulture),
    };
}
