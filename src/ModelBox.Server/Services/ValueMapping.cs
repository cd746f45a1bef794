using Google.Protobuf;
using Google.Protobuf.Collections;
using Google.Protobuf.WellKnownTypes;
using ModelBox.Domain;
using Proto = ModelBox.Protocol;

namespace ModelBox.Server.Services;

/// <summary>Wire ↔ domain values every capability shares: timestamps, JSON metadata and frameworks.</summary>
internal static class ValueMapping
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

    public static Framework ToDomain(this Proto.MLFramework framework) =>
        System.Enum.IsDefined((Framework)framework)
            ? (Framework)framework
            : throw ModelBoxException.InvalidArgument($"framework {(int)framework} is not a known framework");

    /// <summary>Copies labels into a proto map.</summary>
    public static void AddLabels(this MapField<string, string> target, IReadOnlyDictionary<string, string> labels)
    {
        foreach (var (key, value) in labels)
        {
            target[key] = value;
        }
    }

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
