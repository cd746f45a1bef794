namespace ModelBox.Domain;

/// <summary>Limits on client input and the checks that enforce them, naming the input (<see cref="InputName"/>) in every message.</summary>
public static class Validation
{
    public const int MaxNameLength = 256;
    public const int MaxDescriptionLength = 64 * 1024;
    public const int MaxMetadataKeyLength = 256;
    public const int MaxMetadataValueBytes = 1024 * 1024;

    /// <summary>
    /// Deepest nesting of arrays and objects in one metadata value. Protobuf's parser stops at 100 nested messages and
    /// a JSON object costs three (Value, Struct, the map entry), an array two; the enclosing messages take up to about
    /// ten more (a change-stream message wraps the metadata in a Struct payload). 24 levels of objects need at most
    /// 72 + 10, which leaves room.
    /// </summary>
    public const int MaxMetadataDepth = 24;

    /// <summary>Most metadata keys one object may have.</summary>
    public const int MaxMetadataKeys = 1000;

    /// <summary>
    /// Most bytes of metadata (UTF-8 keys plus JSON values) one object may hold: one value of the largest size fits,
    /// and an object stays far below the default gRPC message size (4 MiB in most clients, 16 MiB in this server).
    /// </summary>
    public const int MaxMetadataBytesPerObject = 2 * 1024 * 1024;
    public const string DefaultNamespace = "default";

    /// <summary>A required short string: names, versions, ids.</summary>
    public static string Required(string? value, InputName field)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw ModelBoxException.InvalidArgument($"{field} is required");
        }

        return ShortText(value, field);
    }

    /// <summary>An optional short string: owner, task, external id.</summary>
    public static string ShortText(string? value, InputName field)
    {
        value ??= string.Empty;
        if (value.Length > MaxNameLength)
        {
            throw ModelBoxException.InvalidArgument($"{field} is {value.Length} characters long; the limit is {MaxNameLength}");
        }

        foreach (var c in value)
        {
            if (char.IsControl(c))
            {
                throw ModelBoxException.InvalidArgument($"{field} must not contain control characters");
            }
        }

        return value;
    }

    public static string Description(string? value, InputName? input = null)
    {
        var field = input ?? "description";
        value ??= string.Empty;
        if (value.Length > MaxDescriptionLength)
        {
            throw ModelBoxException.InvalidArgument($"{field} is {value.Length} characters long; the limit is {MaxDescriptionLength}");
        }

        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw ModelBoxException.InvalidArgument($"{field} must not contain NUL characters");
        }

        return value;
    }

    /// <summary>
    /// A namespace: empty means <c>default</c>; otherwise a path of segments separated by '/' (<c>vision/detection</c>), each
    /// segment letters, digits, '-', '_' and '.' (it appears in URLs), never empty, never '.' or '..'.
    /// </summary>
    public static string Namespace(string? value, InputName? input = null)
    {
        var field = input ?? "namespace";
        if (string.IsNullOrEmpty(value))
        {
            return DefaultNamespace;
        }

        if (value.Length > MaxNameLength)
        {
            throw ModelBoxException.InvalidArgument($"{field} is {value.Length} characters long; the limit is {MaxNameLength}");
        }

        var segmentStart = 0;
        for (var i = 0; i <= value.Length; i++)
        {
            if (i < value.Length && value[i] != NamespaceScope.Separator)
            {
                var c = value[i];
                if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.'))
                {
                    throw ModelBoxException.InvalidArgument(
                        $"{field} '{Shorten(value)}' may only contain letters, digits, '-', '_' and '.', with '/' between path segments");
                }

                continue;
            }

            var segment = value.AsSpan(segmentStart, i - segmentStart);
            if (segment.IsEmpty || segment is "." or "..")
            {
                throw ModelBoxException.InvalidArgument(
                    $"{field} '{Shorten(value)}' has an empty, '.' or '..' path segment (no leading, trailing or doubled '/')");
            }

            segmentStart = i + 1;
        }

        return value;
    }

    /// <summary>An id that must name an object of the given kind.</summary>
    public static string Id(string? value, InputName field, ObjectKind kind)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw ModelBoxException.InvalidArgument($"{field} is required");
        }

        if (!ObjectIds.TryGetKind(value, out var actual))
        {
            throw ModelBoxException.InvalidArgument($"{field} '{Shorten(value)}' is not a ModelBox id");
        }

        if (actual != kind)
        {
            throw ModelBoxException.InvalidArgument($"{field} '{value}' is the id of {WithArticle(actual)}, not of {WithArticle(kind)}");
        }

        return value;
    }

    public static IReadOnlyDictionary<string, string> Metadata(IReadOnlyDictionary<string, string>? metadata, InputName? input = null)
    {
        var field = input ?? "metadata";
        if (metadata is null)
        {
            return new Dictionary<string, string>(StringComparer.Ordinal);
        }

        foreach (var (key, json) in metadata)
        {
            if (key.Length == 0)
            {
                throw ModelBoxException.InvalidArgument($"{field} has an empty key");
            }

            ShortText(key, field.Path + " key");
            if (System.Text.Encoding.UTF8.GetByteCount(json) > MaxMetadataValueBytes)
            {
                throw ModelBoxException.InvalidArgument($"{field}['{key}'] is larger than {MaxMetadataValueBytes} bytes of JSON");
            }

            MetadataDepth(json, field, key);
        }

        MetadataTotals(metadata.Count, MetadataBytes(metadata), field);
        return metadata;
    }

    /// <summary>The bytes one object's metadata counts against <see cref="MaxMetadataBytesPerObject"/>: UTF-8 keys plus JSON values.</summary>
    public static long MetadataBytes(IEnumerable<KeyValuePair<string, string>> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        long total = 0;
        foreach (var (key, json) in metadata)
        {
            total += System.Text.Encoding.UTF8.GetByteCount(key) + System.Text.Encoding.UTF8.GetByteCount(json);
        }

        return total;
    }

    /// <summary>Refuses an object's metadata (as it would be after a write) with too many keys or bytes.</summary>
    public static void MetadataTotals(int keys, long bytes, InputName? input = null)
    {
        var field = input ?? "metadata";
        if (keys > MaxMetadataKeys)
        {
            throw ModelBoxException.InvalidArgument($"{field} would give the object {keys} keys; the limit is {MaxMetadataKeys} keys per object");
        }

        if (bytes > MaxMetadataBytesPerObject)
        {
            throw ModelBoxException.InvalidArgument(
                $"{field} would give the object {bytes} bytes of metadata (keys and JSON values); the limit is {MaxMetadataBytesPerObject} bytes per object");
        }
    }

    private static void MetadataDepth(string json, InputName field, string key)
    {
        if (NestsDeeperThan(json, MaxMetadataDepth - 1))
        {
            throw DepthError(field, key);
        }
    }

    /// <summary>
    /// Whether <paramref name="json"/> opens an array or object below <paramref name="maxDepth"/> levels of arrays and
    /// objects (a top-level object is at depth 0). Only the nesting is looked at: the reader stops one level past the
    /// limit, before any deeper recursion; text that is not JSON counts as within.
    /// </summary>
    public static bool NestsDeeperThan(string json, int maxDepth)
    {
        ArgumentNullException.ThrowIfNull(json);
        var reader = new System.Text.Json.Utf8JsonReader(
            System.Text.Encoding.UTF8.GetBytes(json),
            new System.Text.Json.JsonReaderOptions { MaxDepth = maxDepth + 2, AllowTrailingCommas = false });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is System.Text.Json.JsonTokenType.StartObject or System.Text.Json.JsonTokenType.StartArray
                    && reader.CurrentDepth > maxDepth)
                {
                    return true;
                }
            }
        }
        catch (System.Text.Json.JsonException)
        {
            return reader.CurrentDepth > maxDepth;
        }

        return false;
    }

    private static ModelBoxException DepthError(InputName field, string key) =>
        ModelBoxException.InvalidArgument($"{field}['{key}'] nests arrays and objects deeper than {MaxMetadataDepth} levels");

    public static string Describe(ObjectKind kind) => kind switch
    {
        ObjectKind.Experiment => "experiment",
        ObjectKind.Checkpoint => "checkpoint",
        ObjectKind.Model => "model",
        ObjectKind.ModelVersion => "model version",
        ObjectKind.Event => "event",
        ObjectKind.File => "file",
        ObjectKind.Dataset => "dataset",
        ObjectKind.DatasetVersion => "dataset version",
        _ => kind.ToString(),
    };

    private static string WithArticle(ObjectKind kind)
    {
        var noun = Describe(kind);
        return (noun[0] is 'a' or 'e' or 'i' or 'o' or 'u' ? "an " : "a ") + noun;
    }

    private static string Shorten(string value) => value.Length <= 80 ? value : value[..80] + "...";
}
