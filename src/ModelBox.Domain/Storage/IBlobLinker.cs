namespace ModelBox.Domain.Storage;

/// <summary>
/// A blob store that keeps each committed blob as an immutable file, and can give a copy of one as a hard link (a backup on
/// the same filesystem then costs no bytes). Blobs are never changed in place, so a link stays the blob's content.
/// </summary>
public interface IBlobLinker
{
    /// <summary>
    /// Hard-links the committed blob <paramref name="sha256"/> at <paramref name="destination"/> (which must not exist).
    /// False when it cannot (no such blob, another filesystem, links not allowed): the caller copies instead.
    /// </summary>
    bool TryLink(string sha256, string destination);
}
