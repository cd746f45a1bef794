using System.Collections.Concurrent;
using ModelBox.Domain.Storage;

namespace ModelBox.Domain.Access;

/// <summary>
/// The namespace an object lives in, for authorising calls that name an object by id. An object never changes namespace
/// (its id derives from it, or from its parent's), so answers are cached for good, in a bounded cache. The objects a call
/// names that are not cached yet are looked up together, in one read, however many the call names.
/// </summary>
public sealed class ObjectNamespaces(IMetadataStore metadata, IFileRecordStore files)
{
    private const int MaxCachedEntries = 100_000;
    private readonly ConcurrentDictionary<string, string> _known = new(StringComparer.Ordinal);

    /// <summary>The namespace of an object (live or deleted); null when the id names no object.</summary>
    public async ValueTask<string?> OfAsync(string id, CancellationToken cancellationToken = default) =>
        _known.TryGetValue(id, out var known) ? known : (await OfManyAsync([id], cancellationToken).ConfigureAwait(false)).GetValueOrDefault(id);

    /// <summary>The namespaces of objects (live or deleted), by id; ids that name no object are absent.</summary>
    public async ValueTask<IReadOnlyDictionary<string, string>> OfManyAsync(IEnumerable<string> ids, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        var unknown = new HashSet<string>(StringComparer.Ordinal);
        var unknownFiles = new List<string>();
        foreach (var id in ids)
        {
            if (_known.TryGetValue(id, out var known))
            {
                found[id] = known;
            }
            else if (ObjectIds.TryGetKind(id, out var kind) && IsAuthorisedOn(kind) && unknown.Add(id) && kind == ObjectKind.File)
            {
                unknownFiles.Add(id);
            }
        }

        if (unknown.Count == 0)
        {
            return found;
        }

        // A file is authorised on the object it belongs to; files are named one at a time (downloads), so they are read
        // one by one, and their parents join the others.
        var parentOf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in unknownFiles)
        {
            unknown.Remove(file);
            if (await files.GetFileAsync(file, cancellationToken).ConfigureAwait(false) is { } record)
            {
                parentOf[file] = record.ParentId;
                if (_known.TryGetValue(record.ParentId, out var known))
                {
                    found[record.ParentId] = known;
                }
                else if (ObjectIds.TryGetKind(record.ParentId, out var kind) && IsAuthorisedOn(kind) && kind != ObjectKind.File)
                {
                    unknown.Add(record.ParentId);
                }
            }
        }

        if (unknown.Count > 0)
        {
            foreach (var (id, location) in await metadata.FindObjectsAsync(unknown, cancellationToken).ConfigureAwait(false))
            {
                found[id] = location.Namespace;
                Remember(id, location.Namespace);
            }
        }

        foreach (var (file, parent) in parentOf)
        {
            if (found.TryGetValue(parent, out var @namespace))
            {
                found[file] = @namespace;
                Remember(file, @namespace);
            }
        }

        return found;
    }

    /// <summary>The kinds a call may name as the object it acts on (events are only ever listed through their object).</summary>
    private static bool IsAuthorisedOn(ObjectKind kind) => kind != ObjectKind.Event;

    private void Remember(string id, string @namespace)
    {
        if (_known.Count >= MaxCachedEntries)
        {
            _known.Clear();
        }

        _known[id] = @namespace;
    }
}
