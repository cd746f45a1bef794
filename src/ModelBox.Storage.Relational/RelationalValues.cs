using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ModelBox.Storage.Relational;

/// <summary>How domain values are spelled in columns.</summary>
internal static class RelationalValues
{
    /// <summary>Timestamps are BIGINT Unix microseconds: the domain's precision, so round trips are exact.</summary>
    public static long ToMicros(DateTimeOffset value) => (value.UtcTicks - DateTimeOffset.UnixEpoch.Ticks) / TicksPerMicrosecond;

    public static long? ToMicros(DateTimeOffset? value) => value is { } v ? ToMicros(v) : null;

    public static DateTimeOffset FromMicros(long micros) =>
        new(DateTimeOffset.UnixEpoch.Ticks + (micros * TicksPerMicrosecond), TimeSpan.Zero);

    public static DateTimeOffset? FromMicros(long? micros) => micros is { } m ? FromMicros(m) : null;

    public static string Key(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static bool TryParseKey(string text, out long value) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);

    public static string MetricsToJson(IReadOnlyDictionary<string, float> metrics) =>
        JsonSerializer.Serialize(new Dictionary<string, float>(metrics, StringComparer.Ordinal), RelationalJsonContext.Default.DictionaryStringSingle);

    public static Dictionary<string, float> MetricsFromJson(string json) =>
        new(JsonSerializer.Deserialize(json, RelationalJsonContext.Default.DictionaryStringSingle) ?? [], StringComparer.Ordinal);

    public static string TagsToJson(IReadOnlyList<string> tags) =>
        JsonSerializer.Serialize([.. tags], RelationalJsonContext.Default.ListString);

    public static List<string> TagsFromJson(string json) =>
        JsonSerializer.Deserialize(json, RelationalJsonContext.Default.ListString) ?? [];

    private const long TicksPerMicrosecond = TimeSpan.TicksPerMillisecond / 1000;
}

// A diverging run logs NaN or infinite losses; they must survive the round trip rather than fail the write.
[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(Dictionary<string, float>))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class RelationalJsonContext : JsonSerializerContext;
