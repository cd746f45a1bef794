using System.Buffers;
using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using ModelBox.Protocol;

namespace ModelBox.Client;

// Artifacts: streamed uploads and downloads with verified checksums, tracked files, listing and deletion.
public sealed partial class ModelBoxClient
{
    /// <summary>Upload chunk size: 64 KiB keeps every buffer below the large object heap, on both ends.</summary>
    public const int ChunkSizeBytes = 64 * 1024;

    /// <summary>
    /// Download chunk size asked of the server (chunk_size_bytes). Measured on a 1 GiB download (artifact benchmark),
    /// 1 MiB chunks cost as much CPU in total as 64 KiB ones (server a little less, client a little more) and doubled the
    /// client's peak memory (every received chunk is a large-object-heap array), so the SDK stays below the large object
    /// heap; the field is there for clients on links where per-message overhead matters more.
    /// </summary>
    internal const int DownloadChunkSizeBytes = 64 * 1024;

    /// <summary>Uploads a file and records it under <paramref name="parentId"/>.</summary>
    /// <param name="parentId">The experiment, checkpoint, model or model version the file belongs to.</param>
    /// <param name="filePath">The local file; its path is recorded as the file's name.</param>
    /// <param name="kind">The kind of file.</param>
    /// <param name="progress">Receives the number of bytes sent so far.</param>
    /// <param name="cancellationToken">Cancels the upload; the server then keeps nothing.</param>
    /// <returns>The stored file record, with its size, MD5 and SHA-256.</returns>
    /// <remarks>
    /// The file is read once: its SHA-256 is computed while it is sent and sent after the bytes, and the server verifies it
    /// before it keeps anything (a damaged upload fails with <see cref="StatusCode.DataLoss"/> and leaves nothing).
    /// </remarks>
    public async Task<ArtifactFile> UploadFileAsync(
        string parentId,
        string filePath,
        FileKind kind = FileKind.Undefined,
        IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        var stream = new FileStream(filePath, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using (stream.ConfigureAwait(false))
        {
            return await UploadFileAsync(parentId, stream, filePath, kind, progress, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Uploads the rest of a stream as a file recorded under <paramref name="parentId"/>.</summary>
    /// <param name="parentId">The object the file belongs to.</param>
    /// <param name="content">The bytes, from its current position to its end, read once. Their SHA-256 is computed while
    /// they are sent and sent after them; the server verifies it before it keeps anything.</param>
    /// <param name="path">The name to record (the original file name).</param>
    /// <param name="kind">The kind of file.</param>
    /// <param name="progress">Receives the number of bytes sent so far.</param>
    /// <param name="cancellationToken">Cancels the upload; the server then keeps nothing.</param>
    public async Task<ArtifactFile> UploadFileAsync(
        string parentId,
        Stream content,
        string path,
        FileKind kind = FileKind.Undefined,
        IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var metadata = new FileMetadata { ParentId = parentId ?? "", Path = path ?? "", FileType = (FileType)kind };

        // SHA-256 only: the server computes the MD5 the original SDKs expect itself, and one strong hash proves the bytes
        // arrived intact (with SHA-NI it costs a fraction of an MD5).
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        DateTime? deadline = _options.Timeout is { } timeout ? DateTime.UtcNow.Add(timeout) : null;
        string fileId;
        string sentSha256;
        // Two buffers: the next chunk is read while the current one is hashed and sent.
        var current = ArrayPool<byte>.Shared.Rent(ChunkSizeBytes);
        var next = ArrayPool<byte>.Shared.Rent(ChunkSizeBytes);
        Task<int>? readAhead = null;
        try
        {
            using var call = _store.UploadFile(new CallOptions(deadline: deadline, cancellationToken: cancellationToken));
            await call.RequestStream.WriteAsync(new UploadFileRequest { Metadata = metadata }, cancellationToken).ConfigureAwait(false);
            long sent = 0;
            var read = await ReadFullAsync(content, current, cancellationToken).ConfigureAwait(false);
            while (read > 0)
            {
                readAhead = read == ChunkSizeBytes ? ReadFullAsync(content, next, cancellationToken) : null;
                sha256.AppendData(current, 0, read);

                // WriteAsync serializes the frame before it completes, so the buffer is free again afterwards.
                await call.RequestStream.WriteAsync(
                    new UploadFileRequest { Chunks = UnsafeByteOperations.UnsafeWrap(current.AsMemory(0, read)) }, cancellationToken).ConfigureAwait(false);
                sent += read;
                progress?.Report(sent);
                read = readAhead is null ? 0 : await readAhead.ConfigureAwait(false);
                readAhead = null;
                (current, next) = (next, current);
            }

            sentSha256 = Convert.ToHexStringLower(sha256.GetHashAndReset());
            await call.RequestStream.WriteAsync(
                new UploadFileRequest { Checksums = new UploadChecksums { Sha256 = sentSha256 } }, cancellationToken).ConfigureAwait(false);
            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
            fileId = (await call.ResponseAsync.ConfigureAwait(false)).FileId;
        }
        catch (RpcException exception)
        {
            throw ModelBoxException.FromRpcException(exception, Address, _options.Token);
        }
        finally
        {
            if (readAhead is not null)
            {
                // The send failed: the read must finish before its buffer goes back to the pool.
                try
                {
                    await readAhead.ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is IOException or OperationCanceledException or NotSupportedException or ObjectDisposedException)
                {
                    // The send's failure is the one to report.
                }
            }

            ArrayPool<byte>.Shared.Return(current);
            ArrayPool<byte>.Shared.Return(next);
        }

        var file = await GetArtifactAsync(fileId, cancellationToken).ConfigureAwait(false);
        // The server verified the SHA-256 before it kept the file; a server too old to know the checksums frame did not,
        // so check its answer too (free: both hashes are at hand).
        if (!string.Equals(file.Sha256, sentSha256, StringComparison.Ordinal))
        {
            await DeleteArtifactAsync(fileId, CancellationToken.None).ConfigureAwait(false);
            throw new ModelBoxException(
                StatusCode.DataLoss,
                $"the server stored different bytes than were sent (SHA-256 {file.Sha256} vs {sentSha256}); the file was deleted again");
        }

        return file;
    }

    /// <summary>
    /// Downloads a file to <paramref name="filePath"/>, verifying its SHA-256. The bytes go to
    /// <c>filePath + ".part"</c> first; an interrupted download leaves that file and a later call resumes from where it
    /// ended (a ranged download). The file appears under its name only once verified.
    /// </summary>
    /// <param name="fileId">The file id.</param>
    /// <param name="filePath">Where to write the file; replaced when it exists.</param>
    /// <param name="progress">Receives the number of bytes of the file present locally so far.</param>
    /// <param name="cancellationToken">Cancels the download; the partial file is kept for resuming.</param>
    /// <returns>The file record.</returns>
    /// <exception cref="ModelBoxException">With <see cref="StatusCode.DataLoss"/> when the received bytes do not match
    /// the server's checksums (the partial file is deleted).</exception>
    public async Task<ArtifactFile> DownloadFileAsync(
        string fileId, string filePath, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        var partPath = filePath + ".part";
        ArtifactFile file;
        IncrementalHash? hash = null;
        try
        {
            var part = new FileStream(partPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 0, FileOptions.Asynchronous);
            await using (part.ConfigureAwait(false))
            using (var target = new PartFile(part))
            {
                // Resume: the bytes already here count towards the checksum, hashed once the server said which one it has.
                // (An interrupted download leaves whole direct-write buffers, so it resumes with direct writes again.)
                var have = part.Length;
                progress?.Report(have);
                file = await ReceiveAsync(
                    fileId,
                    (ulong)have,
                    target,
                    async (metadata, token) =>
                    {
                        hash = VerificationHash(metadata);
                        part.Position = 0;
                        await HashExistingAsync(part, hash, token).ConfigureAwait(false);
                        target.StartAppending(have);
                        return hash;
                    },
                    progress,
                    have,
                    cancellationToken).ConfigureAwait(false);
                if (part.Length != file.SizeBytes)
                {
                    // A partial file longer than the file itself belongs to something else: start over next time.
                    part.SetLength(0);
                }
            }

            try
            {
                Verify(file, hash!);
            }
            catch
            {
                File.Delete(partPath);
                throw;
            }
        }
        finally
        {
            hash?.Dispose();
        }

        File.Move(partPath, filePath, overwrite: true);
        return file;
    }

    /// <summary>Downloads a file into a stream and verifies its SHA-256 once all bytes arrived.</summary>
    /// <param name="fileId">The file id.</param>
    /// <param name="destination">Receives the bytes.</param>
    /// <param name="progress">Receives the number of bytes received so far.</param>
    /// <param name="cancellationToken">Cancels the download.</param>
    /// <returns>The file record.</returns>
    /// <exception cref="ModelBoxException">With <see cref="StatusCode.DataLoss"/> when the bytes do not match the
    /// server's checksums (they were written to <paramref name="destination"/> already: discard them).</exception>
    public async Task<ArtifactFile> DownloadFileAsync(
        string fileId, Stream destination, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        IncrementalHash? hash = null;
        try
        {
            var file = await ReceiveAsync(
                fileId, 0, destination, (metadata, _) => Task.FromResult(hash = VerificationHash(metadata)), progress, 0, cancellationToken)
                .ConfigureAwait(false);
            Verify(file, hash!);
            return file;
        }
        finally
        {
            hash?.Dispose();
        }
    }

    /// <summary>Downloads <paramref name="length"/> bytes of a file from <paramref name="offset"/> (0 means to the end), unverified.</summary>
    /// <param name="fileId">The file id.</param>
    /// <param name="offset">The first byte.</param>
    /// <param name="length">How many bytes; 0 means to the end.</param>
    /// <param name="destination">Receives the bytes.</param>
    /// <param name="cancellationToken">Cancels the download.</param>
    /// <returns>The file record (its checksums are of the whole file).</returns>
    public Task<ArtifactFile> DownloadRangeAsync(
        string fileId, long offset, long length, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentNullException.ThrowIfNull(destination);
        return ReceiveAsync(fileId, (ulong)offset, destination, null, null, 0, cancellationToken, (ulong)length);
    }

    /// <summary>Records files stored elsewhere (no bytes), all or none.</summary>
    /// <param name="files">The files; each names its parent.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>How many files were recorded.</returns>
    public async Task<int> TrackArtifactsAsync(IEnumerable<TrackedFile> files, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        var request = new TrackArtifactsRequest();
        request.Files.Add(files.Select(f => f.ToProto()));
        var response = await InvokeAsync(o => _store.TrackArtifactsAsync(request, o), cancellationToken).ConfigureAwait(false);
        return response.NumFilesTracked;
    }

    /// <summary>The files of an object (uploaded and tracked), oldest first.</summary>
    /// <param name="parentId">The object id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<IReadOnlyList<ArtifactFile>> ListArtifactsAsync(string parentId, CancellationToken cancellationToken = default)
    {
        var request = new ListArtifactsRequest { ParentId = parentId ?? "" };
        var response = await InvokeAsync(o => _store.ListArtifactsAsync(request, o), cancellationToken).ConfigureAwait(false);
        return response.Files.Select(f => f.ToSdk()).ToList();
    }

    /// <summary>A file record by id (no bytes).</summary>
    /// <param name="fileId">The file id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<ArtifactFile> GetArtifactAsync(string fileId, CancellationToken cancellationToken = default)
    {
        var request = new GetArtifactRequest { Id = fileId ?? "" };
        var response = await InvokeAsync(o => _store.GetArtifactAsync(request, o), cancellationToken).ConfigureAwait(false);
        return Require(response.File, "file", fileId).ToSdk();
    }

    /// <summary>Deletes a file record; the server frees its bytes when no other record uses them.</summary>
    /// <param name="fileId">The file id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>When it was deleted.</returns>
    public async Task<DateTimeOffset> DeleteArtifactAsync(string fileId, CancellationToken cancellationToken = default)
    {
        var request = new DeleteArtifactRequest { Id = fileId ?? "" };
        var response = await InvokeAsync(o => _store.DeleteArtifactAsync(request, o), cancellationToken).ConfigureAwait(false);
        return ProtocolMapping.ToSdk(response.DeletedAt);
    }

    /// <summary>
    /// Receives a file (or a range) into <paramref name="destination"/>. Once the metadata frame arrived,
    /// <paramref name="startHashing"/> (when given) returns the hash that every received chunk is added to.
    /// </summary>
    private async Task<ArtifactFile> ReceiveAsync(
        string fileId,
        ulong offset,
        Stream destination,
        Func<ArtifactFile, CancellationToken, Task<IncrementalHash>>? startHashing,
        IProgress<long>? progress,
        long progressBase,
        CancellationToken cancellationToken,
        ulong length = 0)
    {
        DateTime? deadline = _options.Timeout is { } timeout ? DateTime.UtcNow.Add(timeout) : null;
        try
        {
            using var call = _store.DownloadFile(
                new DownloadFileRequest { FileId = fileId ?? "", Offset = offset, Length = length, ChunkSizeBytes = DownloadChunkSizeBytes },
                new CallOptions(deadline: deadline, cancellationToken: cancellationToken));
            var stream = call.ResponseStream;
            if (!await stream.MoveNext(cancellationToken).ConfigureAwait(false) || stream.Current.StreamFrameCase != DownloadFileResponse.StreamFrameOneofCase.Metadata)
            {
                throw new ModelBoxException(StatusCode.Internal, $"the ModelBox server at {Address} sent no metadata frame for file '{fileId}'");
            }

            var file = stream.Current.Metadata.ToSdk();
            var hash = startHashing is null ? null : await startHashing(file, cancellationToken).ConfigureAwait(false);
            var received = progressBase;
            while (await stream.MoveNext(cancellationToken).ConfigureAwait(false))
            {
                // Each message owns its bytes: hash them while the write of the same bytes runs.
                var chunk = stream.Current.Chunks.Memory;
                var write = destination.WriteAsync(chunk, cancellationToken);
                hash?.AppendData(chunk.Span);
                await write.ConfigureAwait(false);
                received += chunk.Length;
                progress?.Report(received);
            }

            await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
            return file;
        }
        catch (RpcException exception)
        {
            throw ModelBoxException.FromRpcException(exception, Address, _options.Token);
        }
    }

    /// <summary>Fills <paramref name="buffer"/> from the stream (fewer bytes only at its end).</summary>
    private static async Task<int> ReadFullAsync(Stream content, byte[] buffer, CancellationToken cancellationToken)
    {
        var filled = 0;
        int read;
        while (filled < ChunkSizeBytes && (read = await content.ReadAsync(buffer.AsMemory(filled, ChunkSizeBytes - filled), cancellationToken).ConfigureAwait(false)) > 0)
        {
            filled += read;
        }

        return filled;
    }

    /// <summary>SHA-256 when the server has it (every file uploaded to ModelBox); MD5 from a server that only has that.</summary>
    private static IncrementalHash VerificationHash(ArtifactFile file) =>
        IncrementalHash.CreateHash(file.Sha256.Length == 0 && file.Checksum.Length > 0 ? HashAlgorithmName.MD5 : HashAlgorithmName.SHA256);

    /// <summary>Hashes a stream to its end with large reads (a hash pass is bound by the hash, not by syscalls).</summary>
    private static async Task HashExistingAsync(Stream part, IncrementalHash hash, CancellationToken cancellationToken)
    {
        const int HashBufferBytes = 1024 * 1024;
        var buffer = ArrayPool<byte>.Shared.Rent(HashBufferBytes);
        try
        {
            int read;
            while ((read = await part.ReadAsync(buffer.AsMemory(0, HashBufferBytes), cancellationToken).ConfigureAwait(false)) > 0)
            {
                hash.AppendData(buffer, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void Verify(ArtifactFile file, IncrementalHash hash)
    {
        var got = Convert.ToHexStringLower(hash.GetHashAndReset());
        var expected = hash.AlgorithmName == HashAlgorithmName.SHA256 ? file.Sha256 : file.Checksum;
        if (expected.Length > 0 && !string.Equals(expected, got, StringComparison.Ordinal))
        {
            throw new ModelBoxException(
                StatusCode.DataLoss,
                $"file '{file.Id}' arrived damaged: its {hash.AlgorithmName.Name} is {got}, the server's is {expected}");
        }
    }
}
