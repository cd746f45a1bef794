namespace ModelBox.Domain.Registry;

/// <summary>Limits on labels, aliases, actors and dataset fields.</summary>
public static class RegistryValidation
{
    public const int MaxLabelKeyLength = 128;
    public const int MaxLabelValueLength = 256;
    public const int MaxLabelsPerObject = 64;
    public const string AnonymousActor = "anonymous";

    /// <summary>
    /// A label key: 1 to 128 characters, letters, digits, '-', '_', '.' and '/', starting with a letter or digit; the same
    /// characters a selector can spell without quoting.
    /// </summary>
    public static string LabelKey(string? key, InputName? input = null)
    {
        var field = input ?? "labels";
        if (string.IsNullOrEmpty(key))
        {
            throw ModelBoxException.InvalidArgument($"{field} has an empty key");
        }

        if (key.Length > MaxLabelKeyLength)
        {
            throw ModelBoxException.InvalidArgument($"{field} key '{key[..32]}...' is {key.Length} characters long; the limit is {MaxLabelKeyLength}");
        }

        if (!char.IsAsciiLetterOrDigit(key[0]) || !key.All(IsLabelChar))
        {
            throw ModelBoxException.InvalidArgument(
                $"{field} key '{key}' must start with a letter or digit and contain only letters, digits, '-', '_', '.' and '/'");
        }

        return key;
    }

    /// <summary>A label value: up to 256 characters of letters, digits, '-', '_', '.' and '/' (may be empty).</summary>
    public static string LabelValue(string? value, string key, InputName? input = null)
    {
        var field = input ?? "labels";
        value ??= string.Empty;
        if (value.Length > MaxLabelValueLength)
        {
            throw ModelBoxException.InvalidArgument($"{field}['{key}'] is {value.Length} characters long; the limit is {MaxLabelValueLength}");
        }

        if (!value.All(IsLabelChar))
        {
            throw ModelBoxException.InvalidArgument(
                $"{field}['{key}'] value '{value}' may only contain letters, digits, '-', '_', '.' and '/'");
        }

        return value;
    }

    public static IReadOnlyDictionary<string, string> Labels(IReadOnlyDictionary<string, string>? labels, InputName? input = null)
    {
        var field = input ?? "labels";
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in labels ?? new Dictionary<string, string>())
        {
            result[LabelKey(key, field)] = LabelValue(value, key, field);
        }

        if (result.Count > MaxLabelsPerObject)
        {
            throw ModelBoxException.InvalidArgument($"{field} has {result.Count} keys; an object holds at most {MaxLabelsPerObject}");
        }

        return result;
    }

    /// <summary>An alias name: like a label key (it appears in <c>namespace/model@alias</c> references).</summary>
    public static string Alias(string? alias, InputName? input = null)
    {
        var field = input ?? "alias";
        if (string.IsNullOrEmpty(alias))
        {
            throw ModelBoxException.InvalidArgument($"{field} is required");
        }

        if (alias.Length > MaxLabelKeyLength || !char.IsAsciiLetterOrDigit(alias[0]) || !alias.All(c => IsLabelChar(c) && c != '/'))
        {
            throw ModelBoxException.InvalidArgument(
                $"{field} '{alias}' must be 1 to {MaxLabelKeyLength} letters, digits, '-', '_' or '.', starting with a letter or digit");
        }

        return alias;
    }

    /// <summary>The caller's name for audit events; empty means anonymous.</summary>
    public static string Actor(string? actor) =>
        string.IsNullOrWhiteSpace(actor) ? AnonymousActor : Validation.ShortText(actor.Trim(), "actor");

    /// <summary>
    /// A dataset digest: <c>algorithm:hex</c> where a known algorithm fixes the length (<c>sha256:</c> + 64 hex digits,
    /// sha512 128, sha384 96, sha1 40, md5 32), another algorithm name with a hex or base64 value, or plain hex of a
    /// known length; at most 256 characters.
    /// </summary>
    public static string Digest(string? digest)
    {
        var value = Validation.Required(digest, "digest");
        if (value.Length > 256)
        {
            throw ModelBoxException.InvalidArgument($"digest is {value.Length} characters long; at most 256");
        }

        var colon = value.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return DigestLengths.ContainsValue(value.Length) && value.All(char.IsAsciiHexDigit)
                ? value
                : throw ModelBoxException.InvalidArgument($"digest '{Shorten(value)}' must be ALGORITHM:HEX, e.g. sha256: followed by 64 hex digits");
        }

        var algorithm = value[..colon];
        var hash = value[(colon + 1)..];
        if (DigestLengths.TryGetValue(algorithm.ToLowerInvariant(), out var length))
        {
            return hash.Length == length && hash.All(char.IsAsciiHexDigit)
                ? value
                : throw ModelBoxException.InvalidArgument($"digest '{Shorten(value)}': {algorithm} must be followed by {length} hex digits, not '{Shorten(hash)}'");
        }

        var algorithmValid = algorithm.Length is > 0 and <= 32 && algorithm.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '+');
        var hashValid = hash.Length > 0 && hash.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '/' or '=' or '-' or '_');
        return algorithmValid && hashValid
            ? value
            : throw ModelBoxException.InvalidArgument($"digest '{Shorten(value)}' must be ALGORITHM:VALUE with a hex or base64 value, e.g. sha256: followed by 64 hex digits");
    }

    private static readonly Dictionary<string, int> DigestLengths = new(StringComparer.Ordinal)
    {
        ["md5"] = 32,
        ["sha1"] = 40,
        ["sha256"] = 64,
        ["sha384"] = 96,
        ["sha512"] = 128,
    };

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..77] + "...";

    private static bool IsLabelChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/';
}
