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

    /// <summary>
    /// Stored metadata as the wire carries it. Values written before today's limits held (nested deeper than
    /// <see cref="Validation.MaxMetadataDepth"/> levels, or past <see cref="Validation.MaxMetadataBytesPerObject"/> bytes of
    /// the object's metadata) are served as <see cref="Unreadable"/> markers, so that one such value cannot make its object,
    /// its namespace's listings or a client's parser fail; every other value is served as it is.
    /// </summary>
    public static Proto.Metadata ToProtoMetadata(this IReadOnlyDictionary<string, string> metadata)
    {
        var result = new Proto.Metadata();
        long bytes = 0;
        foreach (var (key, json) in metadata)
        {
            // A value that does not fit in what is left of the object's budget is served as a marker and not counted.
            var size = System.Text.Encoding.UTF8.GetByteCount(key) + System.Text.Encoding.UTF8.GetByteCount(json);
            var fits = bytes + size <= Validation.MaxMetadataBytesPerObject;
            bytes += fits ? size : 0;
            result.Metadata_[key] = fits
                ? ParseStored(key, json)
                : Unreadable($"metadata['{key}'] does not fit in the {Validation.MaxMetadataBytesPerObject} bytes of metadata an object may hold{StoredBefore}");
        }

        return result;
    }

    /// <summary>
    /// Parses values for the wire with protobuf's recursion limit set to what the write check allows: each level of
    /// arrays or objects is two levels of a <see cref="Value"/> (the value and its list or struct), so a value within
    /// <see cref="Validation.MaxMetadataDepth"/> levels parses and one deeper stops at the limit, in one pass.
    /// </summary>
    private static readonly JsonParser StoredValueParser =
        new(JsonParser.Settings.Default.WithRecursionLimit(2 * Validation.MaxMetadataDepth));

    private static Value ParseStored(string key, string json)
    {
        try
        {
            return StoredValueParser.Parse<Value>(json);
        }
        catch (InvalidProtocolBufferException) when (Validation.NestsDeeperThan(json, Validation.MaxMetadataDepth - 1))
        {
            return Unreadable($"metadata['{key}'] nests arrays and objects deeper than {Validation.MaxMetadataDepth} levels{StoredBefore}");
        }
    }

    private const string StoredBefore = "; it was stored before this limit held: delete the key or write it again within the limit";

    /// <summary>The key of the object served in place of a stored value that cannot be served (see <see cref="Unreadable"/>).</summary>
    public const string UnreadableKey = "modelbox_unreadable";

    /// <summary>
    /// What is served in place of a stored value over today's limits: <c>{"modelbox_unreadable": reason}</c>. The stored
    /// value is kept.
    /// </summary>
    public static Value Unreadable(string reason) => Value.ForStruct(new Struct
    {
        Fields = { [UnreadableKey] = Value.ForString(reason) },
    });

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
