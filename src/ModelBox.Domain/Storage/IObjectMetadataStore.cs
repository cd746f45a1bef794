namespace ModelBox.Domain.Storage;

/// <summary>
/// The storage port for the metadata of any object (experiment, checkpoint, model, model version, event): JSON per key.
/// Every write appends a change record (kind <c>metadata</c>) in its own transaction.
/// </summary>
public interface IObjectMetadataStore
{
    /// <summary>Writes the given keys (replacing their values, keeping other keys) of a live object; null when the object
    /// does not exist or is deleted.</summary>
    Task<MetadataWriteResult?> UpdateMetadataAsync(
        string objectId, IReadOnlyDictionary<string, string> values, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>All metadata of a live object; null when the object does not exist or is deleted.</summary>
    Task<IReadOnlyDictionary<string, string>?> ListMetadataAsync(string objectId, CancellationToken cancellationToken = default);

    /// <summary>Removes the given keys of a live object (keys it does not have are ignored); null when the object does not
    /// exist or is deleted.</summary>
    Task<MetadataWriteResult?> DeleteMetadataAsync(
        string objectId, IReadOnlyCollection<string> keys, DateTimeOffset now, CancellationToken cancellationToken = default);
}
