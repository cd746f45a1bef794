using System.Collections.Concurrent;
using ModelBox.Domain.Storage;

namespace ModelBox.Domain.Access;

/// <summary>
/// The namespace an object lives in, for authorising calls that name an object by id. An object never changes namespace
/// (its id derives from it, or from its parent's), so answers are cached for good, in a bounded cache.
/// </summary>
public sealed class ObjectNamespaces(IMetadataStore metadata, IFileRecordStore files, IRegistryStore registry)
{
    private const int MaxCachedEntries = 100_000;
    private readonly ConcurrentDictionary<string, string> _known = new(StringComparer.Ordinal);

    /// <summary>The namespace of an object (live or deleted); null when the id names no object.</summary>
    public async ValueTask<string?> OfAsync(string id, CancellationToken cancellationToken = default)
    {
        if (_known.TryGetValue(id, out var known))
        {
            return known;
        }

        if (!ObjectIds.TryGetKind(id, out var kind))
        {
            return null;
        }

        var found = kind switch
        {
            ObjectKind.Experiment => (await metadata.GetExperimentAsync(id, cancellationToken).ConfigureAwait(false))?.Namespace,
            ObjectKind.Model => (await metadata.GetModelAsync(id, cancellationToken).ConfigureAwait(false))?.Namespace,
            ObjectKind.Dataset => (await registry.GetDatasetAsync(id, cancellationToken).ConfigureAwait(false))?.Namespace,
            ObjectKind.Checkpoint => await ParentAsync((await metadata.GetCheckpointAsync(id, cancellationToken).ConfigureAwait(false))?.ExperimentId),
            ObjectKind.ModelVersion => await ParentAsync((await metadata.GetModelVersionAsync(id, cancellationToken).ConfigureAwait(false))?.ModelId),
            ObjectKind.DatasetVersion => await ParentAsync((await registry.GetDatasetVersionAsync(id, cancellationToken).ConfigureAwait(false))?.DatasetId),
            ObjectKind.File => await ParentAsync((await files.GetFileAsync(id, cancellationToken).ConfigureAwait(false))?.ParentId),
            _ => null,
        };
        if (found is not null)
        {
            if (_known.Count >= MaxCachedEntries)
            {
                _known.Clear();
            }

            _known[id] = found;
        }

        return found;

        async ValueTask<string?> ParentAsync(string? parentId) =>
            parentId is null ? null : await OfAsync(parentId, cancellationToken).ConfigureAwait(false);
    }
}
