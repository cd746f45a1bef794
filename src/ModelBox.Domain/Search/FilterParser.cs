using System.Globalization;
using System.Text;

namespace ModelBox.Domain.Search;

/// <summary>
/// A hand-written recursive-descent parser for the search filter language (docs/search.md):
/// <code>
/// filter     := or
/// or         := and ( OR and )*
/// and        := unary ( AND unary )*
/// unary      := NOT unary | primary
/// primary    := '(' or ')' | HAS '(' field ')' | field op value | field [NOT] IN '(' value (',' value)* ')'
/// field      := name | (labels | metadata | metrics) '.' key     key: letters, digits, _ - . / or a quoted string
/// op         := = | == | != | &lt;&gt; | &lt; | &lt;= | &gt; | &gt;=
/// value      := 'text' | "text" | number | true | false
/// </code>
/// Keywords are case-insensitive. Every error names the 1-based character position of the mistake.
/// </summary>
public sealed class FilterParser
{
    public const int MaxFilterLength = 4096;
    private const int MaxDepth = 64;

    /// <summary>
    /// Most comparisons (field tests, HAS, IN) in one filter. Each becomes a subquery or comparison in the SQL, and
    /// with <see cref="MaxDepth"/> this keeps the statement well inside SQLite's expression depth limit (1000).
    /// </summary>
    public const int MaxComparisons = 64;

    private readonly string _text;
    private readonly SearchTarget _target;
    private readonly InputName _field;
    private readonly List<Token> _tokens;
    private int _index;
    private int _depth;
    private int _comparisons;

    private FilterParser(string text, SearchTarget target, InputName field)
    {
        _text = text;
        _target = target;
        _field = field;
        _tokens = Tokenize();
    }

    /// <summary>Parses a filter for a target; null or blank is "everything" (null). Throws InvalidArgument with the position of the mistake.</summary>
    public static FilterNode? Parse(string? filter, SearchTarget target, InputName? input = null)
    {
        var field = input ?? "filter";
        if (string.IsNullOrWhiteSpace(filter))
        {
            return null;
        }

        if (filter.Length > MaxFilterLength)
        {
            throw ModelBoxException.InvalidArgument($"{field} is {filter.Length} characters long; the limit is {MaxFilterLength}");
        }

        var parser = new FilterParser(filter, target, field);
        var node = parser.ParseOr();
        var next = parser.Peek();
        if (next.Kind != TokenKind.End)
        {
            throw parser.Error(next.Position, next.Kind == TokenKind.RightParen
                ? "unbalanced ')'"
                : $"expected AND, OR or the end of the filter, found {Describe(next)}");
        }

        return node;
    }

    /// <summary>Resolves a field name (as in a filter or an order_by) for a target; null when the target has no such field.</summary>
    public static FieldRef? ResolveField(string name, SearchTarget target, int position)
    {
        var dot = name.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0)
        {
            var prefix = name[..dot].ToLowerInvariant();
            var key = name[(dot + 1)..];
            FieldSource? source = prefix switch
            {
                "labels" or "label" => FieldSource.Label,
                "metadata" => FieldSource.Metadata,
                "metrics" or "metric" => FieldSource.Metric,
                _ => null,
            };
            return source is { } s && key.Length > 0 ? new FieldRef(s, null, key, position) : null;
        }

        SearchAttribute? attribute = (name.ToLowerInvariant(), target) switch
        {
            ("id", _) => SearchAttribute.Id,
            ("name", _) => SearchAttribute.Name,
            ("namespace", _) => SearchAttribute.Namespace,
            ("owner", _) => SearchAttribute.Owner,
            ("task", _) => SearchAttribute.Task,
            ("description", _) => SearchAttribute.Description,
            ("created_at", _) => SearchAttribute.CreatedAt,
            ("updated_at", _) => SearchAttribute.UpdatedAt,
            ("framework", SearchTarget.Experiments or SearchTarget.ModelVersions) => SearchAttribute.Framework,
            ("status", SearchTarget.Experiments) => SearchAttribute.Status,
            ("version", SearchTarget.ModelVersions) => SearchAttribute.Version,
            ("model_id", SearchTarget.ModelVersions) => SearchAttribute.ModelId,
            ("model", SearchTarget.ModelVersions) => SearchAttribute.ModelName,
            _ => null,
        };
        return attribute is { } a ? new FieldRef(FieldSource.Attribute, a, name, position) : null;
    }

    /// <summary>The field names of a target, for error messages and the docs.</summary>
    public static string FieldNames(SearchTarget target) => target switch
    {
        SearchTarget.Experiments => "id, name, namespace, owner, task, framework, status, description, created_at, updated_at",
        SearchTarget.Models => "id, name, namespace, owner, task, description, created_at, updated_at",
        _ => "id, name, version, model, model_id, namespace, owner, task, framework, description, created_at, updated_at",
    } + ", labels.KEY, metadata.KEY, metrics.KEY";

    private FilterNode ParseOr()
    {
        var left = ParseAnd();
        while (Peek().Kind == TokenKind.Or)
        {
            Next();
            left = new OrNode(left, ParseAnd());
        }

        return left;
    }

    private FilterNode ParseAnd()
    {
        var left = ParseUnary();
        while (Peek().Kind == TokenKind.And)
        {
            Next();
            left = new AndNode(left, ParseUnary());
        }

        return left;
    }

    private FilterNode ParseUnary()
    {
        var token = Peek();
        if (token.Kind == TokenKind.Not)
        {
            Next();
            Enter(token);
            var operand = ParseUnary();
            _depth--;
            return new NotNode(operand, token.Position);
        }

        return ParsePrimary();
    }

    private FilterNode ParsePrimary()
    {
        var token = Next();
        switch (token.Kind)
        {
            case TokenKind.LeftParen:
            {
                Enter(token);
                var inner = ParseOr();
                _depth--;
                var close = Next();
                if (close.Kind != TokenKind.RightParen)
                {
                    throw Error(close.Position, $"expected ')' to close the '(' at position {token.Position}, found {Describe(close)}");
                }

                return inner;
            }

            case TokenKind.Identifier when string.Equals(token.Text, "has", StringComparison.OrdinalIgnoreCase) && Peek().Kind == TokenKind.LeftParen:
            {
                CountComparison(token);
                Next();
                var field = ParseField(Next(), forHas: true);
                var close = Next();
                if (close.Kind != TokenKind.RightParen)
                {
                    throw Error(close.Position, $"expected ')' after the field of has(, found {Describe(close)}");
                }

                return new HasNode(field, token.Position);
            }

            case TokenKind.Identifier:
            {
                CountComparison(token);
                var field = ParseField(token, forHas: false);
                var op = Next();
                if (op.Kind == TokenKind.In)
                {
                    return new InNode(field, ParseList(field));
                }

                if (op.Kind == TokenKind.Not && Peek().Kind == TokenKind.In)
                {
                    Next();
                    return new NotNode(new InNode(field, ParseList(field)), op.Position);
                }

                if (op.Kind != TokenKind.Operator)
                {
                    throw Error(op.Position, $"expected a comparison (=, !=, <, <=, >, >=) or IN after '{token.Text}', found {Describe(op)}");
                }

                var value = ParseValue(field, Next(), op.Text);
                var comparison = op.Text switch
                {
                    "=" or "==" => ComparisonOperator.Equal,
                    "!=" or "<>" => ComparisonOperator.NotEqual,
                    "<" => ComparisonOperator.Less,
                    "<=" => ComparisonOperator.LessOrEqual,
                    ">" => ComparisonOperator.Greater,
                    _ => ComparisonOperator.GreaterOrEqual,
                };
                if (comparison is not (ComparisonOperator.Equal or ComparisonOperator.NotEqual) && value.Value is bool)
                {
                    throw Error(value.Position, $"'{op.Text}' does not compare booleans; use = or !=");
                }

                return new ComparisonNode(field, comparison, value);
            }

            default:
                throw Error(token.Position, token.Kind == TokenKind.End
                    ? "the filter ends where a condition was expected"
                    : $"expected a field, NOT, has( or '(', found {Describe(token)}");
        }
    }

    private void CountComparison(Token token)
    {
        if (++_comparisons > MaxComparisons)
        {
            throw Error(token.Position, $"the filter has more than {MaxComparisons} comparisons; the limit is {MaxComparisons}");
        }
    }

    private FieldRef ParseField(Token token, bool forHas)
    {
        if (token.Kind != TokenKind.Identifier)
        {
            throw Error(token.Position, $"expected a field, found {Describe(token)}");
        }

        var name = token.Text;
        // labels."key with spaces" / metadata.'x'
        if (name.EndsWith('.') && Peek().Kind == TokenKind.String)
        {
            name += Next().Text;
        }

        var field = ResolveField(name, _target, token.Position)
            ?? throw Error(token.Position, $"unknown field '{name}'; {TargetName(_target)} have {FieldNames(_target)}");
        if (forHas && field.Source == FieldSource.Attribute)
        {
            throw Error(token.Position, $"has() takes labels.KEY, metadata.KEY or metrics.KEY, not '{name}'");
        }

        return field;
    }

    private List<FilterValue> ParseList(FieldRef field)
    {
        var open = Next();
        if (open.Kind != TokenKind.LeftParen)
        {
            throw Error(open.Position, $"expected '(' after IN, found {Describe(open)}");
        }

        var values = new List<FilterValue>();
        while (true)
        {
            values.Add(ParseValue(field, Next(), "IN"));
            var separator = Next();
            if (separator.Kind == TokenKind.RightParen)
            {
                return values;
            }

            if (separator.Kind != TokenKind.Comma)
            {
                throw Error(separator.Position, $"expected ',' or ')' in the IN list, found {Describe(separator)}");
            }
        }
    }

    private FilterValue ParseValue(FieldRef field, Token token, string after)
    {
        object value = token.Kind switch
        {
            TokenKind.String => token.Text,
            TokenKind.Number => double.Parse(token.Text, NumberStyles.Float, CultureInfo.InvariantCulture),
            TokenKind.Identifier when string.Equals(token.Text, "true", StringComparison.OrdinalIgnoreCase) => true,
            TokenKind.Identifier when string.Equals(token.Text, "false", StringComparison.OrdinalIgnoreCase) => false,
            TokenKind.Identifier => throw Error(token.Position, $"expected a value after {after}, found '{token.Text}'; quote text values: '{token.Text}'"),
            _ => throw Error(token.Position, $"expected a value after {after}, found {Describe(token)}"),
        };

        if (field.Source == FieldSource.Label && value is not string)
        {
            throw Error(token.Position, $"labels are text; quote the value: '{token.Text}'");
        }

        if (field.Source == FieldSource.Metric && value is not double)
        {
            throw Error(token.Position, $"metrics.{field.Key} is a number; compare it with a number");
        }

        if (field.Attribute is { } attribute)
        {
            value = AttributeValue(attribute, value, token);
        }

        return new FilterValue(value, token.Position);
    }

    private object AttributeValue(SearchAttribute attribute, object value, Token token)
    {
        switch (attribute)
        {
            case SearchAttribute.Framework:
                if (value is string framework && Frameworks.TryGetValue(framework, out var f))
                {
                    return (long)f;
                }

                throw Error(token.Position, $"framework must be one of {string.Join(", ", Frameworks.Keys)}; found {Describe(token)}");
            case SearchAttribute.Status:
                if (value is string status && Statuses.TryGetValue(status, out var s))
                {
                    return (long)s;
                }

                throw Error(token.Position, $"status must be one of running, finished, failed, killed; found {Describe(token)}");
            case SearchAttribute.CreatedAt or SearchAttribute.UpdatedAt:
                if (value is string text && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
                {
                    return time;
                }

                throw Error(token.Position, $"{token.Text} is not a time; write it as '2024-05-01T12:00:00Z'");
            default:
                return value is string ? value : throw Error(token.Position, $"'{attribute.ToString().ToLowerInvariant()}' is text; quote the value");
        }
    }

    private static readonly Dictionary<string, Framework> Frameworks = new(StringComparer.OrdinalIgnoreCase)
    {
        ["unknown"] = Framework.Unknown,
        ["pytorch"] = Framework.PyTorch,
        ["keras"] = Framework.Keras,
        ["tensorflow"] = Framework.TensorFlow,
        ["jax"] = Framework.Jax,
        ["sklearn"] = Framework.Sklearn,
        ["xgboost"] = Framework.XGBoost,
        ["transformers"] = Framework.Transformers,
        ["onnx"] = Framework.Onnx,
    };

    private static readonly Dictionary<string, ExperimentStatus> Statuses = new(StringComparer.OrdinalIgnoreCase)
    {
        ["running"] = ExperimentStatus.Running,
        ["finished"] = ExperimentStatus.Finished,
        ["failed"] = ExperimentStatus.Failed,
        ["killed"] = ExperimentStatus.Killed,
    };

    private void Enter(Token token)
    {
        if (++_depth > MaxDepth)
        {
            throw Error(token.Position, $"the filter nests deeper than {MaxDepth} levels");
        }
    }

    private Token Peek() => _tokens[_index];

    private Token Next()
    {
        var token = _tokens[_index];
        if (token.Kind != TokenKind.End)
        {
            _index++;
        }

        return token;
    }

    private ModelBoxException Error(int position, string message) =>
        ModelBoxException.InvalidArgument($"{_field}: {message} at position {position}");

    private static string TargetName(SearchTarget target) => target switch
    {
        SearchTarget.Experiments => "experiments",
        SearchTarget.Models => "models",
        _ => "model versions",
    };

    private static string Describe(Token token) => token.Kind switch
    {
        TokenKind.End => "the end of the filter",
        TokenKind.String => $"'{token.Text}'",
        _ => $"'{token.Text}'",
    };

    private List<Token> Tokenize()
    {
        var tokens = new List<Token>();
        var i = 0;
        while (true)
        {
            while (i < _text.Length && char.IsWhiteSpace(_text[i]))
            {
                i++;
            }

            if (i >= _text.Length)
            {
                tokens.Add(new Token(TokenKind.End, string.Empty, _text.Length + 1));
                return tokens;
            }

            var start = i;
            var c = _text[i];
            var position = start + 1;
            if (c == '(')
            {
                tokens.Add(new Token(TokenKind.LeftParen, "(", position));
                i++;
            }
            else if (c == ')')
            {
                tokens.Add(new Token(TokenKind.RightParen, ")", position));
                i++;
            }
            else if (c == ',')
            {
                tokens.Add(new Token(TokenKind.Comma, ",", position));
                i++;
            }
            else if (c is '=' or '!' or '<' or '>')
            {
                var two = i + 1 < _text.Length ? _text.Substring(i, 2) : null;
                if (two is "==" or "!=" or "<=" or ">=" or "<>")
                {
                    tokens.Add(new Token(TokenKind.Operator, two, position));
                    i += 2;
                }
                else if (c == '!')
                {
                    throw Error(position, "'!' must be followed by '=' (use NOT to negate)");
                }
                else
                {
                    tokens.Add(new Token(TokenKind.Operator, c.ToString(), position));
                    i++;
                }
            }
            else if (c is '\'' or '"')
            {
                var text = new StringBuilder();
                i++;
                while (true)
                {
                    if (i >= _text.Length)
                    {
                        throw Error(position, "the string that starts here is not closed");
                    }

                    if (_text[i] == c)
                    {
                        // A doubled quote is the quote itself: 'it''s'.
                        if (i + 1 < _text.Length && _text[i + 1] == c)
                        {
                            text.Append(c);
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    text.Append(_text[i++]);
                }

                tokens.Add(new Token(TokenKind.String, text.ToString(), position));
            }
            else if (char.IsAsciiDigit(c) || ((c is '-' or '+' or '.') && i + 1 < _text.Length && (char.IsAsciiDigit(_text[i + 1]) || _text[i + 1] == '.')))
            {
                i++;
                while (i < _text.Length && (char.IsAsciiLetterOrDigit(_text[i]) || _text[i] is '.' || (_text[i] is '-' or '+' && _text[i - 1] is 'e' or 'E')))
                {
                    i++;
                }

                var number = _text[start..i];
                if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) || !double.IsFinite(parsed))
                {
                    throw Error(position, $"'{number}' is not a number");
                }

                tokens.Add(new Token(TokenKind.Number, number, position));
            }
            else if (char.IsAsciiLetter(c) || c == '_')
            {
                i++;
                while (i < _text.Length && (char.IsAsciiLetterOrDigit(_text[i]) || _text[i] is '_' or '.' or '-' or '/'))
                {
                    i++;
                }

                var word = _text[start..i];
                var kind = word.ToUpperInvariant() switch
                {
                    "AND" => TokenKind.And,
                    "OR" => TokenKind.Or,
                    "NOT" => TokenKind.Not,
                    "IN" => TokenKind.In,
                    _ => TokenKind.Identifier,
                };
                tokens.Add(new Token(kind, word, position));
            }
            else
            {
                throw Error(position, $"unexpected character '{c}'");
            }
        }
    }

    private enum TokenKind
    {
        Identifier,
        String,
        Number,
        Operator,
        LeftParen,
        RightParen,
        Comma,
        And,
        Or,
        Not,
        In,
        End,
    }

    private readonly record struct Token(TokenKind Kind, string Text, int Position);
}
