using ModelBox.Domain.Registry;
using ModelBox.Domain.Storage;

namespace ModelBox.Domain.Operations;

/// <summary>An object with what a client sees beside its own fields: its labels and its files (empty where its kind has none).</summary>
public sealed record Detailed<T>(T Value, IReadOnlyDictionary<string, string> Labels, IReadOnlyList<FileRecord> Files);

/// <summary>A lineage graph and the labels of the experiments, models and versions in it.</summary>
public sealed record LabeledLineage(LineageGraph Graph, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Labels)
{
    public IReadOnlyDictionary<string, string> LabelsOf(string objectId) => ObjectDetails.Find(Labels, objectId, ObjectDetails.NoLabels);
}

/// <summary>
/// Reads the labels and files of objects an operation is about to return, a query per kind of detail for a whole page:
/// experiments carry labels, checkpoints files, models and model versions both.
/// </summary>
public sealed class ObjectDetails(IRegistryStore registry, IFileRecordStore files)
{
    internal static readonly IReadOnlyDictionary<string, string> NoLabels = new Dictionary<string, string>(StringComparer.Ordinal);

    public async Task<IReadOnlyList<Detailed<Experiment>>> OfAsync(IReadOnlyList<Experiment> experiments, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(experiments);
        var labels = await LabelsAsync(experiments.Select(e => e.Id).ToList(), cancellationToken).ConfigureAwait(false);
        return experiments.Select(e => new Detailed<Experiment>(e, Find(labels, e.Id, NoLabels), [])).ToList();
    }

    public async Task<IReadOnlyList<Detailed<Checkpoint>>> OfAsync(IReadOnlyList<Checkpoint> checkpoints, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoints);
        var attached = await FilesAsync(checkpoints.Select(c => c.Id).ToList(), cancellationToken).ConfigureAwait(false);
        return checkpoints.Select(c => new Detailed<Checkpoint>(c, NoLabels, Find(attached, c.Id, []))).ToList();
    }

    public Task<IReadOnlyList<Detailed<Model>>> OfAsync(IReadOnlyList<Model> models, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(models);
        return LabelsAndFilesAsync(models, m => m.Id, cancellationToken);
    }

    public Task<IReadOnlyList<Detailed<ModelVersion>>> OfAsync(IReadOnlyList<ModelVersion> versions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(versions);
        return LabelsAndFilesAsync(versions, v => v.Id, cancellationToken);
    }

    public async Task<Detailed<Experiment>> OfAsync(Experiment experiment, CancellationToken cancellationToken = default) =>
        (await OfAsync([experiment], cancellationToken).ConfigureAwait(false))[0];

    public async Task<Detailed<Checkpoint>> OfAsync(Checkpoint checkpoint, CancellationToken cancellationToken = default) =>
        (await OfAsync([checkpoint], cancellationToken).ConfigureAwait(false))[0];

    public async Task<Detailed<Model>> OfAsync(Model model, CancellationToken cancellationToken = default) =>
        (await OfAsync([model], cancellationToken).ConfigureAwait(false))[0];

    public async Task<Detailed<ModelVersion>> OfAsync(ModelVersion version, CancellationToken cancellationToken = default) =>
        (await OfAsync([version], cancellationToken).ConfigureAwait(false))[0];

    /// <summary>The labels of every experiment, model and version of a lineage graph, in one query.</summary>
    public async Task<LabeledLineage> OfAsync(LineageGraph graph, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var ids = new List<string> { graph.Version.Id, graph.Model.Id };
        ids.AddRange(graph.Ancestors.Select(a => a.Version.Id));
        ids.AddRange(graph.Descendants.Select(d => d.Id));
        if (graph.Experiment is not null)
        {
            ids.Add(graph.Experiment.Id);
        }

        return new LabeledLineage(graph, await LabelsAsync(ids, cancellationToken).ConfigureAwait(false));
    }

    internal static TValue Find<TValue>(IReadOnlyDictionary<string, TValue> byId, string id, TValue none) =>
        byId.TryGetValue(id, out var value) ? value : none;

    private async Task<IReadOnlyList<Detailed<T>>> LabelsAndFilesAsync<T>(
        IReadOnlyList<T> items, Func<T, string> id, CancellationToken cancellationToken)
    {
        var ids = items.Select(id).ToList();
        var labels = await LabelsAsync(ids, cancellationToken).ConfigureAwait(false);
        var attached = await FilesAsync(ids, cancellationToken).ConfigureAwait(false);
        return items.Select(item => new Detailed<T>(item, Find(labels, id(item), NoLabels), Find(attached, id(item), []))).ToList();
    }

    private Task<IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>> LabelsAsync(
        List<string> ids, CancellationToken cancellationToken) =>
        ids.Count == 0
            ? Task.FromResult<IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>>(
                new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal))
            : registry.GetLabelsAsync(ids, cancellationToken);

    private Task<IReadOnlyDictionary<string, IReadOnlyList<FileRecord>>> FilesAsync(List<string> ids, CancellationToken cancellationToken) =>
        files.ListFilesAsync(ids, cancellationToken);
}
