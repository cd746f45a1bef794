using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using ModelBox.Client;

namespace ModelBox.Cli.ClientCommands;

/// <summary>
/// How <c>--output json</c> looks: snake_case field names like the proto JSON mapping, enums as the lower-case
/// names the CLI accepts, metadata keys as stored, nulls omitted.
/// </summary>
internal static class CliJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.General)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        // Output is read by people and by jq, not embedded in HTML: keep '+', '<' and non-ASCII readable.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters =
        {
            new NameConverter<Framework>(CliValues.Name),
            new NameConverter<ExperimentStatus>(CliValues.Name),
            new NameConverter<FileKind>(k => k.ToString().ToLowerInvariant()),
        },
    };

    private sealed class NameConverter<T>(Func<T, string> name) : JsonConverter<T>
        where T : struct, Enum
    {
        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            throw new NotSupportedException("The CLI only writes JSON.");

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
            writer.WriteStringValue(name(value));
    }
}
