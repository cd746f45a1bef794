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
    /// still uses its blob, in one transaction holding the blob's reference lock (see <see cref="InsertUploadedFileAsync"/>);
    /// null when there is no such record.
    /// </summary>
    Task<FileDeletion?> DeleteFileAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Whether any stored record uses the blob with this SHA-256.</summary>
    Task<bool> IsBlobReferencedAsync(string sha256, CancellationToken cancellationToken = default);

    /// <summary>Of these blob addresses, the ones some stored record uses (one query, for sweeps).</summary>
    Task<IReadOnlySet<string>> FindReferencedBlobsAsync(IReadOnlyCollection<string> sha256s, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records an uploaded file: takes the reference lock of its blob (<see cref="FileRecord.Sha256"/>), runs
    /// <paramref name="publishBlob"/> (which moves the verified bytes to their content address, or finds them there),
    /// then inserts the record and its change record, and commits, all in one transaction. The lock lives in the database,
    /// so it orders uploads, deletes and sweeps of the same blob across every server process sharing it: "the blob
    /// exists" cannot go stale between the publish and the insert. A backend may run the transaction again after a
    /// deadlock or a lost connection, so <paramref name="publishBlob"/> must be safe to run twice.
    /// </summary>
    Task InsertUploadedFileAsync(FileRecord file, Func<CancellationToken, Task> publishBlob, CancellationToken cancellationToken = default);

    /// <summary>
    /// Under the reference lock of the blob (see <see cref="InsertUploadedFileAsync"/>): when no stored record uses it,
    /// runs <paramref name="deleteBlob"/> and returns true. The callback may run twice (see there).
    /// </summary>
    Task<bool> DeleteBlobIfUnreferencedAsync(string sha256, Func<CancellationToken, Task> deleteBlob, CancellationToken cancellationToken = default);
}
