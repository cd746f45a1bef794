using System.Globalization;
using ModelBox.Domain;
using ModelBox.Domain.Search;

namespace ModelBox.Server.Mlflow;

/// <summary>
/// MLflow's run filter (mlflow/utils/search_utils.py), the part ModelBox's search can answer: comparisons
/// <c>metrics.K op number</c>, <c>params.K op 'text'</c>, <c>tags.K op 'text'</c> and <c>attributes.A op value</c>
/// (status, run_name, run_id, user_id, start_time) with <c>= != &lt; &lt;= &gt; &gt;=</c>, joined by AND. Keys may be
/// quoted with backticks or double quotes; <c>IN ('a', 'b')</c> and <c>NOT IN (...)</c> on params, tags and the text
/// attributes; <c>LIKE</c> and <c>ILIKE</c> on the same fields, which ModelBox's search cannot answer: they come back as
/// conditions the caller checks on the runs the database found (<see cref="MlflowRunQuery.Matches"/>).
/// </summary>
public static class MlflowRunFilter
{
    public const int MaxComparisons = 64;

    public static MlflowRunQuery Parse(string? filter)
    {
        if (string.IsNullOrWhiteSpace(filter))
        {
            return new MlflowRunQuery(null, []);
        }

        if (filter.Length > 4096)
        {
            throw MlflowException.Invalid($"filter is {filter.Length} characters long; the limit is 4096");
        }

        var tokens = Tokenize(filter);
        FilterNode? result = null;
        var matches = new List<Func<Experiment, bool>>();
        var i = 0;
        var count = 0;
        while (true)
        {
            if (++count > MaxComparisons)
            {
                throw MlflowException.Invalid($"Invalid filter '{filter}': more than {MaxComparisons} comparisons");
            }

            if (i + 2 >= tokens.Count)
            {
                throw MlflowException.Invalid($"Invalid filter '{filter}': expected 'field operator value' at the end");
            }

            FilterNode? comparison = null;
            var negated = IsWord(tokens[i + 1], "not") && i + 2 < tokens.Count && IsWord(tokens[i + 2], "in");
            if (IsWord(tokens[i + 1], "like") || IsWord(tokens[i + 1], "ilike"))
            {
                matches.Add(Like(filter, tokens[i], IsWord(tokens[i + 1], "ilike"), tokens[i + 2]));
                i += 3;
            }
            else if (negated || IsWord(tokens[i + 1], "in"))
            {
                var field = tokens[i];
                i += negated ? 3 : 2;
                var values = List(filter, tokens, ref i);
                var @in = In(filter, field, values);
                comparison = negated ? new NotNode(@in, field.Position + 1) : @in;
            }
            else
            {
                comparison = Comparison(filter, tokens[i], tokens[i + 1], tokens[i + 2]);
                i += 3;
            }

            if (comparison is not null)
            {
                result = result is null ? comparison : new AndNode(result, comparison);
            }

            if (i == tokens.Count)
            {
                return new MlflowRunQuery(result, matches);
            }

            if (!string.Equals(tokens[i].Text, "and", StringComparison.OrdinalIgnoreCase) || tokens[i].Quoted)
            {
                throw MlflowException.Invalid($"Invalid filter '{filter}': expected AND at position {tokens[i].Position + 1}, found '{tokens[i].Text}' (OR is not part of MLflow's syntax)");
            }

            i++;
        }
    }

    /// <summary><c>field LIKE 'pattern'</c> on a param, tag or text attribute, checked on a run in memory.</summary>
    private static Func<Experiment, bool> Like(string filter, Token field, bool ignoreCase, Token value)
    {
        var node = Comparison(filter, field, new Token("=", false, field.Position), value);
        Func<Experiment, string?> get = node.Field switch
        {
            { Source: FieldSource.Metadata, Key: var key } => run => run.Metadata.TryGetValue(key, out var json) ? MlflowRunMapping.Text(json) : null,
            { Source: FieldSource.Attribute, Attribute: SearchAttribute.Owner } => run => run.Owner,
            { Source: FieldSource.Attribute, Attribute: SearchAttribute.Id } => run => MlflowRunMapping.RunId(run.Id),
            _ => throw MlflowException.Invalid($"Invalid filter '{filter}': LIKE and ILIKE compare params, tags, run_name, run_id and user_id"),
        };

        // The pattern as written (a run id comparison turned the value into an experiment id).
        return MlflowExperimentFilter.Like(get, value.Text, ignoreCase);
    }

    private static bool IsWord(Token token, string word) => !token.Quoted && string.Equals(token.Text, word, StringComparison.OrdinalIgnoreCase);

    /// <summary>A parenthesised list of quoted strings, <c>('a', 'b')</c>, starting at <paramref name="i"/>; leaves it after the ')'.</summary>
    private static List<Token> List(string filter, List<Token> tokens, ref int i)
    {
        if (i >= tokens.Count || tokens[i] is not { Quoted: false, Text: "(" })
        {
            throw MlflowException.Invalid($"Invalid filter '{filter}': expected '(' after IN");
        }

        var values = new List<Token>();
        i++;
        while (true)
        {
            if (i + 1 >= tokens.Count || !tokens[i].Quoted)
            {
                throw MlflowException.Invalid($"Invalid filter '{filter}': an IN list holds quoted strings separated by commas, closed by ')'");
            }

            values.Add(tokens[i]);
            var separator = tokens[i + 1];
            i += 2;
            if (separator is { Quoted: false, Text: ")" })
            {
                return values;
            }

            if (separator is not { Quoted: false, Text: "," })
            {
                throw MlflowException.Invalid($"Invalid filter '{filter}': expected ',' or ')' at position {separator.Position + 1}, found '{separator.Text}'");
            }
        }
    }

    /// <summary><c>field IN (...)</c>: an equality with any of the values (each value mapped as <c>=</c> maps it).</summary>
    private static InNode In(string filter, Token field, List<Token> values)
    {
        var comparisons = values.Select(value => Comparison(filter, field, new Token("=", false, field.Position), value)).ToList();
        if (comparisons[0].Field.Source == FieldSource.Metric)
        {
            throw MlflowException.Invalid($"Invalid filter '{filter}': IN compares params, tags and attributes, not metrics");
        }

        return new InNode(comparisons[0].Field, comparisons.ConvertAll(c => c.Value));
    }

    private static ComparisonNode Comparison(string filter, Token field, Token op, Token value)
    {
        var @operator = op.Text.ToUpperInvariant() switch
        {
            "=" or "==" => ComparisonOperator.Equal,
            "!=" => ComparisonOperator.NotEqual,
            "<" => ComparisonOperator.Less,
            "<=" => ComparisonOperator.LessOrEqual,
            ">" => ComparisonOperator.Greater,
            ">=" => ComparisonOperator.GreaterOrEqual,
            "IN" or "NOT" => throw MlflowException.Invalid($"Invalid filter '{filter}': {op.Text.ToUpperInvariant()} takes a list: field IN ('a', 'b')"),
            _ => throw MlflowException.Invalid($"Invalid filter '{filter}': '{op.Text}' at position {op.Position + 1} is not a comparison operator"),
        };
        var dot = field.Quoted ? -1 : field.Text.IndexOf('.', StringComparison.Ordinal);
        var prefix = dot < 0 ? "attributes" : field.Text[..dot].ToLowerInvariant();
        var key = dot < 0 ? field.Text : field.Text[(dot + 1)..];
        if (key.Length >= 2 && key[0] is '`' or '"' && key[^1] == key[0])
        {
            key = key[1..^1];
        }

        var position = field.Position + 1;
        switch (prefix)
        {
            case "metrics" or "metric":
                return new ComparisonNode(new FieldRef(FieldSource.Metric, null, key, position), @operator, new FilterValue(NumberOf(filter, value), value.Position + 1));
            case "params" or "param" or "parameters":
                return new ComparisonNode(
                    new FieldRef(FieldSource.Metadata, null, MlflowRunMapping.ParamPrefix + key, position), @operator, new FilterValue(TextOf(filter, value), value.Position + 1));
            case "tags" or "tag":
                return new ComparisonNode(
                    new FieldRef(FieldSource.Metadata, null, MlflowRunMapping.TagPrefix + key, position), @operator, new FilterValue(TextOf(filter, value), value.Position + 1));
            case "attributes" or "attribute" or "attr" or "run":
                return Attribute(filter, key, @operator, value, position);
            default:
                throw MlflowException.Invalid($"Invalid filter '{filter}': invalid entity type '{prefix}'; valid types are metrics, params, tags, attributes");
        }
    }

    private static ComparisonNode Attribute(string filter, string name, ComparisonOperator op, Token value, int position)
    {
        FieldRef Field(SearchAttribute attribute) => new(FieldSource.Attribute, attribute, name, position);
        var at = value.Position + 1;
        switch (name.ToLowerInvariant())
        {
            case "status":
                RequireEquality(filter, name, op);
                return new ComparisonNode(Field(SearchAttribute.Status), op, new FilterValue((long)MlflowRunMapping.ParseStatus(TextOf(filter, value)), at));
            case "run_name" or "runname":
                return new ComparisonNode(
                    new FieldRef(FieldSource.Metadata, null, MlflowRunMapping.TagPrefix + MlflowRunMapping.RunNameTag, position), op, new FilterValue(TextOf(filter, value), at));
            case "run_id" or "run_uuid" or "id":
                RequireEquality(filter, name, op);
                return new ComparisonNode(Field(SearchAttribute.Id), op, new FilterValue(MlflowRunMapping.ExperimentIdOrNone(TextOf(filter, value)), at));
            case "user_id":
                return new ComparisonNode(Field(SearchAttribute.Owner), op, new FilterValue(TextOf(filter, value), at));
            case "start_time" or "created":
                var millis = NumberOf(filter, value);
                return new ComparisonNode(Field(SearchAttribute.CreatedAt), op, new FilterValue(DateTimeOffset.FromUnixTimeMilliseconds((long)millis), at));
            default:
                throw MlflowException.Invalid(
                    $"Invalid filter '{filter}': the attribute '{name}' is not searchable on this server; searchable: status, run_name, run_id, user_id, start_time");
        }
    }

    private static void RequireEquality(string filter, string name, ComparisonOperator op)
    {
        if (op is not (ComparisonOperator.Equal or ComparisonOperator.NotEqual))
        {
            throw MlflowException.Invalid($"Invalid filter '{filter}': '{name}' can only be compared with = or !=");
        }
    }

    private static double NumberOf(string filter, Token value) =>
        !value.Quoted && double.TryParse(value.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
            ? number
            : throw MlflowException.Invalid($"Invalid filter '{filter}': expected a number at position {value.Position + 1}, found '{value.Text}'");

    private static string TextOf(string filter, Token value) =>
        value.Quoted ? value.Text : throw MlflowException.Invalid($"Invalid filter '{filter}': expected a quoted string at position {value.Position + 1}, found '{value.Text}'");

    internal readonly record struct Token(string Text, bool Quoted, int Position);

    internal static List<Token> Tokenize(string filter)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < filter.Length)
        {
            var c = filter[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }

            var start = i;
            if (c is '\'' or '"')
            {
                var end = filter.IndexOf(c, i + 1);
                if (end < 0)
                {
                    throw MlflowException.Invalid($"Invalid filter '{filter}': unterminated string starting at position {start + 1}");
                }

                tokens.Add(new Token(filter[(i + 1)..end], Quoted: true, start));
                i = end + 1;
            }
            else if (c is '(' or ')' or ',')
            {
                tokens.Add(new Token(c.ToString(), Quoted: false, start));
                i++;
            }
            else if (c is '=' or '!' or '<' or '>')
            {
                i++;
                if (i < filter.Length && filter[i] == '=')
                {
                    i++;
                }

                tokens.Add(new Token(filter[start..i], Quoted: false, start));
            }
            else
            {
                // An identifier: may hold a quoted key after the dot (metrics.`my key`, params."a b").
                while (i < filter.Length && !char.IsWhiteSpace(filter[i]) && filter[i] is not ('=' or '!' or '<' or '>' or '(' or ')' or ','))
                {
                    if (filter[i] is '`' or '"' && i > start && filter[i - 1] == '.')
                    {
                        var end = filter.IndexOf(filter[i], i + 1);
                        if (end < 0)
                        {
                            throw MlflowException.Invalid($"Invalid filter '{filter}': unterminated quoted key at position {i + 1}");
                        }

                        i = end + 1;
                        continue;
                    }

                    i++;
                }

                tokens.Add(new Token(filter[start..i], Quoted: false, start));
            }
        }

        return tokens;
    }
}

/// <summary>A run filter: what the database answers, and the conditions checked on the runs it finds.</summary>
public sealed record MlflowRunQuery(FilterNode? Where, IReadOnlyList<Func<Experiment, bool>> Matches);
