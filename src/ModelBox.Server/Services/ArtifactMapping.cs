using System.Runtime.CompilerServices;
using Google.Protobuf.Collections;
using Grpc.Core;
using ModelBox.Domain;
using ModelBox.Domain.Operations;
using Proto = ModelBox.Protocol;

namespace ModelBox.Server.Services;

/// <summary>Wire ↔ domain mapping of files, and of the frames of an upload stream.</summary>
internal static class ArtifactMapping
{
    public static NewFile ToNewFile(this Proto.FileMetadata file) => new(
        file.ParentId,
        (FileType)file.FileType,
        file.Path,
        file.Checksum,
        file.Sha256,
        file.Uri,
        file.SizeBytes);

    public static UploadResume ToUploadResume(this Proto.UploadResume resume) => new(resume.UploadId, resume.Offset);

    public static List<NewFile> ToNewFiles(this RepeatedField<Proto.FileMetadata> files) => files.Select(f => f.ToNewFile()).ToList();

    public static Proto.FileMetadata ToProto(this FileRecord file) => new()
    {
        Id = file.Id,
        ParentId = file.ParentId,
        FileType = (Proto.FileType)file.Type,
        Checksum = file.Md5,
        Path = file.Path,
        SizeBytes = (ulong)file.SizeBytes,
        Sha256 = file.Sha256,
        Uri = file.Uri,
        CreatedAt = file.CreatedAt.ToTimestamp(),
        UpdatedAt = file.UpdatedAt.ToTimestamp(),
    };

    public static Proto.TrackArtifactsResponse ToResponse(this IReadOnlyList<FileRecord> tracked) =>
        new() { NumFilesTracked = tracked.Count, CreatedAt = tracked[0].CreatedAt.ToTimestamp() };

    /// <summary>The first frame of an upload, which must describe the file.</summary>
    public static async Task<NewFile> ReadUploadMetadataAsync(this IAsyncStreamReader<Proto.UploadFileRequest> requestStream, CancellationToken cancellationToken)
    {
        if (!await ReadNextAsync(requestStream, cancellationToken))
        {
            throw ModelBoxException.InvalidArgument("the upload has no frames: the first frame must be the file's metadata");
        }

        if (requestStream.Current.StreamFrameCase != Proto.UploadFileRequest.StreamFrameOneofCase.Metadata)
        {
            throw ModelBoxException.InvalidArgument("the first frame of an upload must be the file's metadata, not chunks");
        }

        return requestStream.Current.Metadata.ToNewFile();
    }

    /// <summary>The bytes of the frames after the metadata; the checksums frame, when one ends the stream, goes to <paramref name="trailer"/>.</summary>
    public static async IAsyncEnumerable<ReadOnlyMemory<byte>> ReadUploadChunksAsync(
        this IAsyncStreamReader<Proto.UploadFileRequest> requestStream,
        StrongBox<ClaimedChecksums?> trailer,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (await ReadNextAsync(requestStream, cancellationToken))
        {
            var frame = requestStream.Current;
            if (trailer.Value is not null)
            {
                throw ModelBoxException.InvalidArgument("the checksums frame of an upload must be its last frame; another frame followed it");
            }

            switch (frame.StreamFrameCase)
            {
                case Proto.UploadFileRequest.StreamFrameOneofCase.Chunks:
                    // The frame's bytes are immutable and not reused by the reader: no copy needed.
                    yield return frame.Chunks.Memory;
                    break;
                case Proto.UploadFileRequest.StreamFrameOneofCase.Checksums:
                    trailer.Value = new ClaimedChecksums(frame.Checksums.Md5, frame.Checksums.Sha256);
                    break;
                case Proto.UploadFileRequest.StreamFrameOneofCase.Metadata:
                    throw ModelBoxException.InvalidArgument("an upload carries one metadata frame, first; a later frame held metadata again");
                default:
                    throw ModelBoxException.InvalidArgument("an upload frame must hold chunks or checksums; one held nothing");
            }
        }
    }

    /// <summary>A client that goes away mid-stream is a cancellation, not a server error.</summary>
    private static async Task<bool> ReadNextAsync(IAsyncStreamReader<Proto.UploadFileRequest> requestStream, CancellationToken cancellationToken)
    {
        try
        {
            return await requestStream.MoveNext(cancellationToken);
        }
        catch (IOException)
        {
            // Kestrel reports a reset stream before (or without) cancelling the call's token; either way nobody waits
            // for an answer, and the upload's temporary blob is dropped on the way out.
            throw new RpcException(new Status(StatusCode.Cancelled, "the client went away during the upload"));
        }
    }
}
