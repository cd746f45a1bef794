namespace ModelBox.Domain;

/// <summary>The kind of a file (numbers match the wire enum).</summary>
public enum FileType
{
    Undefined = 0,
    Model = 1,
    Checkpoint = 2,
    Text = 3,
    Image = 4,
    Audio = 5,
    Video = 6,
}

/// <summary>
/// A file attached to an object. An uploaded file (Stored) has its bytes in the blob store under its
/// SHA-256; a tracked file lives elsewhere (Uri or Path) and only its record is kept.
/// </summary>
// Path: The client's original file name: recorded, never used as a storage path.
// Md5: MD5 of the content as lowercase hex (computed for uploads; as the client sent it for tracked files).
// Sha256: SHA-256 of the content as lowercase hex: the blob's address when Stored.
public sealed record FileRecord(
    string Id,
    string ParentId,
    FileType Type,
    string Path,
    string Uri,
    long SizeBytes,
    string Md5,
    string Sha256,
    bool Stored,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>The outcome of deleting a file record: the record, and whether another record still uses its blob.</summary>
public sealed record FileDeletion(FileRecord File, bool BlobStillReferenced);
