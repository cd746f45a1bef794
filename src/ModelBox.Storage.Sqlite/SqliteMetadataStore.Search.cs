using System.Globalization;
using System.Text;
using Dapper;
using ModelBox.Domain;
using ModelBox.Domain.Search;
using static ModelBox.Storage.Sqlite.SqliteValues;

namespace ModelBox.Storage.Sqlite;

// Search: the domain's filter tree becomes one parameterised SQL statement (never user text in the SQL), sorted by one
// attribute and the id, paged by keyset. The page token carries the query's fingerprint, so a token of another query is refused.
public sealed partial class SqliteMetadataStore
{
    public async Task<Page<Experiment>> SearchExperimentsAsync(SearchQuery query, PageRequest page, CancellationToken cancellationToken = default)
    {
        var (sql, parameters) = SqliteSearchTranslator.Translate(query, page, ExperimentColumns);
        return await ReadAsync(
            async (connection, transaction) =>
            {
                var rows = (await connection.QueryAsync<ExperimentRow>(Command(sql, parameters, transaction, cancellationToken)).ConfigureAwait(false)).AsList();
                var items = ToPage(rows, page, row => row, row => SqliteSearchTranslator.TokenKeys(query, row.Name, row.CreatedAt, row.UpdatedAt, row.Id));
                var metadata = await LoadMetadataAsync(connection, transaction, items.Items.Select(row => row.Id).ToList(), cancellationToken).ConfigureAwait(false);
                return new Page<Experiment>(items.Items.Select(row => row.ToExperiment(MetadataOf(metadata, row.Id))).ToList(), items.NextPageToken);
            },
            cancellationToken).ConfigureAwait(false);
    }

    public async Task<Page<Model>> SearchModelsAsync(SearchQuery query, PageRequest page, CancellationToken cancellationToken = default)
    {
        var (sql, parameters) = SqliteSearchTranslator.Translate(query, page, ModelColumns);
        return await ReadAsync(
            async (connection, transaction) =>
            {
                var rows = (await connection.QueryAsync<ModelRow>(Command(sql, parameters, transaction, cancellationToken)).ConfigureAwait(false)).AsList();
                var items = ToPage(rows, page, row => row, row => SqliteSearchTranslator.TokenKeys(query, row.Name, row.CreatedAt, row.UpdatedAt, row.Id));
                var metadata = await LoadMetadataAsync(connection, transaction, items.Items.Select(row => row.Id).ToList(), cancellationToken).ConfigureAwait(false);
                return new Page<Model>(items.Items.Select(row => row.ToModel(MetadataOf(metadata, row.Id))).ToList(), items.NextPageToken);
            },
            cancellationToken).ConfigureAwait(false);
    }

    public async Task<Page<ModelVersion>> SearchModelVersionsAsync(SearchQuery query, PageRequest page, CancellationToken cancellationToken = default)
    {
        var (sql, parameters) = SqliteSearchTranslator.Translate(query, page, ModelVersionColumns);
        return await ReadAsync(
            async (connection, transaction) =>
            {
                var rows = (await connection.QueryAsync<ModelVersionRow>(Command(sql, parameters, transaction, cancellationToken)).ConfigureAwait(false)).AsList();
                var items = ToPage(rows, page, row => row, row => SqliteSearchTranslator.TokenKeys(query, row.Name, row.CreatedAt, row.UpdatedAt, row.Id));
                var metadata = await LoadMetadataAsync(connection, transaction, items.Items.Select(row => row.Id).ToList(), cancellationToken).ConfigureAwait(false);
                return new Page<ModelVersion>(items.Items.Select(row => row.ToModelVersion(MetadataOf(metadata, row.Id))).ToList(), items.NextPageToken);
            },
            cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Translates a <see cref="SearchQuery"/> into SQLite SQL with parameters.</summary>
internal static class SqliteSearchTranslator
{
    public static (string Sql, DynamicParameters Parameters) Translate(SearchQuery query, PageRequest page, string columns)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(page);
        if (page.Limit is <= 0)
        {
            throw PageTokens.LimitNotPositive();
        }

        var parameters = new DynamicParameters();
        var sql = new StringBuilder("SELECT ");
        sql.Append(string.Join(", ", columns.Split(", ").Select(column => "o." + column)));
        sql.Append(query.Target switch
        {
            SearchTarget.Experiments => " FROM experiments o WHERE o.deleted_at IS NULL",
            SearchTarget.Models => " FROM models o WHERE o.deleted_at IS NULL",
            _ => " FROM model_versions o JOIN models m ON m.id = o.model_id WHERE o.deleted_at IS NULL AND m.deleted_at IS NULL",
        });
        if (query.Namespace is not null)
        {
            sql.Append(" AND ").Append(Column(query.Target, SearchAttribute.Namespace)).Append(" = ").Append(Add(parameters, query.Namespace));
        }

        if (query.Filter is not null)
        {
            sql.Append(" AND ");
            Append(sql, parameters, query.Target, query.Filter);
        }

        var sortColumn = Column(query.Target, query.Order.Attribute);
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
            sql.Append(" AND (").Append(sortColumn).Append(", o.id) ").Append(query.Order.Descending ? "<" : ">")
                .Append(" (").Append(Add(parameters, after)).Append(", ").Append(Add(parameters, keys[2])).Append(')');
        }

        sql.Append(" ORDER BY ").Append(sortColumn).Append(' ').Append(direction).Append(", o.id ").Append(direction);
        sql.Append(" LIMIT ").Append(Add(parameters, page.Limit is { } limit ? (long)limit + 1 : -1L));
        return (sql.ToString(), parameters);
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

    private static void Append(StringBuilder sql, DynamicParameters parameters, SearchTarget target, FilterNode node)
    {
        switch (node)
        {
            case AndNode and:
                sql.Append('(');
                Append(sql, parameters, target, and.Left);
                sql.Append(" AND ");
                Append(sql, parameters, target, and.Right);
                sql.Append(')');
                break;
            case OrNode or:
                sql.Append('(');
                Append(sql, parameters, target, or.Left);
                sql.Append(" OR ");
                Append(sql, parameters, target, or.Right);
                sql.Append(')');
                break;
            case NotNode not:
                sql.Append("(NOT ");
                Append(sql, parameters, target, not.Operand);
                sql.Append(')');
                break;
            case HasNode has:
                sql.Append(Exists(parameters, has.Field, condition: null));
                break;
            case ComparisonNode comparison when comparison.Operator == ComparisonOperator.NotEqual:
                // Two-valued logic: "!=" is NOT "=", so objects without the field match it.
                sql.Append("(NOT ");
                Append(sql, parameters, target, comparison with { Operator = ComparisonOperator.Equal });
                sql.Append(')');
                break;
            case ComparisonNode comparison:
                sql.Append(Compare(parameters, target, comparison.Field, Operator(comparison.Operator), [comparison.Value]));
                break;
            case InNode @in:
                sql.Append(Compare(parameters, target, @in.Field, "IN", @in.Values));
                break;
            default:
                throw new InvalidOperationException($"unknown filter node {node.GetType().Name}");
        }
    }

    /// <summary>A condition that is never NULL (so NOT and OR behave as written).</summary>
    private static string Compare(DynamicParameters parameters, SearchTarget target, FieldRef field, string op, IReadOnlyList<FilterValue> values)
    {
        switch (field.Source)
        {
            case FieldSource.Attribute:
                return $"{Column(target, field.Attribute!.Value)} {op} {Values(parameters, values, op == "IN", AttributeValue)}";
            case FieldSource.Label:
                return Exists(parameters, field, $"l.label_value {op} {Values(parameters, values, op == "IN", value => value.Value)}");
            case FieldSource.Metadata:
            {
                // JSON values compare by type: numbers with numbers, text with text, booleans with booleans. An IN list of
                // mixed types matches a value equal to any of the literals of its own type.
                var conditions = values
                    .GroupBy(value => value.Value switch { double => 0, string => 1, _ => 2 })
                    .OrderBy(group => group.Key)
                    .Select(group =>
                    {
                        var type = group.Key switch
                        {
                            0 => "json_type(d.value_json) IN ('integer', 'real')",
                            1 => "json_type(d.value_json) = 'text'",
                            _ => "json_type(d.value_json) IN ('true', 'false')",
                        };
                        return $"({type} AND json_extract(d.value_json, '$') {op} {Values(parameters, group.ToList(), op == "IN", MetadataValue)})";
                    })
                    .ToList();
                return Exists(parameters, field, conditions.Count == 1 ? conditions[0] : "(" + string.Join(" OR ", conditions) + ")");
            }

            default:
                // The last value of the series: highest step, then latest time, then last logged. Missing is false.
                return $"COALESCE((SELECT p.num FROM metric_series s JOIN metric_points p ON p.series_id = s.id "
                    + $"WHERE s.parent_id = o.id AND s.key = {Add(parameters, field.Key)} ORDER BY p.step DESC, p.time DESC, p.seq DESC LIMIT 1) "
                    + $"{op} {Values(parameters, values, op == "IN", value => value.Value)}, 0)";
        }
    }

    private static string Exists(DynamicParameters parameters, FieldRef field, string? condition)
    {
        var key = Add(parameters, field.Key);
        var (table, match) = field.Source switch
        {
            FieldSource.Label => ("object_labels l", $"l.object_id = o.id AND l.label_key = {key}"),
            FieldSource.Metadata => ("object_metadata d", $"d.object_id = o.id AND d.key = {key}"),
            _ => ("metric_series s", $"s.parent_id = o.id AND s.key = {key}"),
        };
        return $"EXISTS (SELECT 1 FROM {table} WHERE {match}{(condition is null ? string.Empty : " AND " + condition)})";
    }

    private static string Values(DynamicParameters parameters, IReadOnlyList<FilterValue> values, bool isList, Func<FilterValue, object> convert) =>
        values.Count == 1 && !isList
            ? Add(parameters, convert(values[0]))
            : "(" + string.Join(", ", values.Select(value => Add(parameters, convert(value)))) + ")";

    private static object AttributeValue(FilterValue value) => value.Value switch
    {
        DateTimeOffset time => ToMicros(time),
        _ => value.Value,
    };

    private static object MetadataValue(FilterValue value) => value.Value switch
    {
        bool b => b ? 1L : 0L,
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

    private static string Column(SearchTarget target, SearchAttribute attribute)
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

    private static string Add(DynamicParameters parameters, object value)
    {
        var name = "@p" + parameters.ParameterNames.Count().ToString(CultureInfo.InvariantCulture);
        parameters.Add(name, value);
        return name;
    }
}
