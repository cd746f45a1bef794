using System.Globalization;
using System.Text.Json;

namespace ModelBox.Server.Mlflow;

/// <summary>
/// The fields of an MLflow request, from its JSON body (POST, PATCH, DELETE) or its query string (GET, as MLflow's
/// client sends reads), read by the protobuf field names MLflow uses. Numbers may come as JSON numbers or strings
/// (proto3 JSON writes int64 as strings); NaN and infinities as Python's json writes them (bare <c>NaN</c>,
/// <c>Infinity</c>, <c>-Infinity</c>) or quoted.
/// </summary>
public sealed class MlflowRequest
{
    private readonly JsonElement? _body;
    private readonly IQueryCollection? _query;

    private MlflowRequest(JsonElement? body, IQueryCollection? query)
    {
        _body = body;
        _query = query;
    }

    /// <summary>The largest request body the tracking API reads (MLflow's log-batch limit is 1 MB; other calls are far smaller).</summary>
    public const int MaxBodyBytes = 1024 * 1024;

    public static MlflowRequest Of(JsonElement element) => new(element, null);

    public static MlflowRequest Of(IQueryCollection query) => new(null, query);

    public static async Task<MlflowRequest> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (HttpMethods.IsGet(request.Method))
        {
            return new MlflowRequest(null, request.Query);
        }

        if (request.ContentLength > MaxBodyBytes)
        {
            throw new MlflowException(
                MlflowErrorCodes.InvalidParameterValue, $"the request body is {request.ContentLength} bytes; the limit is {MaxBodyBytes} bytes (1 MB)");
        }

        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                throw new MlflowException(MlflowErrorCodes.InvalidParameterValue, $"the request body is larger than {MaxBodyBytes} bytes (1 MB)");
            }

            buffer.Write(chunk, 0, read);
        }

        if (buffer.Length == 0)
        {
            return new MlflowRequest(JsonDocument.Parse("{}").RootElement, null);
        }

        try
        {
            using var document = JsonDocument.Parse(QuoteNonFiniteLiterals(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)));
            var root = document.RootElement.Clone();
            return root.ValueKind == JsonValueKind.Object
                ? new MlflowRequest(root, null)
                : throw new MlflowException(MlflowErrorCodes.BadRequest, "the request body must be a JSON object");
        }
        catch (JsonException ex)
        {
            throw new MlflowException(MlflowErrorCodes.BadRequest, $"the request body is not valid JSON: {ex.Message}");
        }
    }

    public string? String(string name)
    {
        if (_query is not null)
        {
            return _query.TryGetValue(name, out var values) && values.Count > 0 ? values[0] : null;
        }

        if (!_body!.Value.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
            _ => throw MlflowException.Invalid($"'{name}' must be a string"),
        };
    }

    public string RequiredString(string name) =>
        String(name) is { Length: > 0 } value ? value : throw MlflowException.Missing(name);

    public long? Long(string name)
    {
        var text = String(name);
        if (text is null or "")
        {
            return null;
        }

        return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value
            : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d == Math.Floor(d) && Math.Abs(d) < 9.2e18
                ? (long)d
                : throw MlflowException.Invalid($"'{name}' must be an integer; got '{Shorten(text)}'");
    }

    public double? Double(string name)
    {
        var text = String(name);
        return text switch
        {
            null or "" => null,
            "NaN" or "nan" => double.NaN,
            "Infinity" or "inf" => double.PositiveInfinity,
            "-Infinity" or "-inf" => double.NegativeInfinity,
            _ => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
                ? value
                : throw MlflowException.Invalid($"'{name}' must be a number; got '{Shorten(text)}'"),
        };
    }

    public bool? Bool(string name)
    {
        var text = String(name);
        return text switch
        {
            null or "" => null,
            "true" or "True" => true,
            "false" or "False" => false,
            _ => throw MlflowException.Invalid($"'{name}' must be true or false; got '{Shorten(text)}'"),
        };
    }

    /// <summary>A repeated string field: a JSON array, or the query parameter given several times.</summary>
    public IReadOnlyList<string> Strings(string name)
    {
        if (_query is not null)
        {
            return _query.TryGetValue(name, out var values) ? values.Where(v => v is not null).Select(v => v!).ToList() : [];
        }

        if (!_body!.Value.TryGetProperty(name, out var array) || array.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (array.ValueKind != JsonValueKind.Array)
        {
            throw MlflowException.Invalid($"'{name}' must be an array");
        }

        return array.EnumerateArray()
            .Select(e => e.ValueKind is JsonValueKind.String ? e.GetString()! : e.ValueKind is JsonValueKind.Number ? e.GetRawText() : throw MlflowException.Invalid($"'{name}' must be an array of strings"))
            .ToList();
    }

    /// <summary>A message field (JSON bodies only); null when absent.</summary>
    public MlflowRequest? Message(string name) =>
        _body is { } body && body.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value.ValueKind == JsonValueKind.Object ? new MlflowRequest(value, null) : throw MlflowException.Invalid($"'{name}' must be an object")
            : null;

    /// <summary>A repeated message field (JSON bodies only).</summary>
    public IReadOnlyList<MlflowRequest> Messages(string name)
    {
        if (_body is not { } body || !body.TryGetProperty(name, out var array) || array.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (array.ValueKind != JsonValueKind.Array)
        {
            throw MlflowException.Invalid($"'{name}' must be an array");
        }

        var result = new List<MlflowRequest>(array.GetArrayLength());
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            result.Add(item.ValueKind == JsonValueKind.Object ? new MlflowRequest(item, null) : throw MlflowException.Invalid($"'{name}[{i}]' must be an object"));
            i++;
        }

        return result;
    }

    /// <summary>key/value messages (tags, params) as a list, in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> KeyValues(string name) =>
        Messages(name).Select(m => new KeyValuePair<string, string>(m.String("key") ?? string.Empty, m.String("value") ?? string.Empty)).ToList();

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "...";

    /// <summary>Quotes bare NaN, Infinity and -Infinity outside strings, which Python's json writes and JSON does not allow.</summary>
    private static byte[] QuoteNonFiniteLiterals(ReadOnlySpan<byte> json)
    {
        if (json.IndexOf("NaN"u8) < 0 && json.IndexOf("Infinity"u8) < 0)
        {
            return json.ToArray();
        }

        var output = new List<byte>(json.Length + 16);
        var inString = false;
        for (var i = 0; i < json.Length; i++)
        {
            var b = json[i];
            if (inString)
            {
                output.Add(b);
                if (b == (byte)'\\' && i + 1 < json.Length)
                {
                    output.Add(json[++i]);
                }
                else if (b == (byte)'"')
                {
                    inString = false;
                }

                continue;
            }

            if (b == (byte)'"')
            {
                inString = true;
                output.Add(b);
                continue;
            }

            var literal = json[i..].StartsWith("NaN"u8) ? 3 : json[i..].StartsWith("Infinity"u8) ? 8 : json[i..].StartsWith("-Infinity"u8) ? 9 : 0;
            if (literal > 0)
            {
                output.Add((byte)'"');
                output.AddRange(json.Slice(i, literal).ToArray());
                output.Add((byte)'"');
                i += literal - 1;
                continue;
            }

            output.Add(b);
        }

        return [.. output];
    }
}
