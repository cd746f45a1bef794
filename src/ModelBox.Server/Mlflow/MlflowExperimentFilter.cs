using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ModelBox.Domain.Storage;

namespace ModelBox.Server.Mlflow;

/// <summary>
/// MLflow's experiment filter and order: <c>name</c> and <c>tags.K</c> with = != LIKE ILIKE, <c>creation_time</c> and
/// <c>last_update_time</c> with numeric comparisons, joined by AND; ordered by name, experiment_id, creation_time or
/// last_update_time (default creation_time DESC, then experiment_id). Experiments are few: evaluated in memory.
/// </summary>
public static class MlflowExperimentFilter
{
    public static Func<MlflowExperimentRecord, bool> Parse(string? filter)
    {
        if (string.IsNullOrWhiteSpace(filter))
        {
            return _ => true;
        }

        if (filter.Length > 4096)
        {
            throw MlflowException.Invalid($"filter is {filter.Length} characters long; the limit is 4096");
        }

        var tokens = MlflowRunFilter.Tokenize(filter);
        var conditions = new List<Func<MlflowExperimentRecord, bool>>();
        for (var i = 0; ; i += 4)
        {
            if (i + 2 >= tokens.Count)
            {
                throw MlflowException.Invalid($"Invalid filter '{filter}': expected 'field operator value'");
            }

            conditions.Add(Condition(filter, tokens[i], tokens[i + 1].Text.ToUpperInvariant(), tokens[i + 2]));
            if (i + 3 == tokens.Count)
            {
                break;
            }

            if (!string.Equals(tokens[i + 3].Text, "and", StringComparison.OrdinalIgnoreCase))
            {
                throw MlflowException.Invalid($"Invalid filter '{filter}': expected AND at position {tokens[i + 3].Position + 1}");
            }
        }

        return record => conditions.TrueForAll(c => c(record));
    }

    public static Func<IEnumerable<MlflowExperimentRecord>, IEnumerable<MlflowExperimentRecord>> Order(IReadOnlyList<string> orderBy)
    {
        if (orderBy.Count == 0)
        {
            return records => records.OrderByDescending(r => r.CreatedAt).ThenBy(r => r.Number);
        }

        var clauses = orderBy.Select(clause =>
        {
            var parts = clause.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var descending = parts.Length == 2 && string.Equals(parts[1], "DESC", StringComparison.OrdinalIgnoreCase);
            if (parts.Length is 0 or > 2 || (parts.Length == 2 && !descending && !string.Equals(parts[1], "ASC", StringComparison.OrdinalIgnoreCase)))
            {
                throw MlflowException.Invalid($"Invalid order_by clause '{clause}'");
            }

            Func<MlflowExperimentRecord, IComparable> key = parts[0].ToLowerInvariant() switch
            {
                "name" or "attributes.name" => r => r.Name,
                "experiment_id" or "attributes.experiment_id" => r => r.Number,
                "creation_time" or "attributes.creation_time" => r => r.CreatedAt,
                "last_update_time" or "attributes.last_update_time" => r => r.UpdatedAt,
                _ => throw MlflowException.Invalid($"Invalid order_by clause '{clause}': order by name, experiment_id, creation_time or last_update_time"),
            };
            return (key, descending);
        }).ToList();
        return records =>
        {
            IOrderedEnumerable<MlflowExperimentRecord>? ordered = null;
            foreach (var (key, descending) in clauses)
            {
                ordered = ordered is null
                    ? (descending ? records.OrderByDescending(key, Comparer<IComparable>.Default) : records.OrderBy(key, Comparer<IComparable>.Default))
                    : (descending ? ordered.ThenByDescending(key, Comparer<IComparable>.Default) : ordered.ThenBy(key, Comparer<IComparable>.Default));
            }

            return ordered!.ThenBy(r => r.Number);
        };
    }

    private static Func<MlflowExperimentRecord, bool> Condition(string filter, MlflowRunFilter.Token field, string op, MlflowRunFilter.Token value)
    {
        var name = field.Text;
        var lower = name.ToLowerInvariant();
        if (lower is "name" or "attributes.name" or "attribute.name")
        {
            var text = Quoted(filter, value);
            return Text(filter, op, r => r.Name, text);
        }

        if (lower.StartsWith("tags.", StringComparison.Ordinal) || lower.StartsWith("tag.", StringComparison.Ordinal))
        {
            var key = name[(name.IndexOf('.', StringComparison.Ordinal) + 1)..].Trim('`', '"');
            var text = Quoted(filter, value);
            var compare = Text(filter, op, r => r.Tags.TryGetValue(key, out var v) ? v : null, text);
            return compare;
        }

        if (lower is "creation_time" or "attributes.creation_time" or "last_update_time" or "attributes.last_update_time")
        {
            if (value.Quoted || !long.TryParse(value.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var millis))
            {
                throw MlflowException.Invalid($"Invalid filter '{filter}': {name} compares with a number of milliseconds");
            }

            Func<MlflowExperimentRecord, long> get = lower.Contains("creation", StringComparison.Ordinal)
                ? r => r.CreatedAt.ToUnixTimeMilliseconds()
                : r => r.UpdatedAt.ToUnixTimeMilliseconds();
            return op switch
            {
                "=" => r => get(r) == millis,
                "!=" => r => get(r) != millis,
                "<" => r => get(r) < millis,
                "<=" => r => get(r) <= millis,
                ">" => r => get(r) > millis,
                ">=" => r => get(r) >= millis,
                _ => throw MlflowException.Invalid($"Invalid filter '{filter}': '{op}' does not compare times"),
            };
        }

        throw MlflowException.Invalid($"Invalid filter '{filter}': cannot filter experiments by '{name}'; use name, tags.KEY, creation_time, last_update_time");
    }

    private static Func<MlflowExperimentRecord, bool> Text(string filter, string op, Func<MlflowExperimentRecord, string?> get, string text) => op switch
    {
        "=" or "==" => r => string.Equals(get(r), text, StringComparison.Ordinal),
        "!=" => r => !string.Equals(get(r), text, StringComparison.Ordinal),
        "LIKE" => Like(get, text, ignoreCase: false),
        "ILIKE" => Like(get, text, ignoreCase: true),
        _ => throw MlflowException.Invalid($"Invalid filter '{filter}': '{op}' does not compare text; use = != LIKE ILIKE"),
    };

    /// <summary>SQL's LIKE (<c>%</c> any run, <c>_</c> one character), anchored; ILIKE ignores case.</summary>
    internal static Func<T, bool> Like<T>(Func<T, string?> get, string pattern, bool ignoreCase)
    {
        var options = ignoreCase ? RegexOptions.IgnoreCase : RegexOptions.None;
        var regex = new StringBuilder("^");
        foreach (var c in pattern)
        {
            regex.Append(c switch { '%' => ".*", '_' => ".", _ => Regex.Escape(c.ToString()) });
        }

        var compiled = new Regex(regex.Append('$').ToString(), options | RegexOptions.Singleline | RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
        return r => get(r) is { } value && compiled.IsMatch(value);
    }

    private static string Quoted(string filter, MlflowRunFilter.Token value) =>
        value.Quoted ? value.Text : throw MlflowException.Invalid($"Invalid filter '{filter}': expected a quoted string at position {value.Position + 1}");
}
