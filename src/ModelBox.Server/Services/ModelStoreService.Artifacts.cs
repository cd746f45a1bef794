using System.Buffers;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using Grpc.Core;
using ModelBox.Domain.Operations;
using ModelBox.Protocol;
using ModelBox.Domain.Telemetry;

namespace ModelBox.Server.Services;

// Artifacts: uploads, downloads and the records of files.
public sealed partial class ModelStoreService
{
    /// <summary>Download chunk size: below the large object heap, large enough to keep per-message overhead small.</summary>
    internal const int DownloadChunkBytes = 64 * 1024;

    /// <summary>
    /// The largest chunk a client may ask for: a message stays within the 4 MiB every gRPC client accepts by default, and
    /// the read buffer of a download stays small.
    /// </summary>
    internal const int MaxDownloadChunkBytes = (4 * 1024 * 1024) - 1024;

    public override async Task<UploadFileResponse> UploadFile(IAsyncStreamReader<UploadFileRequest> requestStream, ServerCallContext context)
    {
        using var slot = streams.EnterUpload(context);
        var file = await requestStream.ReadUploadMetadataAsync(context.CancellationToken);
        // The metadata frame is still current: its resume field makes the upload resumable.
        var resume = requestStream.Current.Resume?.ToUploadResume();
        var trailer = new StrongBox<ClaimedChecksums?>();
        var record = await artifacts.UploadAsync(
            file, requestStream.ReadUploadChunksAsync(trailer, context.CancellationToken), () => trailer.Value, resume, context.CancellationToken);
        return new UploadFileResponse { FileId = record.Id };
    }

    public override async Task<GetUploadStatusResponse> GetUploadStatus(GetUploadStatusRequest request, ServerCallContext context)
    {
        var (received, inProgress) = await artifacts.GetUploadStatusAsync(request.ParentId, request.UploadId, context.CancellationToken);
        return new GetUploadStatusResponse { ReceivedBytes = (ulong)received, InProgress = inProgress };
    }

    public override async Task DownloadFile(DownloadFileRequest request, IServerStreamWriter<DownloadFileResponse> responseStream, ServerCallContext context)
    {
        var cancellationToken = context.CancellationToken;
        // Debug-level phases, for a download that stalls (docs/reliability.md); nothing is formatted when debug is off.
        var trace = logger.IsEnabled(LogLevel.Debug) ? context.GetHttpContext().TraceIdentifier : string.Empty;
        ServerLog.DownloadPhase(logger, request.FileId, trace, "entered", 0);
        // The window covers the read buffer and the chunk waiting in the transport; under memory pressure it is smaller
        // than asked, and so are the chunks (clients take chunks of any size).
        using var lease = await streams.EnterDownloadAsync(context, 2L * DownloadChunkSize(request.ChunkSizeBytes));
        ServerLog.DownloadPhase(logger, request.FileId, trace, "window", lease.Window);
        var chunkBytes = (int)(lease.Window / 2);
        var download = await artifacts.OpenDownloadAsync(request.FileId, request.Offset, request.Length, cancellationToken);
        ServerLog.DownloadPhase(logger, request.FileId, trace, "opened", download.Length);
        await using (download)
        {
            await responseStream.WriteAsync(new DownloadFileResponse { Metadata = download.File.ToProto() }, cancellationToken);
            ServerLog.DownloadPhase(logger, request.FileId, trace, "metadata written", 0);
            var buffer = ArrayPool<byte>.Shared.Rent(chunkBytes);
            try
            {
                long sent = 0;
                int read;
                while ((read = await ReadChunkAsync(download, buffer, chunkBytes, sent, cancellationToken)) > 0)
                {
                    // WriteAsync serializes the message before it completes, so the buffer can be reused after it.
                    await responseStream.WriteAsync(
                        new DownloadFileResponse { Chunks = UnsafeByteOperations.UnsafeWrap(buffer.AsMemory(0, read)) }, cancellationToken);
                    ModelBoxMetrics.BytesDownloaded.Add(read);
                    sent += read;
                }

                ServerLog.DownloadPhase(logger, request.FileId, trace, "sent", sent);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    public override async Task<TrackArtifactsResponse> TrackArtifacts(TrackArtifactsRequest request, ServerCallContext context) =>
        (await artifacts.TrackAsync(request.Files.ToNewFiles(), context.CancellationToken)).ToResponse();

    public override async Task<ListArtifactsResponse> ListArtifacts(ListArtifactsRequest request, ServerCallContext context)
    {
        var files = await artifacts.ListAsync(request.ParentId, context.CancellationToken);
        var response = new ListArtifactsResponse();
        response.Files.Add(files.Select(f => f.ToProto()));
        return response;
    }

    public override async Task<GetArtifactResponse> GetArtifact(GetArtifactRequest request, ServerCallContext context) =>
        new() { File = (await artifacts.GetAsync(request.Id, context.CancellationToken)).ToProto() };

    public override async Task<DeleteArtifactResponse> DeleteArtifact(DeleteArtifactRequest request, ServerCallContext context) =>
        new() { DeletedAt = (await artifacts.DeleteAsync(request.Id, context.CancellationToken)).ToTimestamp() };

    /// <summary>The chunk size of a download: 64 KiB unless the client asks otherwise, at most 4 MiB − 1 KiB and below the max message size.</summary>
    private int DownloadChunkSize(uint requested) =>
        requested == 0 ? DownloadChunkBytes : (int)Math.Clamp(requested, 1, Math.Min(MaxDownloadChunkBytes, config.MaxMessageSizeBytes - 1024));

    /// <summary>Reads up to one chunk of the range (fewer bytes only at its end); 0 when the range is sent.</summary>
    private static async Task<int> ReadChunkAsync(FileDownload download, byte[] buffer, int chunkBytes, long sent, CancellationToken cancellationToken)
    {
        var want = (int)Math.Min(chunkBytes, download.Length - sent);
        var filled = 0;
        while (filled < want)
        {
            var read = await download.Content.ReadAsync(buffer.AsMemory(filled, want - filled), cancellationToken);
            if (read == 0)
            {
                throw new InvalidOperationException(
                    $"the blob of file '{download.File.Id}' ended after {download.Offset + sent + filled} of {download.File.SizeBytes} bytes");
            }

            filled += read;
        }

        return filled;
    }
}
