using System.Buffers;
using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using ModelBox.Protocol;

namespace ModelBox.Client;

// Artifacts: streamed uploads and downloads with verified checksums, tracked files, listing and deletion.
public sealed partial class ModelBoxClient
{
    /// <summary>Upload chunk size: 64 KiB keeps every buffer below the large object heap.</summary>
    public const int ChunkSizeBytes = 64 * 1024;

    /// <summary>Uploads a file and records it under <paramref name="parentId"/>.</summary>
    /// <param name="parentId">The experiment, checkpoint, model or model version the file belongs to.</param>
    /// <param name="filePath">The local file; its path is recorded as the file's name.</param>
    /// <param name="kind">The kind of file.</param>
    /// <param name="progress">Receives the number of bytes sent so far.</param>
    /// <param name="cancellationToken">Cancels the upload; the server then keeps nothing.</param>
    /// <returns>The stored file record, with its size, MD5 and SHA-256.</returns>
    /// <remarks>
    /// The file is read twice: once to compute the MD5 the server verifies before it keeps anything (a damaged upload
    /// fails with <see cref="StatusCode.DataLoss"/> and leaves nothing), once to send it.
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
    /// <param name="content">The bytes, from its current position to its end. A seekable stream is hashed first so the
    /// server verifies the MD5 before it keeps anything; a non-seekable one is verified against the server's hashes
    /// afterwards, and the record is deleted again on a mismatch.</param>
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
        if (content.CanSeek)
        {
            var start = content.Position;
            using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            await HashExistingAsync(content, md5, null, cancellationToken).ConfigureAwait(false);
            metadata.Checksum = Convert.ToHexStringLower(md5.GetHashAndReset());
            content.Position = start;
        }

        using var streamingMd5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        using var streamingSha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        DateTime? deadline = _options.Timeout is { } timeout ? DateTime.UtcNow.Add(timeout) : null;
        string fileId;
        try
        {
            using var call = _store.UploadFile(new CallOptions(deadline: deadline, cancellationToken: cancellationToken));
            await call.RequestStream.WriteAsync(new UploadFileRequest { Metadata = metadata }, cancellationToken).ConfigureAwait(false);
            var buffer = new byte[ChunkSizeBytes];
            long sent = 0;
            int read;
            // When the server verifies the MD5 sent up front, hashing again while sending would only repeat its check.
            var verifyAfterwards = metadata.Checksum.Length == 0;
            while ((read = await content.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (verifyAfterwards)
                {
                    streamingMd5.AppendData(buffer, 0, read);
                    streamingSha256.AppendData(buffer, 0, read);
                }

                // WriteAsync serializes the frame before it completes, so the buffer is free again afterwards.
                await call.RequestStream.WriteAsync(
                    new UploadFileRequest { Chunks = UnsafeByteOperations.UnsafeWrap(buffer.AsMemory(0, read)) }, cancellationToken).ConfigureAwait(false);
                sent += read;
                progress?.Report(sent);
            }

            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
            fileId = (await call.ResponseAsync.ConfigureAwait(false)).FileId;
        }
        catch (RpcException exception)
        {
            throw ModelBoxException.FromRpcException(exception, Address);
        }

        var file = await GetArtifactAsync(fileId, cancellationToken).ConfigureAwait(false);
        if (metadata.Checksum.Length > 0)
        {
            return file;
        }

        var sentMd5 = Convert.ToHexStringLower(streamingMd5.GetHashAndReset());
        var sentSha256 = Convert.ToHexStringLower(streamingSha256.GetHashAndReset());
        if (!string.Equals(file.Checksum, sentMd5, StringComparison.Ordinal) || !string.Equals(file.Sha256, sentSha256, StringComparison.Ordinal))
        {
            await DeleteArtifactAsync(fileId, CancellationToken.None).ConfigureAwait(false);
            throw new ModelBoxException(
                StatusCode.DataLoss,
                $"the server stored different bytes than were sent (MD5 {file.Checksum} vs {sentMd5}); the file was deleted again");
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
        // Only uploaded files can be downloaded, and each has a SHA-256: verify that (stronger than MD5, and faster).
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        ArtifactFile file;
        var part = new FileStream(partPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 0, FileOptions.Asynchronous);
        await using (part.ConfigureAwait(false))
        {
            // Resume: the bytes already here count towards the checksums.
            var have = await HashExistingAsync(part, sha256, null, cancellationToken).ConfigureAwait(false);
            progress?.Report(have);
            file = await ReceiveAsync(fileId, (ulong)have, part, sha256, null, progress, have, cancellationToken).ConfigureAwait(false);
            if (part.Length != file.SizeBytes)
            {
                // A partial file longer than the file itself belongs to something else: start over next time.
                part.SetLength(0);
            }
        }

        try
        {
            Verify(file, sha256);
        }
        catch
        {
            File.Delete(partPath);
            throw;
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
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var file = await ReceiveAsync(fileId, 0, destination, sha256, null, progress, 0, cancellationToken).ConfigureAwait(false);
        Verify(file, sha256);
        return file;
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
        return ReceiveAsync(fileId, (ulong)offset, destination, null, null, null, 0, cancellationToken, (ulong)length);
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

    private async Task<ArtifactFile> ReceiveAsync(
        string fileId,
        ulong offset,
        Stream destination,
        IncrementalHash? hash,
        IncrementalHash? secondHash,
        IProgress<long>? progress,
        long progressBase,
        CancellationToken cancellationToken,
        ulong length = 0)
    {
        DateTime? deadline = _options.Timeout is { } timeout ? DateTime.UtcNow.Add(timeout) : null;
        try
        {
            using var call = _store.DownloadFile(
                new DownloadFileRequest { FileId = fileId ?? "", Offset = offset, Length = length },
                new CallOptions(deadline: deadline, cancellationToken: cancellationToken));
            var stream = call.ResponseStream;
            if (!await stream.MoveNext(cancellationToken).ConfigureAwait(false) || stream.Current.StreamFrameCase != DownloadFileResponse.StreamFrameOneofCase.Metadata)
            {
                throw new ModelBoxException(StatusCode.Internal, $"the ModelBox server at {Address} sent no metadata frame for file '{fileId}'");
            }

            var file = stream.Current.Metadata.ToSdk();
            var received = progressBase;
            while (await stream.MoveNext(cancellationToken).ConfigureAwait(false))
            {
                var chunk = stream.Current.Chunks.Memory;
                hash?.AppendData(chunk.Span);
                secondHash?.AppendData(chunk.Span);
                await destination.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
                received += chunk.Length;
                progress?.Report(received);
            }

            await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
            return file;
        }
        catch (RpcException exception)
        {
            throw ModelBoxException.FromRpcException(exception, Address);
        }
    }

    /// <summary>Hashes a stream to its end with large reads (a hash pass is bound by the hash, not by syscalls).</summary>
    private static async Task<long> HashExistingAsync(Stream part, IncrementalHash md5, IncrementalHash? sha256, CancellationToken cancellationToken)
    {
        const int HashBufferBytes = 1024 * 1024;
        var buffer = ArrayPool<byte>.Shared.Rent(HashBufferBytes);
        try
        {
            long total = 0;
            int read;
            while ((read = await part.ReadAsync(buffer.AsMemory(0, HashBufferBytes), cancellationToken).ConfigureAwait(false)) > 0)
            {
                md5.AppendData(buffer, 0, read);
                sha256?.AppendData(buffer, 0, read);
                total += read;
            }

            return total;
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
