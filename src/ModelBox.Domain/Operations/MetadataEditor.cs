using ModelBox.Domain.Storage;

namespace ModelBox.Domain.Operations;

/// <summary>Metadata of any object: JSON values per key, written key by key.</summary>
public sealed class MetadataEditor(IObjectMetadataStore store, TimeProvider time)
{
    /// <summary>Writes the given keys (replacing their values) and keeps the others.</summary>
    public async Task<MetadataWriteResult> UpdateMetadataAsync(
        string? parentId, IReadOnlyDictionary<string, string>? values, CancellationToken cancellationToken = default)
    {
        var id = ParentId(parentId);
        var checkedValues = Validation.Metadata(values);
        return await store.UpdateMetadataAsync(id, checkedValues, Clock.Now(time), cancellationToken).ConfigureAwait(false)
            ?? throw NotFound(id);
    }

    /// <summary>Every key of an object's metadata.</summary>
    public async Task<IReadOnlyDictionary<string, string>> ListMetadataAsync(string? parentId, CancellationToken cancellationToken = default)
    {
        var id = ParentId(parentId);
        return await store.ListMetadataAsync(id, cancellationToken).ConfigureAwait(false) ?? throw NotFound(id);
    }

    /// <summary>Removes the given keys; keys the object does not have are not an error (they are not counted).</summary>
    public async Task<MetadataWriteResult> DeleteMetadataAsync(
        string? parentId, IReadOnlyList<string>? keys, CancellationToken cancellationToken = default)
    {
        var id = ParentId(parentId);
        var distinct = new List<string>();
        foreach (var key in keys ?? [])
        {
            if (string.IsNullOrEmpty(key))
            {
                throw ModelBoxException.InvalidArgument("keys has an empty key");
            }

            Validation.ShortText(key, "keys");
            if (!distinct.Contains(key, StringComparer.Ordinal))
            {
                distinct.Add(key);
            }
        }

        return await store.DeleteMetadataAsync(id, distinct, Clock.Now(time), cancellationToken).ConfigureAwait(false)
            ?? throw NotFound(id);
    }

    /// <summary>Any ModelBox object id (its kind is read from its prefix).</summary>
    internal static string ParentId(string? parentId, InputName? input = null)
    {
        var field = input ?? "parent id";
        if (string.IsNullOrEmpty(parentId))
        {
            throw ModelBoxException.InvalidArgument($"{field} is required");
        }

        if (!ObjectIds.TryGetKind(parentId, out _))
        {
            throw ModelBoxException.InvalidArgument(
                $"{field} '{(parentId.Length > 80 ? parentId[..80] + "…" : parentId)}' is not a ModelBox id");
        }

        return parentId;
    }

    internal static ModelBoxException NotFound(string id)
    {
        ObjectIds.TryGetKind(id, out var kind);
        return ModelBoxException.NotFound(Validation.Describe(kind), id);
    }
}
