namespace ModelBox.Domain.Storage;

/// <summary>
/// An optional capability of a blob store: keeping the temporary blob of an interrupted upload (a partial blob) so that
/// the upload can continue where it stopped. A partial blob is never readable as a blob; it becomes one only through
/// <see cref="IBlobWriter.CommitAsync"/>, like any temporary blob. Keys are lowercase hex the domain derives; the owner
/// is text the domain records to tell whether a resume belongs to the same file. A store without this capability
/// (S3) does not implement it, and resumable uploads are refused there.
/// </summary>
public interface IPartialBlobStore
{
    /// <summary>The partial blob named <paramref name="key"/> (with whether a writer holds it now), or null when there is none.</summary>
    Task<PartialBlob?> FindPartialAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens the partial blob named <paramref name="key"/> for appending, creating it empty when there is none; null
    /// when another writer holds it (an upload with the same key in progress).
    /// </summary>
    Task<IPartialBlobWriter?> OpenPartialAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>The partial blobs kept now (held ones included), with their sizes and last writes.</summary>
    IAsyncEnumerable<PartialBlob> ListPartialsAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes a partial blob unless a writer holds it; false when it was held or absent.</summary>
    Task<bool> DeletePartialAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Deletes the partial blobs no writer holds that were last written before <paramref name="idleSince"/>; returns how many.</summary>
    Task<int> SweepPartialsAsync(DateTimeOffset idleSince, CancellationToken cancellationToken = default);
}

/// <summary>A partial blob: its owner, size, last write, and (from FindPartialAsync) whether a writer holds it.</summary>
public sealed record PartialBlob(string Key, string Owner, long Length, DateTimeOffset LastWrite, bool Held = false);

/// <summary>
/// A writer that appends to a partial blob. Disposing it without <see cref="IBlobWriter.CommitAsync"/> or
/// <see cref="KeepAsync"/> deletes the partial blob. <see cref="IBlobWriter.Length"/> counts the kept bytes too.
/// </summary>
public interface IPartialBlobWriter : IBlobWriter
{
    /// <summary>The owner recorded with the kept bytes; null when nothing was kept.</summary>
    string? Owner { get; }

    /// <summary>How many bytes the partial blob held when it was opened.</summary>
    long KeptLength { get; }

    /// <summary>Drops the kept bytes and records <paramref name="owner"/>: the blob starts empty.</summary>
    Task StartOverAsync(string owner, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads kept bytes from <paramref name="offset"/> (below <see cref="KeptLength"/>), to hash them; only before the
    /// first write. Returns how many were read, 0 at the end of the kept bytes.
    /// </summary>
    ValueTask<int> ReadKeptAsync(Memory<byte> buffer, long offset, CancellationToken cancellationToken = default);

    /// <summary>Makes the bytes written so far durable and leaves the partial blob for a later resume.</summary>
    Task KeepAsync(CancellationToken cancellationToken = default);
}
