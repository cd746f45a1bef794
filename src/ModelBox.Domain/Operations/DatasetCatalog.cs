using ModelBox.Domain.Registry;
using ModelBox.Domain.Storage;

namespace ModelBox.Domain.Operations;

/// <summary>Input of <see cref="DatasetCatalog.RegisterDatasetAsync"/>: a dataset and one version of it (by digest).</summary>
public sealed record NewDataset(
    string? Namespace,
    string? Name,
    string? Description,
    string? Uri,
    string? Digest,
    IReadOnlyDictionary<string, string>? Metadata);

/// <summary>Datasets, versioned by digest. What used them is recorded by <see cref="LineageTracker"/>.</summary>
public sealed class DatasetCatalog(IRegistryStore store, TimeProvider time)
{
    public async Task<DatasetRegistration> RegisterDatasetAsync(NewDataset request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var ns = Validation.Namespace(request.Namespace);
        var name = Validation.Required(request.Name, "name");
        var digest = RegistryValidation.Digest(request.Digest);
        var uri = Validation.Description(request.Uri, "uri");
        var metadata = Validation.Metadata(request.Metadata);
        var now = Clock.Now(time);
        var datasetId = ObjectIds.Dataset(ns, name);
        var dataset = new Dataset(datasetId, ns, name, Validation.Description(request.Description), metadata, now, now);
        var version = new DatasetVersion(ObjectIds.DatasetVersion(datasetId, digest), datasetId, digest, uri, metadata, now);
        return await store.RegisterDatasetAsync(dataset, version, cancellationToken).ConfigureAwait(false);
    }

    public async Task<(Dataset Dataset, IReadOnlyList<DatasetVersion> Versions)> GetDatasetAsync(string? id, CancellationToken cancellationToken = default)
    {
        Validation.Id(id, "id", ObjectKind.Dataset);
        var dataset = await store.GetDatasetAsync(id!, cancellationToken).ConfigureAwait(false) ?? throw ModelBoxException.NotFound("dataset", id!);
        return (dataset, await store.ListDatasetVersionsAsync(id!, cancellationToken).ConfigureAwait(false));
    }

    public async Task<DatasetVersion> GetDatasetVersionAsync(string? id, CancellationToken cancellationToken = default)
    {
        Validation.Id(id, "id", ObjectKind.DatasetVersion);
        return await store.GetDatasetVersionAsync(id!, cancellationToken).ConfigureAwait(false)
            ?? throw ModelBoxException.NotFound("dataset version", id!);
    }

    /// <summary>Datasets of a namespace (and of the namespaces below it when <paramref name="recursive"/>), by name.</summary>
    public Task<Page<Dataset>> ListDatasetsAsync(string? @namespace, bool recursive, PageRequest page, CancellationToken cancellationToken = default) =>
        store.ListDatasetsAsync(NamespaceScope.From(@namespace, recursive), page, cancellationToken);
}
