using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using ModelBox.Domain.Operations;
using ModelBox.Server.Configuration;

namespace ModelBox.Server.Mlflow;

/// <summary>
/// MLflow's multipart upload through the proxied artifact API (<c>mlflow-artifacts/mpu/create|complete|abort</c>), which
/// the client uses for large files. create hands out one URL per part on this server
/// (<c>mlflow-artifacts/mpu/part/UPLOAD/N</c>); each part is kept as a file in the data folder and answered with its MD5 as
/// ETag; complete checks the client's list of parts and ETags and streams the parts in order into ModelBox's verified
/// artifact store as one file (the same path as a PUT takes); abort deletes the parts. The state of an upload is its folder
/// (a small manifest beside the parts), so an upload survives a restart; uploads untouched for a week are removed.
/// </summary>
public sealed class MlflowMultipartUploads(MlflowArtifactsApi artifacts, ServerConfig config, ArtifactOptions limits)
{
    public const int MaxParts = 10_000;
    private static readonly TimeSpan Abandoned = TimeSpan.FromDays(7);

    private string Root => Path.Combine(Path.GetFullPath(config.DataDir), "mlflow-uploads");

    public async Task CreateAsync(HttpContext context, MlflowRequest request)
    {
        var cancellationToken = context.RequestAborted;
        var (runId, path) = await artifacts.ResolveFileAsync(RoutePath(context), cancellationToken);
        var parts = request.Long("num_parts") ?? throw MlflowException.Missing("num_parts");
        if (parts is < 1 or > MaxParts)
        {
            throw MlflowException.Invalid($"num_parts must be between 1 and {MaxParts}; got {parts}");
        }

        var uploadId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var folder = Directory.CreateDirectory(Path.Combine(Root, uploadId)).FullName;
        await File.WriteAllTextAsync(
            Path.Combine(folder, "upload.json"), JsonSerializer.Serialize(new Manifest(runId, path, (int)parts)), cancellationToken);
        var partsUrl = $"{context.Request.Scheme}://{context.Request.Host}{context.Request.PathBase}{PrefixOf(context)}/mlflow-artifacts/mpu/part/{uploadId}/";
        await MlflowJson.WriteAsync(context, w =>
        {
            w.WriteString("upload_id", uploadId);
            w.WriteStartArray("credentials");
            for (var part = 1; part <= parts; part++)
            {
                w.WriteStartObject();
                w.WriteString("url", partsUrl + part.ToString(CultureInfo.InvariantCulture));
                w.WriteNumber("part_number", part);
                w.WriteStartObject("headers");
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
        });
    }

    /// <summary>PUT of one part to the URL create handed out; answered with the part's MD5 as ETag.</summary>
    public async Task UploadPartAsync(HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        var (folder, manifest) = await OpenAsync(context.Request.RouteValues["upload"] as string, cancellationToken);
        var part = int.TryParse(context.Request.RouteValues["part"] as string, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1 && n <= manifest.Parts
            ? n
            : throw MlflowException.Invalid($"part number must be between 1 and {manifest.Parts}");
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = limits.MaxUploadSizeBytes;
        }

        var target = PartFile(folder, part);
        var partial = target + ".partial";
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 81920, useAsync: true))
        {
            var buffer = new byte[81920];
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer, cancellationToken)) > 0)
            {
                md5.AppendData(buffer, 0, read);
                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }
        }

        File.Move(partial, target, overwrite: true);
        context.Response.Headers.ETag = "\"" + Convert.ToHexStringLower(md5.GetHashAndReset()) + "\"";
        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task CompleteAsync(HttpContext context, MlflowRequest request)
    {
        var cancellationToken = context.RequestAborted;
        var (folder, runId, path) = await OpenOfPathAsync(context, request, cancellationToken);
        var parts = request.Messages("parts");
        if (parts.Count == 0)
        {
            throw MlflowException.Missing("parts");
        }

        var numbers = new List<int>(parts.Count);
        for (var i = 0; i < parts.Count; i++)
        {
            var number = parts[i].Long("part_number") ?? throw MlflowException.Missing($"parts[{i}].part_number");
            if (number != i + 1)
            {
                throw MlflowException.Invalid($"parts[{i}].part_number is {number}; parts must be listed 1, 2, 3 ... in order");
            }

            var file = PartFile(folder, (int)number);
            if (!File.Exists(file))
            {
                throw MlflowException.Invalid($"part {number} of upload {request.RequiredString("upload_id")} was not uploaded");
            }

            if (parts[i].String("etag") is { Length: > 0 } etag && !string.Equals(etag.Trim('"'), await Md5Async(file, cancellationToken), StringComparison.OrdinalIgnoreCase))
            {
                throw MlflowException.Invalid($"parts[{i}].etag does not match the part this server received");
            }

            numbers.Add((int)number);
        }

        await artifacts.StoreAsync(runId, path, PartsAsync(folder, numbers, cancellationToken), cancellationToken);
        Directory.Delete(folder, recursive: true);
        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task AbortAsync(HttpContext context, MlflowRequest request)
    {
        var (folder, _, _) = await OpenOfPathAsync(context, request, context.RequestAborted);
        Directory.Delete(folder, recursive: true);
        await MlflowJson.WriteEmptyAsync(context);
    }

    /// <summary>The ModelBox experiment (the MLflow run) an upload goes to, for the access check of its part uploads.</summary>
    internal async Task<string> RunOfUploadAsync(string? uploadId, CancellationToken cancellationToken) =>
        (await OpenAsync(uploadId, cancellationToken).ConfigureAwait(false)).Manifest.RunId;

    private sealed record Manifest(string RunId, string Path, int Parts);

    /// <summary>The upload named by upload_id, which must be an upload of the file the route names.</summary>
    private async Task<(string Folder, string RunId, string Path)> OpenOfPathAsync(HttpContext context, MlflowRequest request, CancellationToken cancellationToken)
    {
        var (runId, path) = await artifacts.ResolveFileAsync(RoutePath(context), cancellationToken);
        var uploadId = request.RequiredString("upload_id");
        var (folder, manifest) = await OpenAsync(uploadId, cancellationToken);
        return manifest.RunId == runId && manifest.Path == path
            ? (folder, runId, path)
            : throw MlflowException.Invalid($"upload {uploadId} is not an upload of '{path}'");
    }

    private static string RoutePath(HttpContext context) => context.Request.RouteValues["path"] as string ?? string.Empty;

    /// <summary>/api/2.0 or /ajax-api/2.0, whichever the request came through.</summary>
    private static string PrefixOf(HttpContext context) =>
        MlflowEndpoints.Prefixes.First(p => context.Request.Path.StartsWithSegments(p, StringComparison.Ordinal));

    private async Task<(string Folder, Manifest Manifest)> OpenAsync(string? uploadId, CancellationToken cancellationToken)
    {
        if (uploadId is not { Length: 32 } || !uploadId.All(char.IsAsciiHexDigitLower))
        {
            throw MlflowException.Invalid($"upload_id '{uploadId}' is not an upload id this server handed out");
        }

        var folder = Path.Combine(Root, uploadId);
        var manifest = Path.Combine(folder, "upload.json");
        if (!File.Exists(manifest))
        {
            throw MlflowException.NotFound($"Upload {uploadId} does not exist (completed, aborted, or never created)");
        }

        return (folder, JsonSerializer.Deserialize<Manifest>(await File.ReadAllTextAsync(manifest, cancellationToken))!);
    }

    private static string PartFile(string folder, int part) => Path.Combine(folder, "part-" + part.ToString("D5", CultureInfo.InvariantCulture));

    private static async Task<string> Md5Async(string file, CancellationToken cancellationToken)
    {
        await using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(await MD5.HashDataAsync(stream, cancellationToken));
    }

    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> PartsAsync(
        string folder, IReadOnlyList<int> parts, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var part in parts)
        {
            await using var stream = new FileStream(PartFile(folder, part), FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true);
            await foreach (var chunk in MlflowArtifactsApi.ChunksAsync(stream, cancellationToken))
            {
                yield return chunk;
            }
        }
    }

    /// <summary>
    /// Removes uploads untouched for a week (a client that never completed nor aborted); the periodic artifact sweep calls
    /// this. Returns how many were removed.
    /// </summary>
    public int RemoveAbandoned(DateTimeOffset now)
    {
        if (!Directory.Exists(Root))
        {
            return 0;
        }

        var removed = 0;
        foreach (var folder in Directory.EnumerateDirectories(Root))
        {
            if (now.UtcDateTime - Directory.GetLastWriteTimeUtc(folder) > Abandoned)
            {
                try
                {
                    Directory.Delete(folder, recursive: true);
                    removed++;
                }
                catch (IOException)
                {
                    // Another request is using it; the next sweep tries again.
                }
            }
        }

        return removed;
    }
}
