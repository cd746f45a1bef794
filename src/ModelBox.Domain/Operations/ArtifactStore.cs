using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using ModelBox.Domain.Storage;
using ModelBox.Domain.Telemetry;

namespace ModelBox.Domain.Operations;

/// <summary>A file as the client describes it: for an upload, for tracking, or attached to a new object.</summary>
// Checksum: The MD5 the client claims (lowercase hex), or empty.
// Sha256: The SHA-256 the client claims (lowercase hex), or empty.
// SizeBytes: The size the client claims (tracked files), or 0.
public sealed record NewFile(
    string? ParentId,
    FileType Type,
    string? Path,
    string? Checksum = null,
    string? Sha256 = null,
    string? Uri = null,
    ulong SizeBytes = 0);

/// <summary>Checksums a client sends after the bytes of an upload (lowercase hex; empty or null is not checked).</summary>
public sealed record ClaimedChecksums(string? Md5, string? Sha256);

/// <summary>Makes an upload resumable: the client's name for it, and the first byte its stream carries (0 starts over).</summary>
public sealed record UploadResume(string? UploadId, ulong Offset);

/// <summary>Limits of the artifact operations.</summary>
public sealed record ArtifactOptions
{
    /// <summary>The default upload limit: 100 GiB.</summary>
    public const long DefaultMaxUploadSizeBytes = 100L * 1024 * 1024 * 1024;

    /// <summary>The largest upload accepted, in bytes.</summary>
    public long MaxUploadSizeBytes { get; init; } = DefaultMaxUploadSizeBytes;

    /// <summary>The default cap on the bytes of interrupted resumable uploads kept together: 16 GiB.</summary>
    public const long DefaultResumableMaxBytes = 16L * 1024 * 1024 * 1024;

    /// <summary>Bytes of interrupted resumable uploads kept together at most; 0 keeps none (resume then starts over).</summary>
    public long ResumableMaxBytes { get; init; } = DefaultResumableMaxBytes;

    /// <summary>Interrupted resumable uploads kept at most.</summary>
    public int ResumableMaxCount { get; init; } = 64;
}

/// <summary>An open download: the record, and a stream of the requested range.</summary>
public sealed record FileDownload(FileRecord File, long Offset, long Length, Stream Content) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => Content.DisposeAsync();
}

/// <summary>
/// Artifacts: uploads, downloads, tracked files and their records. An upload is committed in this order (the
/// architecture's hard part 4): stream to a temporary blob while hashing (MD5 and SHA-256) → verify the client's
/// checksum (DATA_LOSS and nothing kept on mismatch) → move the blob to its content address (dropping the temporary
/// one when the address exists) → insert the file record in one transaction → acknowledge. A crash before the record
/// leaves only an unreferenced or temporary blob, never a record without bytes;
/// <see cref="BlobCollector"/> removes those later.
/// </summary>
public sealed class ArtifactStore(
    IMetadataStore objects, IFileRecordStore files, IBlobStore blobs, ArtifactOptions options, TimeProvider time)
{
    /// <summary>Paths are names, not storage locations; the limit only keeps records reasonable.</summary>
    public const int MaxPathLength = 4096;

    /// <summary>The longest upload id of a resumable upload.</summary>
    public const int MaxUploadIdLength = 128;

    private const int KeptReadBytes = 1024 * 1024;

    // Deciding which interrupted uploads stay (the caps) is one decision at a time per process.
    private readonly SemaphoreSlim _keepGate = new(1, 1);

    /// <summary>The largest upload accepted, in bytes.</summary>
    public long MaxUploadSizeBytes => options.MaxUploadSizeBytes;

    /// <summary>Validates an upload's metadata and its parent before any byte is read.</summary>
    private async Task<NewFile> ValidateUploadAsync(NewFile file, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        var validated = FileValidation.Validate(file, requireParent: true, FileValidation.UploadedFile);
        await RequireLiveParentAsync(validated.ParentId!, FileValidation.UploadedFile / "parent id", cancellationToken).ConfigureAwait(false);
        return validated;
    }

    /// <summary>
    /// Validates a file's metadata and its parent, then (and only then) reads its content, stores and records it; returns
    /// the record once both are durable. Anything thrown (bad metadata, a checksum mismatch, the size limit, a broken
    /// stream, cancellation) leaves nothing visible.
    /// </summary>
    /// <param name="file">The metadata (its checksum and sha256, when given, are verified).</param>
    /// <param name="content">The bytes, chunk by chunk; each chunk must stay unchanged (it is hashed and written later).</param>
    /// <param name="trailer">Called once the content ended: the checksums the client sent after the bytes, or null.</param>
    /// <param name="cancellationToken">Cancels the upload.</param>
    public async Task<FileRecord> UploadAsync(
        NewFile file,
        IAsyncEnumerable<ReadOnlyMemory<byte>> content,
        Func<ClaimedChecksums?>? trailer = null,
        CancellationToken cancellationToken = default) =>
        await UploadAsync(file, content, trailer, resume: null, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// The upload above, resumable when <paramref name="resume"/> is given: bytes kept for its upload id (same parent, path and file type)
    /// come first, the stream carries the rest from <see cref="UploadResume.Offset"/>, and the checksums are verified over
    /// all of them. When the stream breaks, what arrived is kept for the next attempt, within the caps of
    /// <see cref="ArtifactOptions"/> (the least recently written kept uploads are dropped first). A verification failure
    /// or a refused upload keeps nothing.
    /// </summary>
    public async Task<FileRecord> UploadAsync(
        NewFile file,
        IAsyncEnumerable<ReadOnlyMemory<byte>> content,
        Func<ClaimedChecksums?>? trailer,
        UploadResume? resume,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(content);
        file = await ValidateUploadAsync(file, cancellationToken).ConfigureAwait(false);
        if (resume is null)
        {
            var writer = await blobs.BeginWriteAsync(cancellationToken).ConfigureAwait(false);
            await using (writer.ConfigureAwait(false))
            {
                var received = await ReceiveAsync(writer, kept: null, content, cancellationToken).ConfigureAwait(false);
                return await VerifyAndCommitAsync(file, writer, received, trailer).ConfigureAwait(false);
            }
        }

        var uploadIdField = (InputName)"resume" / "upload id";
        var uploadId = ValidUploadId(resume.UploadId, uploadIdField);
        var partials = PartialBlobs();
        var key = PartialKey(file.ParentId!, uploadId);
        var owner = PartialOwner(file);
        var partial = await partials.OpenPartialAsync(key, cancellationToken).ConfigureAwait(false)
            ?? throw new ModelBoxException(ErrorKind.Aborted, $"{uploadIdField} '{uploadId}': an upload with this id is still receiving; retry shortly");
        await using (partial.ConfigureAwait(false))
        {
            if (partial.Owner is { } recorded && !string.Equals(recorded, owner, StringComparison.Ordinal))
            {
                await partial.KeepAsync(CancellationToken.None).ConfigureAwait(false);
                throw ModelBoxException.FailedPrecondition(
                    $"{uploadIdField} '{uploadId}' holds {partial.KeptLength} kept bytes of another file ({Describe(recorded)}); use another upload id for '{file.Path}'");
            }

            if (resume.Offset == 0)
            {
                await partial.StartOverAsync(owner, cancellationToken).ConfigureAwait(false);
            }
            else if (resume.Offset != (ulong)partial.KeptLength)
            {
                if (partial.KeptLength > 0)
                {
                    await partial.KeepAsync(CancellationToken.None).ConfigureAwait(false);
                }

                throw ModelBoxException.FailedPrecondition(
                    $"{(InputName)"resume" / "offset"} {resume.Offset}: the server holds {partial.KeptLength} bytes of upload '{uploadId}'; resume from {partial.KeptLength} (or 0 to start over)");
            }

            (long Size, string Md5, string Sha256) received;
            try
            {
                received = await ReceiveAsync(partial, partial, content, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is not ModelBoxException)
            {
                // The stream broke (the client went away, the server is stopping): keep what arrived for the next attempt.
                await KeepWithinCapsAsync(partials, key, partial).ConfigureAwait(false);
                throw;
            }

            return await VerifyAndCommitAsync(file, partial, received, trailer).ConfigureAwait(false);
        }
    }

    /// <summary>How many bytes of a resumable upload are kept (0 when none are), and whether an upload with its id is receiving now.</summary>
    public async Task<(long Received, bool InProgress)> GetUploadStatusAsync(string? parentId, string? uploadId, CancellationToken cancellationToken = default)
    {
        var parent = FileValidation.ParentId(parentId, "parent id");
        var id = ValidUploadId(uploadId, "upload id");
        await RequireLiveParentAsync(parent, "parent id", cancellationToken).ConfigureAwait(false);
        var partial = await PartialBlobs().FindPartialAsync(PartialKey(parent, id), cancellationToken).ConfigureAwait(false);
        return (partial?.Length ?? 0, partial?.Held ?? false);
    }

    private IPartialBlobStore PartialBlobs() => blobs as IPartialBlobStore
        ?? throw ModelBoxException.FailedPrecondition(
            "resumable uploads (upload id) need the filesystem artifact store; this server's artifact store keeps no partial uploads: upload without an upload id");

    private static string ValidUploadId(string? uploadId, InputName field)
    {
        if (string.IsNullOrEmpty(uploadId))
        {
            throw ModelBoxException.InvalidArgument($"{field} is required");
        }

        if (uploadId.Length > MaxUploadIdLength || !uploadId.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw ModelBoxException.InvalidArgument(
                $"{field} must be 1 to {MaxUploadIdLength} of A-Z a-z 0-9 . _ - (got {uploadId.Length} characters)");
        }

        return uploadId;
    }

    /// <summary>The partial blob of an upload id under a parent: 128 bits of SHA-256 over both, so ids of parents never meet.</summary>
    private static string PartialKey(string parentId, string uploadId) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{parentId}\n{uploadId}")))[..32];

    /// <summary>What must stay the same for a resume to belong to the same file.</summary>
    private static string PartialOwner(NewFile file) => $"{(int)file.Type}\n{file.Path}";

    private static string Describe(string owner)
    {
        var parts = owner.Split('\n', 2);
        return parts.Length == 2 ? $"path '{parts[1]}', file type {parts[0]}" : "unknown";
    }

    /// <summary>
    /// Streams the content into the writer while hashing it (after the kept bytes of a resumed upload, which are hashed
    /// first); returns the total size and the checksums of all of it.
    /// </summary>
    private async Task<(long Size, string Md5, string Sha256)> ReceiveAsync(
        IBlobWriter writer, IPartialBlobWriter? kept, IAsyncEnumerable<ReadOnlyMemory<byte>> content, CancellationToken cancellationToken)
    {
        long size = 0;
        var pipeline = new UploadPipeline(writer);
        await using (pipeline.ConfigureAwait(false))
        {
            if (kept is { KeptLength: > 0 })
            {
                size = await HashKeptAsync(kept, pipeline, cancellationToken).ConfigureAwait(false);
            }

            try
            {
                await foreach (var chunk in content.WithCancellation(cancellationToken).ConfigureAwait(false))
                {
                    size += chunk.Length;
                    if (size > options.MaxUploadSizeBytes)
                    {
                        throw new ModelBoxException(
                            ErrorKind.ResourceExhausted,
                            $"the upload is larger than the server's limit of {options.MaxUploadSizeBytes} bytes (max_upload_size_bytes); nothing was kept");
                    }

                    await pipeline.AddAsync(chunk, cancellationToken).ConfigureAwait(false);
                    ModelBoxMetrics.BytesUploaded.Add(chunk.Length);
                }
            }
            catch (Exception exception) when (kept is not null && exception is not ModelBoxException)
            {
                // A resumable upload's stream broke: what arrived is worth keeping, so it is written before the workers stop.
                await pipeline.DrainAsync().ConfigureAwait(false);
                throw;
            }

            var (md5Hex, sha256Hex) = await pipeline.CompleteAsync().ConfigureAwait(false);
            return (size, md5Hex, sha256Hex);
        }
    }

    /// <summary>Hashes the kept bytes of a resumed upload (hash states cannot be stored, so they are read again).</summary>
    private static async Task<long> HashKeptAsync(IPartialBlobWriter kept, UploadPipeline pipeline, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(KeptReadBytes);
        try
        {
            long offset = 0;
            int read;
            while ((read = await kept.ReadKeptAsync(buffer.AsMemory(0, KeptReadBytes), offset, cancellationToken).ConfigureAwait(false)) > 0)
            {
                pipeline.HashOnly(buffer.AsSpan(0, read));
                offset += read;
            }

            if (offset != kept.KeptLength)
            {
                throw new InvalidOperationException($"the kept bytes of a resumed upload ended after {offset} of {kept.KeptLength} bytes");
            }

            return offset;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Keeps an interrupted upload's bytes for a resume when they fit the caps, dropping the least recently written other
    /// kept uploads to make room; otherwise leaves them to be deleted with the writer.
    /// </summary>
    private async Task KeepWithinCapsAsync(IPartialBlobStore partials, string key, IPartialBlobWriter partial)
    {
        await _keepGate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (partial.Length == 0 || partial.Length > options.ResumableMaxBytes || options.ResumableMaxCount == 0)
            {
                return;
            }

            await partial.KeepAsync(CancellationToken.None).ConfigureAwait(false);
            var others = new List<PartialBlob>();
            await foreach (var other in partials.ListPartialsAsync(CancellationToken.None).ConfigureAwait(false))
            {
                if (!string.Equals(other.Key, key, StringComparison.Ordinal))
                {
                    others.Add(other);
                }
            }

            var count = 1;
            var bytes = partial.Length;
            foreach (var other in others.OrderByDescending(o => o.LastWrite))
            {
                if (count + 1 <= options.ResumableMaxCount && bytes + other.Length <= options.ResumableMaxBytes)
                {
                    count++;
                    bytes += other.Length;
                }
                else
                {
                    // A held one is an upload in progress, not kept bytes: it is judged when it ends.
                    await partials.DeletePartialAsync(other.Key, CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or ModelBoxException)
        {
            // Keeping is a courtesy: when it fails the client starts over, and the sweep frees what is left.
        }
        finally
        {
            _keepGate.Release();
        }
    }

    /// <summary>Verifies the client's checksums, then publishes the blob and inserts the record (the commit order).</summary>
    private async Task<FileRecord> VerifyAndCommitAsync(
        NewFile file, IBlobWriter writer, (long Size, string Md5, string Sha256) received, Func<ClaimedChecksums?>? trailer)
    {
        var (size, md5Hex, sha256Hex) = received;
        var claimed = trailer?.Invoke();
        RequireMatch(file.Checksum, md5Hex, size, "checksum mismatch: the client sent MD5", "MD5");
        RequireMatch(file.Sha256, sha256Hex, size, "sha256 mismatch: the client sent", "SHA-256");
        if (claimed is not null)
        {
            RequireMatch(FileValidation.Hex(claimed.Md5, 32, "checksums.md5", "an MD5"), md5Hex, size, "checksum mismatch: the client's checksums frame says MD5", "MD5");
            RequireMatch(FileValidation.Hex(claimed.Sha256, 64, "checksums.sha256", "a SHA-256"), sha256Hex, size, "sha256 mismatch: the client's checksums frame says", "SHA-256");
        }

        var now = Clock.Now(time);
        var record = new FileRecord(
            ObjectIds.NewFile(), file.ParentId!, file.Type, file.Path ?? string.Empty, Uri: string.Empty, size, md5Hex, sha256Hex, Stored: true, now, now);

        // The client may be gone by now, but the bytes are verified: finishing is cheaper than leaving an orphan.
        // Durable first, so that the blob's reference lock (below) is held only for the publish and the insert.
        await writer.SealAsync(CancellationToken.None).ConfigureAwait(false);
        var published = false;
        var created = false;
        try
        {
            await files.InsertUploadedFileAsync(
                record,
                async token =>
                {
                    if (!published)
                    {
                        created = await writer.CommitAsync(sha256Hex, token).ConfigureAwait(false);
                        published = true;
                    }
                    else if (!await blobs.ExistsAsync(sha256Hex, token).ConfigureAwait(false))
                    {
                        // A retried transaction: between the attempts nothing referenced the blob and a delete freed it.
                        throw new ModelBoxException(
                            ErrorKind.Unavailable, "the upload's bytes were freed while its record was being written; nothing was kept, upload again");
                    }
                },
                CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception) when (created)
        {
            // Nothing references the blob this upload created: free it now rather than wait for a sweep.
            await FreeIfUnreferencedAsync(sha256Hex).ConfigureAwait(false);
            throw;
        }

        return record;
    }

    /// <summary>Records files stored elsewhere (no bytes); all or none. Each names its own parent.</summary>
    public async Task<IReadOnlyList<FileRecord>> TrackAsync(IReadOnlyList<NewFile> requested, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requested);
        if (requested.Count == 0)
        {
            throw ModelBoxException.InvalidArgument($"{FileValidation.Files} is empty; name at least one file to track");
        }

        var validated = requested.Select((f, i) => FileValidation.Validate(f, requireParent: true, FileValidation.Files[i])).ToList();
        foreach (var (parentId, index) in validated.Select((f, i) => (f.ParentId!, i)).DistinctBy(p => p.Item1))
        {
            await RequireLiveParentAsync(parentId, FileValidation.Files[index] / "parent id", cancellationToken).ConfigureAwait(false);
        }

        var records = FileValidation.TrackedRecords(validated, Clock.Now(time));
        await files.InsertFilesAsync(records, cancellationToken).ConfigureAwait(false);
        return records;
    }

    /// <summary>A file record by id; NOT_FOUND when it or its parent is gone.</summary>
    public async Task<FileRecord> GetAsync(string? id, CancellationToken cancellationToken = default)
    {
        Validation.Id(id, "id", ObjectKind.File);
        var file = await files.GetFileAsync(id!, cancellationToken).ConfigureAwait(false);
        if (file is null)
        {
            throw ModelBoxException.NotFound("file", id!);
        }

        var parent = await objects.FindObjectAsync(file.ParentId, cancellationToken).ConfigureAwait(false);
        return parent is null || parent.Deleted ? throw ModelBoxException.NotFound("file", id!) : file;
    }

    /// <summary>The files of a live object, oldest first.</summary>
    public async Task<IReadOnlyList<FileRecord>> ListAsync(string? parentId, CancellationToken cancellationToken = default)
    {
        var id = FileValidation.ParentId(parentId, "parent id");
        await RequireLiveParentAsync(id, "parent id", cancellationToken).ConfigureAwait(false);
        return await files.ListFilesAsync(id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens a range of an uploaded file: <paramref name="length"/> 0 means to the end.</summary>
    public async Task<FileDownload> OpenDownloadAsync(string? id, ulong offset, ulong length, CancellationToken cancellationToken = default)
    {
        var file = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        if (!file.Stored)
        {
            throw ModelBoxException.FailedPrecondition(
                $"file '{file.Id}' is tracked, not uploaded: its bytes live at '{(file.Uri.Length > 0 ? file.Uri : file.Path)}'");
        }

        if (offset > (ulong)file.SizeBytes)
        {
            throw ModelBoxException.InvalidArgument($"offset {offset} is past the end of file '{file.Id}' ({file.SizeBytes} bytes)");
        }

        var available = file.SizeBytes - (long)offset;
        var count = length == 0 || length > (ulong)available ? available : (long)length;
        var stream = await blobs.OpenReadAsync(file.Sha256, (long)offset, count, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"the blob {file.Sha256} of file '{file.Id}' is missing from the artifact store");
        return new FileDownload(file, (long)offset, count, stream);
    }

    /// <summary>Deletes a file record, and its blob when no other record uses it; returns when.</summary>
    public async Task<DateTimeOffset> DeleteAsync(string? id, CancellationToken cancellationToken = default)
    {
        var file = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        var now = Clock.Now(time);
        var deletion = await files.DeleteFileAsync(file.Id, now, cancellationToken).ConfigureAwait(false)
            ?? throw ModelBoxException.NotFound("file", file.Id);
        if (file.Stored && !deletion.BlobStillReferenced)
        {
            // A second transaction under the blob's reference lock: an upload of the same bytes that committed in between
            // references it again, and then it stays. A crash before this leaves an unreferenced blob for the sweep.
            await files.DeleteBlobIfUnreferencedAsync(file.Sha256, token => blobs.DeleteAsync(file.Sha256, token), CancellationToken.None)
                .ConfigureAwait(false);
        }

        return now;
    }

    private async Task FreeIfUnreferencedAsync(string sha256)
    {
        try
        {
            await files.DeleteBlobIfUnreferencedAsync(sha256, token => blobs.DeleteAsync(sha256, token), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is ModelBoxException or IOException)
        {
            // The store is failing already (that is why we are here); the sweep frees the blob later.
        }
    }

    private static void RequireMatch(string? claimed, string computed, long size, string what, string algorithm)
    {
        if (!string.IsNullOrEmpty(claimed) && !string.Equals(claimed, computed, StringComparison.Ordinal))
        {
            throw new ModelBoxException(
                ErrorKind.DataLoss,
                $"{what} {claimed} but the server received {size} bytes with {algorithm} {computed}; nothing was kept");
        }
    }

    private async Task RequireLiveParentAsync(string parentId, InputName field, CancellationToken cancellationToken)
    {
        var parent = await objects.FindObjectAsync(parentId, cancellationToken).ConfigureAwait(false);
        if (parent is null || parent.Deleted)
        {
            var kind = ObjectIds.TryGetKind(parentId, out var k) ? Validation.Describe(k) : "object";
            throw new ModelBoxException(ErrorKind.NotFound, $"{field}: {kind} '{parentId}' not found");
        }
    }
}
