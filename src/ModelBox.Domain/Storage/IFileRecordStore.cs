namespace ModelBox.Domain.Storage;

/// <summary>
/// The storage port for file records. A metadata backend implements it next to <see cref="IMetadataStore"/>, in the
/// same database, so a record and the object it belongs to share transactions.
/// </summary>
public interface IFileRecordStore
{
    /// <summary>
    /// Inserts the records in one transaction (all or none), each with its change record. Throws NotFound when a
    /// parent does not exist.
    /// </summary>
    Task InsertFilesAsync(IReadOnlyList<FileRecord> files, CancellationToken cancellationToken = default);

    Task<FileRecord?> GetFileAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>The records of one object, oldest first (created_at, id).</summary>
    Task<IReadOnlyList<FileRecord>> ListFilesAsync(string parentId, CancellationToken cancellationToken = default);

    /// <summary>The records of many objects in one query, keyed by parent id; parents without files are absent.</summary>
    Task<IReadOnlyDictionary<string, IReadOnlyList<FileRecord>>> ListFilesAsync(
        IReadOnlyCollection<string> parentIds, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes a record (with a deleted change record at <paramref name="now"/>) and tells whether another stored record
    /// still uses its blob, in one transaction; null when there is no such record.
    /// </summary>
    Task<FileDeletion?> DeleteFileAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Whether any stored record uses the blob with this SHA-256.</summary>
    Task<bool> IsBlobReferencedAsync(string sha256, CancellationToken cancellationToken = default);
}
