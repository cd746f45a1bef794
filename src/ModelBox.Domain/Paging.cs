using System.Text;

namespace ModelBox.Domain;

/// <summary>A request for one page of a listing. <see cref="Limit"/> null means "everything" (the original API's behaviour).</summary>
public sealed record PageRequest(int? Limit, string? Token)
{
    /// <summary>The largest page a client can ask for; larger requests are reduced to it.</summary>
    public const int MaxPageSize = 1000;

    /// <summary>The input that says how large a page is.</summary>
    public static InputName SizeInput { get; } = "page size";

    public static PageRequest All { get; } = new(null, null);

    /// <summary>Builds a page request from wire values: 0 means all, negative is invalid, over the maximum is capped.</summary>
    public static PageRequest From(int pageSize, string? pageToken)
    {
        if (pageSize < 0)
        {
            throw ModelBoxException.InvalidArgument($"{SizeInput} must not be negative");
        }

        var token = string.IsNullOrEmpty(pageToken) ? null : pageToken;
        if (token is not null)
        {
            // Validate early so a bad token is INVALID_ARGUMENT whatever the backend.
            _ = PageTokens.Decode(token);
        }

        return new PageRequest(pageSize == 0 ? null : Math.Min(pageSize, MaxPageSize), token);
    }
}

/// <summary>One page of a listing and the token of the next one (null on the last page).</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? NextPageToken);

/// <summary>
/// Opaque keyset page tokens: the sort key of the last row of a page, so the next page is a range seek whose
/// cost does not depend on how deep the page is.
/// </summary>
public static class PageTokens
{
    private const string Version = "1";
    private const char Separator = '\u001f';

    /// <summary>The input that carries a page token.</summary>
    public static InputName TokenInput { get; } = "page token";

    /// <summary>Where a listing hands out the token of its next page.</summary>
    public static InputName NextTokenOutput { get; } = "next page token";

    /// <summary>A token that cannot be decoded, or that does not fit the listing it was passed to.</summary>
    public static ModelBoxException Malformed() =>
        ModelBoxException.InvalidArgument($"{TokenInput} is malformed; pass the {NextTokenOutput} of the previous page");

    /// <summary>A token of another search (other filter, order or target).</summary>
    public static ModelBoxException OfAnotherSearch() =>
        ModelBoxException.InvalidArgument(
            $"{TokenInput} does not belong to this search; pass the {NextTokenOutput} of the previous page of the same search");

    /// <summary>A page request with a limit of 0 or less, which a store cannot serve.</summary>
    public static ModelBoxException LimitNotPositive() => ModelBoxException.InvalidArgument($"{PageRequest.SizeInput} must be positive");

    public static string Encode(params string[] keys)
    {
        var text = Version + Separator + string.Join(Separator, keys);
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    public static string[] Decode(string token)
    {
        try
        {
            var base64 = token.Replace('-', '+').Replace('_', '/');
            base64 = base64.PadRight(base64.Length + ((4 - (base64.Length % 4)) % 4), '=');
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(base64)).Split(Separator);
            if (parts.Length < 2 || parts[0] != Version)
            {
                throw new FormatException("unknown token version");
            }

            return parts[1..];
        }
        catch (FormatException)
        {
            throw Malformed();
        }
    }
}
