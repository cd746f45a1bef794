using System.Buffers;
using Microsoft.Net.Http.Headers;
using ModelBox.Domain;
using ModelBox.Domain.Operations;
using ModelBox.Domain.Telemetry;
using ModelBox.Protocol;
using ModelBox.Server.Security;

namespace ModelBox.Server.WebUi;

/// <summary>
/// <c>GET /api/v1/artifacts/{id}/download</c>: an uploaded file's bytes as a plain HTTP download (what a browser's link
/// needs; the transcoded DownloadFile route streams JSON messages). Sends the file's size, its SHA-256 as the ETag and in
/// a <c>Repr-Digest</c> header, and its original name; a <c>Range</c> of one byte range resumes an interrupted download.
/// Memory is one 64 KiB buffer per download: each chunk is written before the next is read. With auth enforced the
/// caller is checked like a DownloadFile call (viewer on the file's namespace).
/// </summary>
internal static class ArtifactDownloadEndpoint
{
    private const int ChunkBytes = 64 * 1024;

    private static readonly string s_downloadMethod = $"/{ModelStore.Descriptor.FullName}/DownloadFile";

    public static async Task DownloadAsync(HttpContext context, string id, ArtifactStore artifacts, AccessGate gate, ILoggerFactory loggers)
    {
        var cancellationToken = context.RequestAborted;
        FileDownload download;
        try
        {
            await gate.AuthorizeLikeAsync(context, s_downloadMethod, new DownloadFileRequest { FileId = id });
            var file = await artifacts.GetAsync(id, cancellationToken);
            var (offset, length) = Range(context.Request, file.SizeBytes);
            download = await artifacts.OpenDownloadAsync(id, (ulong)offset, (ulong)length, cancellationToken);
        }
        catch (ModelBoxException e)
        {
            await HttpErrors.WriteAsync(context, e);
            return;
        }

        await using (download)
        {
            var response = context.Response;
            var record = download.File;
            response.ContentType = "application/octet-stream";
            response.ContentLength = download.Length;
            response.Headers.ETag = $"\"{record.Sha256}\"";
            response.Headers.AcceptRanges = "bytes";
            response.Headers["Repr-Digest"] = $"sha-256=:{Convert.ToBase64String(Convert.FromHexString(record.Sha256))}:";
            response.Headers.ContentDisposition = new ContentDispositionHeaderValue("attachment") { FileNameStar = FileName(record.Path) }.ToString();
            if (download.Offset > 0 || download.Length < record.SizeBytes)
            {
                response.StatusCode = StatusCodes.Status206PartialContent;
                response.Headers.ContentRange = $"bytes {download.Offset}-{download.Offset + download.Length - 1}/{record.SizeBytes}";
            }

            if (HttpMethods.IsHead(context.Request.Method))
            {
                return;
            }

            var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
            try
            {
                int read;
                while ((read = await download.Content.ReadAsync(buffer.AsMemory(0, ChunkBytes), cancellationToken)) > 0)
                {
                    await response.Body.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    ModelBoxMetrics.BytesDownloaded.Add(read);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                WebUiLog.DownloadAborted(loggers.CreateLogger(typeof(ArtifactDownloadEndpoint)), record.Id, "the client went away");
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>The requested range as (offset, length); length 0 is to the end. Only a single <c>bytes=a-b</c>/<c>a-</c> range.</summary>
    private static (long Offset, long Length) Range(HttpRequest request, long size)
    {
        var header = request.Headers.Range.ToString();
        if (header.Length == 0)
        {
            return (0, 0);
        }

        if (!RangeHeaderValue.TryParse(header, out var range) || range.Ranges.Count != 1 || range.Ranges.First().From is not { } from)
        {
            throw ModelBoxException.InvalidArgument($"Range '{header}' is not one byte range 'bytes=FIRST-[LAST]'");
        }

        var to = range.Ranges.First().To;
        if (from >= size && size > 0)
        {
            throw ModelBoxException.InvalidArgument($"Range '{header}' starts past the end of the file ({size} bytes)");
        }

        return (from, to is { } last && last >= from ? Math.Min(last, size - 1) - from + 1 : 0);
    }

    private static string FileName(string path)
    {
        var name = path.Replace('\\', '/');
        var slash = name.LastIndexOf('/');
        name = slash >= 0 ? name[(slash + 1)..] : name;
        return name.Length == 0 ? "artifact" : name;
    }
}
