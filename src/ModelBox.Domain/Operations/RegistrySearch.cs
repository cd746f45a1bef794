using ModelBox.Domain.Search;
using ModelBox.Domain.Storage;

namespace ModelBox.Domain.Operations;

/// <summary>Search over experiments, models and model versions (docs/search.md), and listings filtered by a label selector.</summary>
public sealed class RegistrySearch(IRegistryStore store)
{
    /// <summary>A search; only in the <paramref name="readable"/> subtrees when given (what the caller may read).</summary>
    public Task<Page<Experiment>> SearchExperimentsAsync(
        string? @namespace, bool recursive, string? filter, string? orderBy, PageRequest page, IReadOnlyList<NamespaceScope>? readable,
        CancellationToken cancellationToken = default) =>
        store.SearchExperimentsAsync(
            SearchQueries.Build(SearchTarget.Experiments, @namespace, filter, orderBy, recursive: recursive) with { Readable = readable }, page, cancellationToken);

    /// <summary>A search; only in the <paramref name="readable"/> subtrees when given (what the caller may read).</summary>
    public Task<Page<Model>> SearchModelsAsync(
        string? @namespace, bool recursive, string? filter, string? orderBy, PageRequest page, IReadOnlyList<NamespaceScope>? readable,
        CancellationToken cancellationToken = default) =>
        store.SearchModelsAsync(
            SearchQueries.Build(SearchTarget.Models, @namespace, filter, orderBy, recursive: recursive) with { Readable = readable }, page, cancellationToken);

    /// <summary>A search; only in the <paramref name="readable"/> subtrees when given (what the caller may read).</summary>
    public Task<Page<ModelVersion>> SearchModelVersionsAsync(
        string? @namespace, bool recursive, string? filter, string? orderBy, PageRequest page, IReadOnlyList<NamespaceScope>? readable,
        CancellationToken cancellationToken = default) =>
        store.SearchModelVersionsAsync(
            SearchQueries.Build(SearchTarget.ModelVersions, @namespace, filter, orderBy, recursive: recursive) with { Readable = readable }, page, cancellationToken);

    /// <summary>
    /// Experiments matching a filter tree another protocol built (MLflow's run search), in an order as <c>order_by</c>
    /// spells it; <paramref name="scope"/> ties page tokens to the request that made them.
    /// </summary>
    public Task<Page<Experiment>> SearchExperimentsAsync(
        FilterNode? filter, string? orderBy, string scope, PageRequest page, CancellationToken cancellationToken = default) =>
        store.SearchExperimentsAsync(SearchQueries.Build(SearchTarget.Experiments, null, null, orderBy, filter, scope), page, cancellationToken);

    /// <summary>ListExperiments with a label selector: the same order (newest first), through the search path.</summary>
    public Task<Page<Experiment>> ListExperimentsAsync(
        string? @namespace, bool recursive, string selector, PageRequest page, CancellationToken cancellationToken = default) =>
        store.SearchExperimentsAsync(
            SearchQueries.Build(
                SearchTarget.Experiments, Validation.Namespace(@namespace), null, "created_at desc", LabelSelector.Parse(selector), selector, recursive),
            page,
            cancellationToken);

    public Task<Page<Model>> ListModelsAsync(
        string? @namespace, bool recursive, string selector, PageRequest page, CancellationToken cancellationToken = default) =>
        store.SearchModelsAsync(
            SearchQueries.Build(
                SearchTarget.Models, Validation.Namespace(@namespace), null, "created_at desc", LabelSelector.Parse(selector), selector, recursive),
            page,
            cancellationToken);

    /// <summary>ListModelVersions with a label selector: versions of one model, oldest first.</summary>
    public Task<Page<ModelVersion>> ListModelVersionsAsync(string modelId, string selector, PageRequest page, CancellationToken cancellationToken = default)
    {
        var scope = new ComparisonNode(
            new FieldRef(FieldSource.Attribute, SearchAttribute.ModelId, "model_id", 0), ComparisonOperator.Equal, new FilterValue(modelId, 0));
        var selection = LabelSelector.Parse(selector);
        FilterNode filter = selection is null ? scope : new AndNode(scope, selection);
        return store.SearchModelVersionsAsync(
            SearchQueries.Build(SearchTarget.ModelVersions, null, null, "created_at asc", filter, modelId + "\u001f" + selector), page, cancellationToken);
    }
}
