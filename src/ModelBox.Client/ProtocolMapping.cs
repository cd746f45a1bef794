using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Proto = ModelBox.Protocol;

namespace ModelBox.Client;

/// <summary>Converts between wire messages and SDK objects, so no protocol type reaches the public API.</summary>
internal static class ProtocolMapping
{
    public static Experiment ToSdk(this Proto.Experiment e) => new()
    {
        Id = e.Id,
        Name = e.Name,
        Namespace = e.Namespace,
        Owner = e.Owner,
        Framework = (Framework)e.Framework,
        Task = e.Task,
        ExternalId = e.ExternalId,
        Description = e.Description,
        Status = (ExperimentStatus)e.Status,
        EndedAt = e.EndedAt?.ToDateTimeOffset(),
        Metadata = ToSdk(e.Metadata),
        CreatedAt = ToSdk(e.CreatedAt),
        UpdatedAt = ToSdk(e.UpdatedAt),
        Labels = new Dictionary<string, string>(e.Labels, StringComparer.Ordinal),
    };

    public static Checkpoint ToSdk(this Proto.Checkpoint c) => new()
    {
        Id = c.Id,
        ExperimentId = c.ExperimentId,
        Epoch = checked((long)c.Epoch),
        Metrics = new Dictionary<string, float>(c.Metrics, StringComparer.Ordinal),
        Files = c.Files.Select(ToSdk).ToArray(),
        Metadata = ToSdk(c.Metadata),
        CreatedAt = ToSdk(c.CreatedAt),
        UpdatedAt = ToSdk(c.UpdatedAt),
    };

    public static Model ToSdk(this Proto.Model m) => new()
    {
        Id = m.Id,
        Name = m.Name,
        Namespace = m.Namespace,
        Owner = m.Owner,
        Task = m.Task,
        Description = m.Description,
        Files = m.Files.Select(ToSdk).ToArray(),
        Metadata = ToSdk(m.Metadata),
        CreatedAt = ToSdk(m.CreatedAt),
        UpdatedAt = ToSdk(m.UpdatedAt),
        Labels = new Dictionary<string, string>(m.Labels, StringComparer.Ordinal),
    };

    public static ModelVersion ToSdk(this Proto.ModelVersion v) => new()
    {
        Id = v.Id,
        ModelId = v.ModelId,
        Version = v.Version,
        Name = v.Name,
        Description = v.Description,
        Framework = (Framework)v.Framework,
        UniqueTags = v.UniqueTags.ToArray(),
        Files = v.Files.Select(ToSdk).ToArray(),
        Metadata = ToSdk(v.Metadata),
        CreatedAt = ToSdk(v.CreatedAt),
        UpdatedAt = ToSdk(v.UpdatedAt),
        Labels = new Dictionary<string, string>(v.Labels, StringComparer.Ordinal),
    };

    public static NamespaceInfo ToSdk(this Proto.Namespace n) => new()
    {
        Name = n.Name,
        CreatedAt = ToSdk(n.CreatedAt),
    };

    public static ArtifactFile ToSdk(this Proto.FileMetadata f) => new()
    {
        Id = f.Id,
        ParentId = f.ParentId,
        Kind = (FileKind)f.FileType,
        Checksum = f.Checksum,
        Path = f.Path,
        SizeBytes = (long)f.SizeBytes,
        Sha256 = f.Sha256,
        Uri = f.Uri,
        CreatedAt = ToSdk(f.CreatedAt),
        UpdatedAt = ToSdk(f.UpdatedAt),
    };

    public static Proto.FileMetadata ToProto(this TrackedFile f) => new()
    {
        ParentId = f.ParentId ?? "",
        FileType = (Proto.FileType)f.Kind,
        Checksum = f.Md5 ?? "",
        Sha256 = f.Sha256 ?? "",
        Path = f.Path ?? "",
        Uri = f.Uri ?? "",
        SizeBytes = (ulong)Math.Max(0, f.SizeBytes),
    };

    public static Event ToSdk(this Proto.Event e) => new()
    {
        Id = e.Id,
        ParentId = e.ParentId,
        Name = e.Name,
        Source = e.Source?.Name ?? "",
        WallclockTime = ToSdk(e.WallclockTime),
        Metadata = ToSdk(e.Metadata),
        CreatedAt = ToSdk(e.CreatedAt),
    };

    public static Change ToSdk(this Proto.WatchNamespaceResponse c)
    {
        using var payload = JsonDocument.Parse(c.Payload is null ? "null" : JsonFormatter.Default.Format(c.Payload));
        return new Change
        {
            Sequence = checked((long)c.Sequence),
            Kind = (ChangeKind)c.Event,
            ObjectKind = c.ObjectKind,
            ObjectId = c.ObjectId,
            ChangedAt = ToSdk(c.ChangedAt),
            Payload = payload.RootElement.Clone(),
        };
    }

    public static Proto.MLFramework ToProto(this Framework framework) => (Proto.MLFramework)framework;

    public static Proto.ExperimentStatus ToProto(this ExperimentStatus status) => (Proto.ExperimentStatus)status;

    public static DateTimeOffset ToSdk(Timestamp? timestamp) =>
        timestamp is null ? default : timestamp.ToDateTimeOffset();

    public static IReadOnlyDictionary<string, JsonElement> ToSdk(Proto.Metadata? metadata)
    {
        if (metadata is null || metadata.Metadata_.Count == 0)
        {
            return EmptyMetadata.Instance;
        }

        var result = new Dictionary<string, JsonElement>(metadata.Metadata_.Count, StringComparer.Ordinal);
        foreach (var (key, value) in metadata.Metadata_)
        {
            // JsonFormatter writes the Value as the JSON it stands for (not as a Value message).
            using var document = JsonDocument.Parse(JsonFormatter.Default.Format(value));
            result[key] = document.RootElement.Clone();
        }

        return result;
    }

    public static Proto.Metadata? ToProto(IReadOnlyDictionary<string, JsonElement>? metadata)
    {
        if (metadata is null || metadata.Count == 0)
        {
            return null;
        }

        var result = new Proto.Metadata();
        foreach (var (key, element) in metadata)
        {
            result.Metadata_[key] = element.ValueKind == JsonValueKind.Undefined
                ? Value.ForNull()
                : JsonParser.Default.Parse<Value>(element.GetRawText());
        }

        return result;
    }
}
