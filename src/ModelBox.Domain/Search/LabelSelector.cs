using System.Security.Cryptography;
using System.Text;

namespace ModelBox.Domain.Search;

/// <summary>
/// Label selectors as list calls take them (Kubernetes style): comma-separated requirements that must all hold.
/// <c>key=value</c> (or <c>==</c>), <c>key!=value</c> (also true when the key is absent), <c>key</c> (present),
/// <c>!key</c> (absent), <c>key in (a,b)</c>, <c>key notin (a,b)</c>. Parsed into the same tree as a search filter.
/// </summary>
public static class LabelSelector
{
    /// <summary>
    /// Most requirements in one selector. Each becomes an EXISTS subquery nested in the AND chain of the SQL, so this
    /// bounds the statement far below SQLite's expression depth (1000) and variable (32766) limits.
    /// </summary>
    public const int MaxRequirements = 64;

    /// <summary>Parses a selector; null or blank selects everything (null). Errors name the 1-based position.</summary>
    public static FilterNode? Parse(string? selector, InputName? input = null)
    {
        var field = input ?? "label selector";
        if (string.IsNullOrWhiteSpace(selector))
        {
            return null;
        }

        if (selector.Length > FilterParser.MaxFilterLength)
        {
            throw ModelBoxException.InvalidArgument($"{field} is {selector.Length} characters long; the limit is {FilterParser.MaxFilterLength}");
        }

        FilterNode? result = null;
        var i = 0;
        var count = 0;
        while (true)
        {
            if (++count > MaxRequirements)
            {
                throw Error(field, i, $"more than {MaxRequirements} requirements; the limit is {MaxRequirements}");
            }

            var requirement = ParseRequirement(selector, ref i, field);
            result = result is null ? requirement : new AndNode(result, requirement);
            SkipSpaces(selector, ref i);
            if (i >= selector.Length)
            {
                return result;
            }

            if (selector[i] != ',')
            {
                throw Error(field, i, $"expected ',' between requirements, found '{selector[i]}'");
            }

            i++;
        }
    }

    private static FilterNode ParseRequirement(string s, ref int i, InputName field)
    {
        SkipSpaces(s, ref i);
        var start = i;
        var negatedExistence = false;
        if (i < s.Length && s[i] == '!')
        {
            negatedExistence = true;
            i++;
        }

        var keyStart = i;
        var key = ReadWord(s, ref i);
        if (key.Length == 0)
        {
            throw Error(field, keyStart, i < s.Length ? $"expected a label key, found '{s[i]}'" : "expected a label key at the end");
        }

        if (!char.IsAsciiLetterOrDigit(key[0]))
        {
            throw Error(field, keyStart, $"label key '{key}' must start with a letter or digit");
        }

        var labelField = new FieldRef(FieldSource.Label, null, key, keyStart + 1);
        if (negatedExistence)
        {
            return new NotNode(new HasNode(labelField, start + 1), start + 1);
        }

        SkipSpaces(s, ref i);
        if (i >= s.Length || s[i] == ',')
        {
            return new HasNode(labelField, start + 1);
        }

        var opStart = i;
        if (s[i] == '=' || s[i] == '!')
        {
            var negated = s[i] == '!';
            i++;
            if (negated && (i >= s.Length || s[i] != '='))
            {
                throw Error(field, opStart, "'!' must be followed by '=' or start a key ('!key')");
            }

            if (i < s.Length && s[i] == '=')
            {
                i++;
            }

            SkipSpaces(s, ref i);
            var valueStart = i;
            var value = ReadWord(s, ref i);
            if (i < s.Length && s[i] is not (',' or ' ' or '\t'))
            {
                throw Error(field, i, $"unexpected character '{s[i]}' in the value of '{key}'");
            }

            var equal = new ComparisonNode(labelField, ComparisonOperator.Equal, new FilterValue(value, valueStart + 1));
            return negated ? new NotNode(equal, opStart + 1) : equal;
        }

        var word = ReadWord(s, ref i);
        var isIn = string.Equals(word, "in", StringComparison.OrdinalIgnoreCase);
        if (!isIn && !string.Equals(word, "notin", StringComparison.OrdinalIgnoreCase))
        {
            throw Error(field, opStart, $"expected =, !=, in or notin after '{key}', found '{(word.Length > 0 ? word : s[opStart].ToString())}'");
        }

        SkipSpaces(s, ref i);
        if (i >= s.Length || s[i] != '(')
        {
            throw Error(field, i, $"expected '(' after {word}");
        }

        i++;
        var values = new List<FilterValue>();
        while (true)
        {
            SkipSpaces(s, ref i);
            var valueStart = i;
            values.Add(new FilterValue(ReadWord(s, ref i), valueStart + 1));
            SkipSpaces(s, ref i);
            if (i >= s.Length)
            {
                throw Error(field, i, "the value list is not closed with ')'");
            }

            if (s[i] == ')')
            {
                i++;
                break;
            }

            if (s[i] != ',')
            {
                throw Error(field, i, $"expected ',' or ')' in the value list, found '{s[i]}'");
            }

            i++;
        }

        var inNode = new InNode(labelField, values);
        return isIn ? inNode : new NotNode(inNode, opStart + 1);
    }

    private static string ReadWord(string s, ref int i)
    {
        var start = i;
        while (i < s.Length && (char.IsAsciiLetterOrDigit(s[i]) || s[i] is '-' or '_' or '.' or '/'))
        {
            i++;
        }

        return s[start..i];
    }

    private static void SkipSpaces(string s, ref int i)
    {
        while (i < s.Length && char.IsWhiteSpace(s[i]))
        {
            i++;
        }
    }

    private static ModelBoxException Error(InputName field, int index, string message) =>
        ModelBoxException.InvalidArgument($"{field}: {message} at position {index + 1}");
}

/// <summary>Builds validated <see cref="SearchQuery"/> objects from wire values.</summary>
public static class SearchQueries
{
    /// <summary>
    /// A search from a filter and an <c>order_by</c> such as <c>created_at desc</c> or <c>name</c> (ascending by default;
    /// sortable: name, created_at, updated_at; the default is created_at desc, newest first).
    /// </summary>
    public static SearchQuery Build(
        SearchTarget target, string? @namespace, string? filter, string? orderBy, FilterNode? extra = null, string? scope = null, bool recursive = false)
    {
        var ns = string.IsNullOrEmpty(@namespace) ? default(NamespaceScope?) : NamespaceScope.From(@namespace, recursive);
        var parsed = FilterParser.Parse(filter, target);
        if (extra is not null)
        {
            parsed = parsed is null ? extra : new AndNode(parsed, extra);
        }

        var order = ParseOrder(orderBy);
        var fingerprintText = string.Join('\u001f', target, ns?.Key, filter, order.Attribute, order.Descending, scope, extra?.ToString());
        var fingerprint = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(fingerprintText)).AsSpan(0, 6));
        return new SearchQuery(target, ns, parsed, order, fingerprint);
    }

    /// <summary>The input that orders a search.</summary>
    public static InputName OrderByInput { get; } = "order by";

    public static SearchOrder ParseOrder(string? orderBy)
    {
        if (string.IsNullOrWhiteSpace(orderBy))
        {
            return new SearchOrder(SearchAttribute.CreatedAt, Descending: true);
        }

        var parts = orderBy.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var descending = parts.Length == 2 && string.Equals(parts[1], "desc", StringComparison.OrdinalIgnoreCase);
        if (parts.Length > 2 || (parts.Length == 2 && !descending && !string.Equals(parts[1], "asc", StringComparison.OrdinalIgnoreCase)))
        {
            throw ModelBoxException.InvalidArgument($"{OrderByInput} '{orderBy}' must be a field, optionally followed by asc or desc");
        }

        var attribute = parts[0].ToLowerInvariant() switch
        {
            "name" => SearchAttribute.Name,
            "created_at" => SearchAttribute.CreatedAt,
            "updated_at" => SearchAttribute.UpdatedAt,
            _ => throw ModelBoxException.InvalidArgument($"{OrderByInput}: cannot sort by '{parts[0]}'; sortable fields are name, created_at, updated_at"),
        };
        return new SearchOrder(attribute, descending);
    }
}
