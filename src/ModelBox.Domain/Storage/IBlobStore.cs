namespace ModelBox.Domain.Storage;

/// <summary>
/// The blob-store port: immutable byte blobs addressed by the lowercase hex SHA-256 of their content.
/// Bytes are first written to a temporary blob that nobody can read; <see cref="IBlobWriter.CommitAsync"/> moves it to
/// its content address in one atomic step, so a blob is either absent or complete. The store never hashes: the caller
/// computes the address while streaming and the store trusts it.
/// </summary>
public interface IBlobStore
{
    /// <summary>Starts a temporary blob; dispose the writer without committing to abort it.</summary>
    Task<IBlobWriter> BeginWriteAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens the bytes <c>[offset, offset + length)</c> of a blob (to its end when <paramref name="length"/> is null);
    /// null when no blob has this address.
    /// </summary>
    Task<Stream?> OpenReadAsync(string sha256, long offset = 0, long? length = null, CancellationToken cancellationToken = default);

    /// <summary>Whether a committed blob has this address.</summary>
    Task<bool> ExistsAsync(string sha256, CancellationToken cancellationToken = default);

    /// <summary>Deletes a committed blob; false when there was none.</summary>
    Task<bool> DeleteAsync(string sha256, CancellationToken cancellationToken = default);

    /// <summary>The committed blobs that exist now, with when each was written (for the sweep of unreferenced blobs).</summary>
    IAsyncEnumerable<StoredBlob> ListBlobsAsync(CancellationToken cancellationToken = default);

    /// <summary>The temporary blobs that exist now (uploads in progress or abandoned), with their last write.</summary>
    IAsyncEnumerable<TemporaryBlob> ListTemporariesAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes temporary blobs last written before <paramref name="idleSince"/>, and those a store can tell no live
    /// writer holds any more (abandoned by a crashed process); returns how many were removed.
    /// </summary>
    Task<int> SweepTemporariesAsync(DateTimeOffset idleSince, CancellationToken cancellationToken = default);
}

/// <summary>
/// A blob store that can write a blob whose address is known before its bytes, as a copy or a restore from another store
/// knows it (they hash on the way and commit only when the bytes match the address): the bytes may go straight to their
/// place, invisible until <see cref="IBlobWriter.CommitAsync"/>, which then needs no second copy. Commit must be given the
/// same address; a blob already there is replaced by the same bytes.
/// </summary>
public interface IAddressedBlobWriting
{
    /// <summary>
    /// Starts writing the blob <paramref name="sha256"/> of <paramref name="length"/> bytes (a store may size its buffers
    /// by it: the caller checks the bytes against the address and the length and commits only when they match); dispose
    /// the writer without committing to abort it.
    /// </summary>
    Task<IBlobWriter> BeginWriteAsync(string sha256, long length, CancellationToken cancellationToken = default);
}

/// <summary>A temporary blob being written. Disposing it without <see cref="CommitAsync"/> deletes it.</summary>
public interface IBlobWriter : IAsyncDisposable
{
    /// <summary>How many bytes were written so far.</summary>
    long Length { get; }

    /// <summary>Appends bytes.</summary>
    ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default);

    /// <summary>
    /// Makes the bytes written so far durable (fsync, completing a multipart upload), so that <see cref="CommitAsync"/>
    /// only has to publish them; no more writes after it. Optional: <see cref="CommitAsync"/> seals first when needed.
    /// </summary>
    Task SealAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Makes the bytes durable (unless sealed already) and moves them to <paramref name="sha256"/>. When a blob with that address exists
    /// already (the same content uploaded before), the temporary one is dropped. Returns true when this call created it.
    /// </summary>
    Task<bool> CommitAsync(string sha256, CancellationToken cancellationToken = default);
}

/// <summary>A committed blob as <see cref="IBlobStore.ListBlobsAsync"/> reports it.</summary>
public sealed record StoredBlob(string Sha256, DateTimeOffset LastWrite);

/// <summary>A temporary blob as <see cref="IBlobStore.ListTemporariesAsync"/> reports it.</summary>
public sealed record TemporaryBlob(string Name, DateTimeOffset LastWrite);

/// <summary>Helpers for content addresses.</summary>
public static class BlobAddress
{
    /// <summary>True for 64 lowercase hex characters; stores refuse anything else, so an address can never name a path.</summary>
    public static bool IsValid(string? sha256)
    {
        if (sha256 is not { Length: 64 })
        {
            return false;
        }

        foreach (var c in sha256)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="sha256"/> is a valid address.</summary>
    public static string Require(string? sha256) =>
        IsValid(sha256) ? sha256! : throw new ArgumentException($"'{sha256}' is not a lowercase hex SHA-256", nameof(sha256));
}
