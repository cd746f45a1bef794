using Google.Protobuf;
using Google.Protobuf.Collections;
using Google.Protobuf.WellKnownTypes;
using ModelBox.Domain;
using ModelBox.Domain.Operations;
using Proto = ModelBox.Protocol;

namespace ModelBox.Server.Services;

/// <summary>Converts between wire messages and domain objects; the only place that knows both.</summary>
internal static class ProtoMapping
{
    public static Timestamp ToTimestamp(this DateTimeOffset value) => Timestamp.FromDateTimeOffset(value);

    public static Dictionary<string, string> ToJsonMap(this Proto.Metadata? metadata, string field = "metadata") =>
        metadata is null ? new Dictionary<string, string>(StringComparer.Ordinal) : metadata.Metadata_.ToJsonMap(field);

    public static Dictionary<string, string> ToJsonMap(this MapField<string, Value> values, string field = "metadata")
    {
        var map = new Dictionary<string, string>(values.Count, StringComparer.Ordinal);
        foreach (var (key, value) in values)
        {
            map[key] = ToJson(value, $"{field}['{key}']");
        }

        return map;
    }

    public static Proto.Metadata ToProtoMetadata(this IReadOnlyDictionary<string, string> metadata)
    {
        var result = new Proto.Metadata();
        foreach (var (key, json) in metadata)
        {
            result.Metadata_[key] = Value.Parser.ParseJson(json);
        }

        return result;
    }

    public static Proto.Experiment ToProto(this Experiment e)
    {
        var proto = new Proto.Experiment
        {
            Id = e.Id,
            Name = e.Name,
            Namespace = e.Namespace,
            Owner = e.Owner,
            Framework = (Proto.MLFramework)e.Framework,
            ExternalId = e.ExternalId,
            Task = e.Task,
            Description = e.Description,
            Metadata = e.Metadata.ToProtoMetadata(),
            Status = (Proto.ExperimentStatus)e.Status,
            CreatedAt = e.CreatedAt.ToTimestamp(),
            UpdatedAt = e.UpdatedAt.ToTimestamp(),
        };
        if (e.EndedAt is { } ended)
        {
            proto.EndedAt = ended.ToTimestamp();
        }

        return proto;
    }

    public static Proto.Checkpoint ToProto(this Checkpoint c)
    {
        var proto = new Proto.Checkpoint
        {
            Id = c.Id,
            Epoch = (ulong)c.Epoch,
            ExperimentId = c.ExperimentId,
            Metadata = c.Metadata.ToProtoMetadata(),
            CreatedAt = c.CreatedAt.ToTimestamp(),
            UpdatedAt = c.UpdatedAt.ToTimestamp(),
        };
        proto.Metrics.Add(c.Metrics.ToDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal));
        return proto;
    }

    public static Proto.Model ToProto(this Model m) => new()
    {
        Id = m.Id,
        Name = m.Name,
        Owner = m.Owner,
        Namespace = m.Namespace,
        Description = m.Description,
        Task = m.Task,
        Metadata = m.Metadata.ToProtoMetadata(),
        CreatedAt = m.CreatedAt.ToTimestamp(),
        UpdatedAt = m.UpdatedAt.ToTimestamp(),
    };

    public static Proto.ModelVersion ToProto(this ModelVersion v)
    {
        var proto = new Proto.ModelVersion
        {
            Id = v.Id,
            ModelId = v.ModelId,
            Name = v.Name,
            Version = v.Version,
            Description = v.Description,
            Metadata = v.Metadata.ToProtoMetadata(),
            Framework = (Proto.MLFramework)v.Framework,
            CreatedAt = v.CreatedAt.ToTimestamp(),
            UpdatedAt = v.UpdatedAt.ToTimestamp(),
        };
        proto.UniqueTags.Add(v.UniqueTags);
        return proto;
    }

    /// <summary>An experiment with its labels.</summary>
    public static Proto.Experiment ToProto(this Detailed<Experiment> e)
    {
        var proto = e.Value.ToProto();
        proto.Labels.Add(e.Labels.ToDictionary(StringComparer.Ordinal));
        return proto;
    }

    /// <summary>A checkpoint with its files.</summary>
    public static Proto.Checkpoint ToProto(this Detailed<Checkpoint> c)
    {
        var proto = c.Value.ToProto();
        proto.Files.Add(c.Files.Select(f => f.ToProto()));
        return proto;
    }

    /// <summary>A model with its labels and files.</summary>
    public static Proto.Model ToProto(this Detailed<Model> m)
    {
        var proto = m.Value.ToProto();
        proto.Labels.Add(m.Labels.ToDictionary(StringComparer.Ordinal));
        proto.Files.Add(m.Files.Select(f => f.ToProto()));
        return proto;
    }

    /// <summary>A model version with its labels and files.</summary>
    public static Proto.ModelVersion ToProto(this Detailed<ModelVersion> v)
    {
        var proto = v.Value.ToProto();
        proto.Labels.Add(v.Labels.ToDictionary(StringComparer.Ordinal));
        proto.Files.Add(v.Files.Select(f => f.ToProto()));
        return proto;
    }

    public static Proto.Event ToProto(this LoggedEvent e) => new()
    {
        Id = e.Id,
        ParentId = e.ParentId,
        Name = e.Name,
        Source = new Proto.EventSource { Name = e.Source },
        WallclockTime = FromUnixNanos(e.WallclockUnixNanos),
        Metadata = e.Metadata.ToProtoMetadata(),
        CreatedAt = e.CreatedAt.ToTimestamp(),
    };

    /// <summary>A wire timestamp as Unix nanoseconds, exactly; INVALID_ARGUMENT naming the field when it is malformed or out of range.</summary>
    public static long ToUnixNanos(this Timestamp value, string field)
    {
        if (value.Nanos is < 0 or >= 1_000_000_000)
        {
            throw ModelBoxException.InvalidArgument($"{field} has nanos {value.Nanos}; it must be between 0 and 999999999");
        }

        try
        {
            return checked((value.Seconds * 1_000_000_000L) + value.Nanos);
        }
        catch (OverflowException)
        {
            throw ModelBoxException.InvalidArgument($"{field} is out of range (years 1678 to 2262 are supported)");
        }
    }

    public static Timestamp FromUnixNanos(long unixNanos)
    {
        var seconds = Math.DivRem(unixNanos, 1_000_000_000L, out var nanos);
        if (nanos < 0)
        {
            seconds -= 1;
            nanos += 1_000_000_000L;
        }

        return new Timestamp { Seconds = seconds, Nanos = (int)nanos };
    }

    public static Proto.Namespace ToProto(this NamespaceInfo n) => new() { Name = n.Name, CreatedAt = n.CreatedAt.ToTimestamp() };

    public static Framework ToDomain(this Proto.MLFramework framework) =>
        System.Enum.IsDefined((Framework)framework)
            ? (Framework)framework
            : throw ModelBoxException.InvalidArgument($"framework {(int)framework} is not a known framework");

    private static string ToJson(Value value, string field)
    {
        if (value.KindCase == Value.KindOneofCase.None)
        {
            return "null";
        }

        // JSON has no NaN or infinity; the formatter would silently turn them into strings.
        if (!IsFinite(value))
        {
            throw ModelBoxException.InvalidArgument($"{field} holds NaN or an infinity, which JSON metadata cannot represent");
        }

        return JsonFormatter.Default.Format(value);
    }

    private static bool IsFinite(Value value) => value.KindCase switch
    {
        Value.KindOneofCase.NumberValue => double.IsFinite(value.NumberValue),
        Value.KindOneofCase.ListValue => value.ListValue.Values.All(IsFinite),
        Value.KindOneofCase.StructValue => value.StructValue.Fields.Values.All(IsFinite),
        _ => true,
    };
}
