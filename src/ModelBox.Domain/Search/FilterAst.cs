namespace ModelBox.Domain.Search;

/// <summary>What a search looks for.</summary>
public enum SearchTarget
{
    Experiments,
    Models,
    ModelVersions,
}

/// <summary>Where a field's value comes from.</summary>
public enum FieldSource
{
    /// <summary>A column of the object (or of its model, for versions): name, owner, task, framework ...</summary>
    Attribute,
    /// <summary><c>labels.KEY</c>: the label's value (text).</summary>
    Label,
    /// <summary><c>metadata.KEY</c>: the metadata value (JSON) compared as a number, text or boolean.</summary>
    Metadata,
    /// <summary><c>metrics.KEY</c>: the last logged value of the metric series (highest step, then latest time).</summary>
    Metric,
}

/// <summary>The attributes a filter and a sort can name.</summary>
public enum SearchAttribute
{
    Id,
    Name,
    Namespace,
    Owner,
    Task,
    Framework,
    Status,
    Description,
    Version,
    ModelId,
    ModelName,
    CreatedAt,
    UpdatedAt,
}

/// <summary>A field of a filter. <see cref="Key"/> is the label, metadata or metric key; <see cref="Attribute"/> is set for attributes.</summary>
public sealed record FieldRef(FieldSource Source, SearchAttribute? Attribute, string Key, int Position);

/// <summary>A comparison operator.</summary>
public enum ComparisonOperator
{
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

/// <summary>A literal: a string, a number (double), or a boolean. Attributes that are enums (framework, status) hold their number.</summary>
public sealed record FilterValue(object Value, int Position)
{
    public bool IsNumber => Value is double or long;

    public bool IsText => Value is string;
}

/// <summary>A node of a parsed filter; every node remembers where it starts (1-based character position).</summary>
public abstract record FilterNode(int Position);

/// <summary>Both sides hold.</summary>
public sealed record AndNode(FilterNode Left, FilterNode Right) : FilterNode(Left.Position);

/// <summary>Either side holds.</summary>
public sealed record OrNode(FilterNode Left, FilterNode Right) : FilterNode(Left.Position);

/// <summary>The operand does not hold.</summary>
public sealed record NotNode(FilterNode Operand, int At) : FilterNode(At);

/// <summary>
/// <c>field op value</c>. A missing field (no such label, metadata key or metric) makes every comparison false except
/// <c>!=</c>, which is exactly <c>NOT (field = value)</c>.
/// </summary>
public sealed record ComparisonNode(FieldRef Field, ComparisonOperator Operator, FilterValue Value) : FilterNode(Field.Position);

/// <summary><c>field IN (v1, v2, ...)</c>: equal to any of the values.</summary>
public sealed record InNode(FieldRef Field, IReadOnlyList<FilterValue> Values) : FilterNode(Field.Position);

/// <summary><c>has(field)</c>: the label, metadata key or metric exists.</summary>
public sealed record HasNode(FieldRef Field, int At) : FilterNode(At);

/// <summary>A sort order: an attribute and a direction.</summary>
public sealed record SearchOrder(SearchAttribute Attribute, bool Descending);

/// <summary>A validated search: what, where, which, in what order.</summary>
/// <param name="Target">Experiments, models or model versions.</param>
/// <param name="Namespace">Only this namespace (or subtree); null searches all.</param>
/// <param name="Filter">The parsed filter; null matches everything.</param>
/// <param name="Order">The sort; ties are broken by id in the same direction.</param>
/// <param name="Fingerprint">Identifies the query, so a page token of another query is refused.</param>
public sealed record SearchQuery(SearchTarget Target, NamespaceScope? Namespace, FilterNode? Filter, SearchOrder Order, string Fingerprint)
{
    /// <summary>Only objects in these subtrees (what the caller may read); null: no such restriction.</summary>
    public IReadOnlyList<NamespaceScope>? Readable { get; init; }
}
