using System.Globalization;
using System.Text;
using Dapper;
using ModelBox.Domain;
using ModelBox.Domain.Search;
using static ModelBox.Storage.Relational.RelationalValues;

namespace ModelBox.Storage.Relational;

// Search: the domain's filter tree becomes one parameterised SQL statement (never user text in the SQL), sorted by one
// attribute and the id, paged by keyset. The page token carries the query's fingerprint, so a token of another query is refused.
public sealed partial class RelationalMetadataStore
{
    public async Task<Page<Experiment>> SearchExperimentsAsync(SearchQuery query, PageRequest page, CancellationToken cancellationToken = default)
    {
        var (sql, parameters) = RelationalSearchTranslator.Translate(_dialect, query, page, ExperimentColumns);
        return await ReadAsync(
            async session =>
            {
                var rows = await session.QueryOnceAsync<ExperimentRow>(sql, parameters, cancellationToken).ConfigureAwait(false);
                var items = ToPage(rows, page, row => row, row => RelationalSearchTranslator.TokenKeys(query, row.Name, row.CreatedAt, row.UpdatedAt, row.Id));
                var metadata = await LoadMetadataAsync(session, items.Items.Select(row => row.Id).ToList(), cancellationToken).ConfigureAwait(false);
                return new Page<Experiment>(items.Items.Select(row => row.ToExperiment(MetadataOf(metadata, row.Id))).ToList(), items.NextPageToken);
            },
            cancellationToken).ConfigureAwait(false);
    }

    public async Task<Page<Model>> SearchModelsAsync(SearchQuery query, PageRequest page, CancellationToken cancellationToken = default)
    {
        var (sql, parameters) = RelationalSearchTranslator.Translate(_dialect, query, page, ModelColumns);
        return await ReadAsync(
            async session =>
            {
                var rows = await session.QueryOnceAsync<ModelRow>(sql, parameters, cancellationToken).ConfigureAwait(false);
                var items = ToPage(rows, page, row => row, row => RelationalSearchTranslator.TokenKeys(query, row.Name, row.CreatedAt, row.UpdatedAt, row.Id));
                var metadata = await LoadMetadataAsync(session, items.Items.Select(row => row.Id).ToList(), cancellationToken).ConfigureAwait(false);
                return new Page<Model>(items.Items.Select(row => row.ToModel(MetadataOf(metadata, row.Id))).ToList(), items.NextPageToken);
            },
            cancellationToken).ConfigureAwait(false);
    }

    public async Task<Page<ModelVersion>> SearchModelVersionsAsync(SearchQuery query, PageRequest page, CancellationToken cancellationToken = default)
    {
        var (sql, parameters) = RelationalSearchTranslator.Translate(_dialect, query, page, ModelVersionColumns);
        return await ReadAsync(
            async session =>
            {
                var rows = await session.QueryOnceAsync<ModelVersionRow>(sql, parameters, cancellationToken).ConfigureAwait(false);
                var items = ToPage(rows, page, row => row, row => RelationalSearchTranslator.TokenKeys(query, row.Name, row.CreatedAt, row.UpdatedAt, row.Id));
                var metadata = await LoadMetadataAsync(session, items.Items.Select(row => row.Id).ToList(), cancellationToken).ConfigureAwait(false);
                return new Page<ModelVersion>(items.Items.Select(row => row.ToModelVersion(MetadataOf(metadata, row.Id))).ToList(), items.NextPageToken);
            },
            cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// Translates a <see cref="SearchQuery"/> into one parameterised statement of the dialect. The same semantics on every
/// database: text compares byte by byte, a condition on a missing field is false (never NULL, so NOT and OR behave as
/// written), metadata compares by JSON type, and a metric is the last point of its series.
/// </summary>
internal static class RelationalSearchTranslator
{
    public static (string Sql, DynamicParameters Parameters) Translate(SqlDialect dialect, SearchQuery query, PageRequest page, string columns)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(page);
        if (page.Limit is <= 0)
        {
            throw PageTokens.LimitNotPositive();
        }

        var builder = new Builder(dialect, query.Target);
        var sql = new StringBuilder("SELECT ");
        sql.Append(string.Join(", ", columns.Split(", ").Select(column => "o." + column)));
        sql.Append(query.Target switch
        {
            SearchTarget.Experiments => " FROM experiments o WHERE o.deleted_at IS NULL",
            SearchTarget.Models => " FROM models o WHERE o.deleted_at IS NULL",
            _ => " FROM model_versions o JOIN models m ON m.id = o.model_id WHERE o.deleted_at IS NULL AND m.deleted_at IS NULL",
        });
        if (query.Namespace is { } scope)
        {
            sql.Append(" AND ");
            AppendInScope(sql, builder, scope);
        }

        if (query.Readable is { } readable)
        {
            sql.Append(readable.Count == 0 ? " AND 1 = 0" : " AND (");
            for (var i = 0; i < readable.Count; i++)
            {
                sql.Append(i == 0 ? string.Empty : " OR ");
                AppendInScope(sql, builder, readable[i]);
            }

            sql.Append(readable.Count == 0 ? string.Empty : ")");
        }

        if (query.Filter is not null)
        {
            sql.Append(" AND ");
            builder.Append(sql, query.Filter);
        }

        var sortColumn = builder.SortColumn(query.Order.Attribute);
        var direction = query.Order.Descending ? "DESC" : "ASC";
        if (!string.IsNullOrEmpty(page.Token))
        {
            var keys = PageTokens.Decode(page.Token);
            if (keys.Length != 3 || !string.Equals(keys[0], query.Fingerprint, StringComparison.Ordinal))
            {
                throw PageTokens.OfAnotherSearch();
            }

            object after = query.Order.Attribute == SearchAttribute.Name
                ? keys[1]
                : TryParseKey(keys[1], out var micros) ? micros : throw PageTokens.OfAnotherSearch();
            sql.Append(" AND ").Append(dialect.KeysetAfter(!query.Order.Descending, (sortColumn, builder.Add(after)), ("o.id", builder.Add(keys[2]))));
        }

        sql.Append(" ORDER BY ").Append(sortColumn).Append(' ').Append(direction).Append(", o.id ").Append(direction);
        sql.Append(" LIMIT ").Append(builder.Add(page.Limit is { } limit ? (long)limit + 1 : long.MaxValue));
        return (sql.ToString(), builder.Parameters);
    }

    /// <summary>The keyset of a row: fingerprint, sort value, id.</summary>
    public static string[] TokenKeys(SearchQuery query, string name, long createdAt, long updatedAt, string id) =>
    [
        query.Fingerprint,
        query.Order.Attribute switch
        {
            SearchAttribute.Name => name,
            SearchAttribute.UpdatedAt => Key(updatedAt),
            _ => Key(createdAt),
        },
        id,
    ];

    /// <summary>The namespace column in a scope: equal to its root, or (a subtree) in the byte-order range below it too.</summary>
    private static void AppendInScope(StringBuilder sql, Builder builder, NamespaceScope scope)
    {
        var column = builder.Column(SearchAttribute.Namespace);
        sql.Append('(').Append(column).Append(" = ").Append(builder.Add(scope.Root));
        if (scope.Recursive)
        {
            var (from, before) = scope.DescendantRange;
            sql.Append(" OR (").Append(column).Append(" >= ").Append(builder.Add(from))
                .Append(" AND ").Append(column).Append(" < ").Append(builder.Add(before)).Append(')');
        }

        sql.Append(')');
    }

    private sealed class Builder(SqlDialect dialect, SearchTarget target)
    {
        public DynamicParameters Parameters { get; } = new();

        private int _count;

        public void Append(StringBuilder sql, FilterNode node)
        {
            switch (node)
            {
                case AndNode and:
                    sql.Append('(');
                    Append(sql, and.Left);
                    sql.Append(" AND ");
                    Append(sql, and.Right);
                    sql.Append(')');
                    break;
                case OrNode or:
                    sql.Append('(');
                    Append(sql, or.Left);
                    sql.Append(" OR ");
                    Append(sql, or.Right);
                    sql.Append(')');
                    break;
                case NotNode not:
                    sql.Append("(NOT ");
                    Append(sql, not.Operand);
                    sql.Append(')');
                    break;
                case HasNode has:
                    sql.Append(Exists(has.Field, condition: null));
                    break;
                case ComparisonNode comparison when comparison.Operator == ComparisonOperator.NotEqual:
                    // Two-valued logic: "!=" is NOT "=", so objects without the field match it.
                    sql.Append("(NOT ");
                    Append(sql, comparison with { Operator = ComparisonOperator.Equal });
                    sql.Append(')');
                    break;
                case ComparisonNode comparison:
                    sql.Append(Compare(comparison.Field, Operator(comparison.Operator), [comparison.Value], isList: false));
                    break;
                case InNode @in:
                    sql.Append(Compare(@in.Field, "IN", @in.Values, isList: true));
                    break;
                default:
                    throw new InvalidOperationException($"unknown filter node {node.GetType().Name}");
            }
        }

        /// <summary>A condition that is never NULL (so NOT and OR behave as written).</summary>
        private string Compare(FieldRef field, string op, IReadOnlyList<FilterValue> values, bool isList)
        {
            switch (field.Source)
            {
                case FieldSource.Attribute:
                {
                    var attribute = field.Attribute!.Value;
                    var column = Column(attribute);
                    // Text attributes compare byte by byte; a NULL column (none is nullable today) would still be false.
                    var left = values[0].Value is string ? dialect.BinaryText(column) : column;
                    return $"({left} {op} {Values(values, isList, AttributeValue)})";
                }

                case FieldSource.Label:
                    return Exists(field, $"{dialect.BinaryText("l.label_value")} {op} {Values(values, isList, value => value.Value)}");
                case FieldSource.Metadata:
                {
                    // JSON values compare by type: numbers with numbers, text with text, booleans with booleans. An IN list
                    // of mixed types matches a value equal to any of the literals of its own type.
                    var conditions = values
                        .GroupBy(value => value.Value switch { double => 0, string => 1, _ => 2 })
                        .OrderBy(group => group.Key)
                        .Select(group =>
                        {
                            var typed = group.ToList();
                            var extracted = group.Key switch
                            {
                                0 => dialect.JsonNumber("d.value_json"),
                                1 => dialect.JsonString("d.value_json"),
                                _ => dialect.JsonBoolean("d.value_json"),
                            };
                            return $"({extracted}) {op} {Values(typed, isList, MetadataValue)}";
                        })
                        .ToList();
                    return Exists(field, conditions.Count == 1 ? conditions[0] : "(" + string.Join(" OR ", conditions) + ")");
                }

                default:
                {
                    // The last value of the series: highest step, then latest time, then last logged. Missing is false.
                    // Non-finite numbers are spelled in txt (see PointRow); infinities compare, NaN and tensors do not.
                    var (positive, negative) = dialect.InfinityLiterals;
                    var number = "CASE WHEN p.num IS NOT NULL THEN p.num WHEN p.kind IN (1, 2) AND p.txt = 'Infinity' THEN " + positive
                        + " WHEN p.kind IN (1, 2) AND p.txt = '-Infinity' THEN " + negative + " END";
                    return $"(((SELECT {number} FROM metric_series s JOIN metric_points p ON p.series_id = s.id "
                        + $"WHERE s.parent_id = o.id AND s.\"key\" = {Add(field.Key)} ORDER BY p.step DESC, p.\"time\" DESC, p.seq DESC LIMIT 1) "
                        + $"{op} {Values(values, isList, value => value.Value)}) IS TRUE)";
                }
            }
        }

        private string Exists(FieldRef field, string? condition)
        {
            var key = Add(field.Key);
            var (table, match) = field.Source switch
            {
                FieldSource.Label => ("object_labels l", $"l.object_id = o.id AND l.label_key = {key}"),
                FieldSource.Metadata => ("object_metadata d", $"d.object_id = o.id AND d.\"key\" = {key}"),
                _ => ("metric_series s", $"s.parent_id = o.id AND s.\"key\" = {key}"),
            };
            return $"EXISTS (SELECT 1 FROM {table} WHERE {match}{(condition is null ? string.Empty : " AND " + condition)})";
        }

        private string Values(IReadOnlyList<FilterValue> values, bool isList, Func<FilterValue, object> convert) =>
            values.Count == 1 && !isList
                ? Add(convert(values[0]))
                : "(" + string.Join(", ", values.Select(value => Add(convert(value)))) + ")";

        private static object AttributeValue(FilterValue value) => value.Value switch
        {
            DateTimeOffset time => ToMicros(time),
            _ => value.Value,
        };

        // Booleans are compared as the JSON text the dialect extracts ('true', 'false').
        private static object MetadataValue(FilterValue value) => value.Value switch
        {
            bool b => b ? "true" : "false",
            _ => value.Value,
        };

        private static string Operator(ComparisonOperator op) => op switch
        {
            ComparisonOperator.Equal => "=",
            ComparisonOperator.Less => "<",
            ComparisonOperator.LessOrEqual => "<=",
            ComparisonOperator.Greater => ">",
            ComparisonOperator.GreaterOrEqual => ">=",
            _ => "<>",
        };

        /// <summary>The sort expression: names order byte by byte on every database.</summary>
        public string SortColumn(SearchAttribute attribute) =>
            attribute == SearchAttribute.Name ? dialect.BinaryText(Column(attribute)) : Column(attribute);

        public string Column(SearchAttribute attribute)
        {
            var versions = target == SearchTarget.ModelVersions;
            return attribute switch
            {
                SearchAttribute.Id => "o.id",
                SearchAttribute.Name => "o.name",
                SearchAttribute.Namespace => versions ? "m.namespace" : "o.namespace",
                SearchAttribute.Owner => versions ? "m.owner" : "o.owner",
                SearchAttribute.Task => versions ? "m.task" : "o.task",
                SearchAttribute.Framework => "o.framework",
                SearchAttribute.Status => "o.status",
                SearchAttribute.Description => "o.description",
                SearchAttribute.Version => "o.version",
                SearchAttribute.ModelId => "o.model_id",
                SearchAttribute.ModelName => "m.name",
                SearchAttribute.CreatedAt => "o.created_at",
                SearchAttribute.UpdatedAt => "o.updated_at",
                _ => throw new ArgumentOutOfRangeException(nameof(attribute)),
            };
        }

        public string Add(object value)
        {
            var name = "@p" + _count.ToString(CultureInfo.InvariantCulture);
            _count++;
            Parameters.Add(name, value);
            return name;
        }
    }
}
