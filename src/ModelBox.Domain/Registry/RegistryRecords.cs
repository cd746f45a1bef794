using System.Buffers;
using System.Text;
using System.Text.Json;
using ModelBox.Domain.Changes;

namespace ModelBox.Domain.Registry;

/// <summary>
/// The change-record states and audit events of registry writes, built once here so every backend writes the same
/// documents. Audit events are ordinary events (ListEvents shows them) named <c>audit.*</c>, with the actor as their
/// source and <c>actor</c>, <c>old</c> and <c>new</c> in their metadata.
/// </summary>
public static class RegistryRecords
{
    public const string AuditSource = "modelbox";

    public static string LabelsState(string objectId, string objectKind, IReadOnlyDictionary<string, string> labels,
        IReadOnlyDictionary<string, string> written, IReadOnlyCollection<string> removed, AuditContext audit) => Write(w =>
    {
        w.WriteString("object_id", objectId);
        w.WriteString("object_kind", objectKind);
        WriteMap(w, "labels", labels);
        WriteMap(w, "written", written);
        w.WriteStartArray("removed_keys");
        foreach (var key in removed)
        {
            w.WriteStringValue(key);
        }

        w.WriteEndArray();
        w.WriteString("actor", audit.Actor);
        w.WriteString("updated_at", ChangeStateJson.FormatTime(audit.At));
    });

    public static string AliasState(string @namespace, string modelId, string alias, string? versionId, string? previousVersionId, AuditContext audit) => Write(w =>
    {
        w.WriteString("namespace", @namespace);
        w.WriteString("model_id", modelId);
        w.WriteString("alias", alias);
        WriteNullable(w, "version_id", versionId);
        WriteNullable(w, "previous_version_id", previousVersionId);
        w.WriteString("actor", audit.Actor);
        w.WriteString("updated_at", ChangeStateJson.FormatTime(audit.At));
    });

    public static string LineageState(string subjectId, Lineage lineage, AuditContext audit) => Write(w =>
    {
        w.WriteString("subject_id", subjectId);
        WriteNullable(w, "experiment_id", lineage.ExperimentId);
        WriteNullable(w, "checkpoint_id", lineage.CheckpointId);
        w.WriteStartArray("datasets");
        foreach (var link in lineage.Datasets)
        {
            w.WriteStartObject();
            w.WriteString("dataset_version_id", link.DatasetVersionId);
            w.WriteString("role", RoleName(link.Role));
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("derived_from");
        foreach (var link in lineage.DerivedFrom)
        {
            w.WriteStartObject();
            w.WriteString("version_id", link.ParentVersionId);
            w.WriteString("relation", link.Relation);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteString("actor", audit.Actor);
        w.WriteString("updated_at", ChangeStateJson.FormatTime(audit.At));
    });

    public static string DatasetState(Dataset d) => Write(w =>
    {
        w.WriteString("id", d.Id);
        w.WriteString("namespace", d.Namespace);
        w.WriteString("name", d.Name);
        w.WriteString("description", d.Description);
        WriteRawMap(w, "metadata", d.Metadata);
        w.WriteString("created_at", ChangeStateJson.FormatTime(d.CreatedAt));
        w.WriteString("updated_at", ChangeStateJson.FormatTime(d.UpdatedAt));
    });

    public static string DatasetVersionState(DatasetVersion v, string @namespace) => Write(w =>
    {
        w.WriteString("id", v.Id);
        w.WriteString("namespace", @namespace);
        w.WriteString("dataset_id", v.DatasetId);
        w.WriteString("digest", v.Digest);
        w.WriteString("uri", v.Uri);
        WriteRawMap(w, "metadata", v.Metadata);
        w.WriteString("created_at", ChangeStateJson.FormatTime(v.CreatedAt));
    });

    /// <summary>An audit event: <paramref name="name"/> is e.g. <c>audit.label_set</c>; old and new are null when absent.</summary>
    public static LoggedEvent AuditEvent(string parentId, string name, AuditContext audit, IReadOnlyDictionary<string, string?> details)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["actor"] = JsonSerializer.Serialize(audit.Actor) };
        foreach (var (key, value) in details)
        {
            metadata[key] = value is null ? "null" : JsonSerializer.Serialize(value);
        }

        return new LoggedEvent(
            ObjectIds.NewEvent(audit.At),
            parentId,
            name,
            audit.Actor,
            (audit.At.UtcTicks - DateTimeOffset.UnixEpoch.Ticks) * 100,
            metadata,
            audit.At);
    }

    public static string RoleName(DatasetRole role) => role switch
    {
        DatasetRole.Training => "training",
        DatasetRole.Evaluation => "evaluation",
        _ => ((int)role).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public static bool TryParseRole(string? text, out DatasetRole role)
    {
        role = default;
        switch (text?.ToLowerInvariant())
        {
            case "training" or "train" or "" or null:
                role = DatasetRole.Training;
                return true;
            case "evaluation" or "eval" or "validation" or "test":
                role = DatasetRole.Evaluation;
                return true;
            default:
                return false;
        }
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    private static void WriteMap(Utf8JsonWriter w, string name, IReadOnlyDictionary<string, string> map)
    {
        w.WriteStartObject(name);
        foreach (var (key, value) in map.OrderBy(entry => entry.Key, StringComparer.Ordinal))
        {
            w.WriteString(key, value);
        }

        w.WriteEndObject();
    }

    private static void WriteRawMap(Utf8JsonWriter w, string name, IReadOnlyDictionary<string, string> map)
    {
        w.WriteStartObject(name);
        foreach (var (key, json) in map.OrderBy(entry => entry.Key, StringComparer.Ordinal))
        {
            w.WritePropertyName(key);
            w.WriteRawValue(json);
        }

        w.WriteEndObject();
    }

    private static string Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
