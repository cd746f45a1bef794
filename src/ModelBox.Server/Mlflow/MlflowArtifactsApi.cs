using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http.Features;
using ModelBox.Domain;
using ModelBox.Domain.Operations;

namespace ModelBox.Server.Mlflow;

/// <summary>
/// MLflow's proxied artifact API (<c>/api/2.0/mlflow-artifacts/artifacts/...</c>) and the tracking API's
/// <c>artifacts/list</c>, over ModelBox's verified artifact store. A run's artifact root is
/// <c>mlflow-artifacts:/EXPERIMENT/RUN/artifacts</c>; a file below it is a file of the run's ModelBox experiment whose
/// path is the part after <c>artifacts/</c>. Uploading a path again replaces the file.
/// </summary>
public sealed class MlflowArtifactsApi(ArtifactStore artifacts, MlflowTrackingApi tracking)
{
    private const int ChunkSize = 256 * 1024;

    public async Task UploadAsync(HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        var (runId, path) = await RunFileAsync(context, requireFile: true, cancellationToken);
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            // The artifact store enforces its own limit (max_upload_size_bytes) while it reads.
            limit.MaxRequestBodySize = null;
        }

        await StoreAsync(runId, path, ChunksAsync(context.Request.Body, cancellationToken), cancellationToken);
        await MlflowJson.WriteEmptyAsync(context);
    }

    /// <summary>Stores a run's file at <paramref name="path"/>, verified, replacing an earlier upload of the path.</summary>
    internal async Task StoreAsync(string runId, string path, IAsyncEnumerable<ReadOnlyMemory<byte>> content, CancellationToken cancellationToken)
    {
        var previous = (await artifacts.ListAsync(runId, cancellationToken)).Where(f => f.Path == path).ToList();
        await artifacts.UploadAsync(new NewFile(runId, TypeOf(path), path), content, cancellationToken: cancellationToken);
        foreach (var file in previous)
        {
            await artifacts.DeleteAsync(file.Id, cancellationToken);
        }
    }

    /// <summary><c>EXPERIMENT/RUN/artifacts/PATH</c> naming a file → the run's experiment id and PATH.</summary>
    internal Task<(string RunId, string Path)> ResolveFileAsync(string full, CancellationToken cancellationToken) =>
        ResolveAsync(full, requireFile: true, cancellationToken);

    public async Task DownloadAsync(HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        var (runId, path) = await RunFileAsync(context, requireFile: true, cancellationToken);
        var file = (await artifacts.ListAsync(runId, cancellationToken)).LastOrDefault(f => f.Path == path && f.Stored)
            ?? throw MlflowException.NotFound($"No such file or directory: '{path}'");
        await using var download = await artifacts.OpenDownloadAsync(file.Id, 0, 0, cancellationToken);
        context.Response.ContentType = "application/octet-stream";
        context.Response.ContentLength = download.Length;
        await download.Content.CopyToAsync(context.Response.Body, cancellationToken);
    }

    public async Task DeleteAsync(HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        var (runId, path) = await RunFileAsync(context, requireFile: false, cancellationToken);
        var doomed = (await artifacts.ListAsync(runId, cancellationToken))
            .Where(f => path.Length == 0 || f.Path == path || f.Path.StartsWith(path + "/", StringComparison.Ordinal))
            .ToList();
        if (doomed.Count == 0)
        {
            throw MlflowException.NotFound($"No such file or directory: '{path}'");
        }

        foreach (var file in doomed)
        {
            await artifacts.DeleteAsync(file.Id, cancellationToken);
        }

        await MlflowJson.WriteEmptyAsync(context);
    }

    /// <summary>mlflow-artifacts list: the children of <c>path</c> by base name.</summary>
    public async Task ListAsync(HttpContext context, MlflowRequest request)
    {
        var cancellationToken = context.RequestAborted;
        var full = request.String("path") ?? string.Empty;
        var (runId, directory) = await ResolveAsync(full, requireFile: false, cancellationToken);
        var children = Children(await artifacts.ListAsync(runId, cancellationToken), directory);
        await MlflowJson.WriteAsync(context, w => WriteFiles(w, children, baseNames: true));
    }

    /// <summary>artifacts/list of the tracking API: children of <c>path</c> below the run's root, paths relative to the root.</summary>
    public async Task ListRunArtifactsAsync(HttpContext context, MlflowRequest request)
    {
        var cancellationToken = context.RequestAborted;
        var id = MlflowTrackingApi.RunIdOf(request);
        var run = await tracking.GetRunAsync(id, cancellationToken);
        var directory = CleanPath(request.String("path") ?? string.Empty, requireFile: false);
        var children = Children(await artifacts.ListAsync(id, cancellationToken), directory);
        await MlflowJson.WriteAsync(context, w =>
        {
            w.WriteString("root_uri", MlflowRunMapping.ArtifactUri(run));
            WriteFiles(w, children, baseNames: false);
        });
    }

    private static void WriteFiles(System.Text.Json.Utf8JsonWriter writer, IReadOnlyList<(string Path, bool IsDir, long Size)> children, bool baseNames)
    {
        writer.WriteStartArray("files");
        foreach (var (path, isDir, size) in children)
        {
            writer.WriteStartObject();
            writer.WriteString("path", baseNames ? path[(path.LastIndexOf('/') + 1)..] : path);
            writer.WriteBoolean("is_dir", isDir);
            if (!isDir)
            {
                writer.WriteNumber("file_size", size);
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    /// <summary>The direct children of a directory: files and subdirectories, by path, each once (the newest upload of a path).</summary>
    private static List<(string Path, bool IsDir, long Size)> Children(IReadOnlyList<FileRecord> files, string directory)
    {
        var prefix = directory.Length == 0 ? string.Empty : directory + "/";
        var children = new SortedDictionary<string, (bool IsDir, long Size)>(StringComparer.Ordinal);
        foreach (var file in files.Where(f => f.Path.StartsWith(prefix, StringComparison.Ordinal) && f.Path.Length > prefix.Length))
        {
            var rest = file.Path[prefix.Length..];
            var slash = rest.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0)
            {
                children[file.Path] = (false, file.SizeBytes);
            }
            else
            {
                children[prefix + rest[..slash]] = (true, 0);
            }
        }

        return children.Select(c => (c.Key, c.Value.IsDir, c.Value.Size)).ToList();
    }

    private Task<(string RunId, string Path)> RunFileAsync(HttpContext context, bool requireFile, CancellationToken cancellationToken) =>
        ResolveAsync(context.Request.RouteValues["path"] as string ?? string.Empty, requireFile, cancellationToken);

    /// <summary>
    /// <c>EXPERIMENT/RUN/artifacts/PATH</c> → the run's ModelBox experiment id and PATH. Other layouts (an experiment's own
    /// artifacts, artifact locations MLflow did not hand out) are refused.
    /// </summary>
    private async Task<(string RunId, string Path)> ResolveAsync(string full, bool requireFile, CancellationToken cancellationToken)
    {
        var parts = full.Trim('/').Split('/', 4);
        if (parts.Length < 3 || parts[2] != "artifacts")
        {
            throw MlflowException.Invalid(
                $"artifact path '{full}' is not below a run's artifact root (EXPERIMENT_ID/RUN_ID/artifacts/...); this server keeps artifacts of runs only");
        }

        var id = MlflowRunMapping.ExperimentId(parts[1]);
        var run = await tracking.GetRunAsync(id, cancellationToken);
        if (MlflowExperimentCatalog.NumberOf(run.Namespace).ToString(System.Globalization.CultureInfo.InvariantCulture) != parts[0])
        {
            throw MlflowException.NotFound($"Run with id={parts[1]} is not in experiment {parts[0]}");
        }

        return (id, CleanPath(parts.Length == 4 ? parts[3] : string.Empty, requireFile));
    }

    private static string CleanPath(string path, bool requireFile)
    {
        path = path.Trim('/');
        if (path.Split('/').Any(segment => segment is "." or ".." || (segment.Length == 0 && path.Length > 0)) || path.Contains('\\', StringComparison.Ordinal))
        {
            throw MlflowException.Invalid($"Invalid path '{path}': it must not contain '.', '..', empty segments or backslashes");
        }

        if (path.Length > ArtifactStore.MaxPathLength)
        {
            throw MlflowException.Invalid($"artifact path is {path.Length} characters long; the limit is {ArtifactStore.MaxPathLength}");
        }

        return requireFile && path.Length == 0 ? throw MlflowException.Invalid("the artifact path must name a file") : path;
    }

    private static FileType TypeOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".txt" or ".json" or ".yaml" or ".yml" or ".md" or ".csv" or ".log" => FileType.Text,
        ".png" or ".jpg" or ".jpeg" or ".gif" or ".svg" => FileType.Image,
        ".wav" or ".mp3" or ".flac" => FileType.Audio,
        ".mp4" or ".webm" => FileType.Video,
        ".pt" or ".pth" or ".onnx" or ".pkl" or ".safetensors" or ".h5" or ".bin" or ".ckpt" => FileType.Model,
        _ => FileType.Undefined,
    };

    internal static async IAsyncEnumerable<ReadOnlyMemory<byte>> ChunksAsync(Stream body, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
        {
            // A new buffer per chunk: the upload pipeline hashes and writes chunks after this returns them.
            var buffer = new byte[ChunkSize];
            var filled = 0;
            int read;
            while (filled < buffer.Length && (read = await body.ReadAsync(buffer.AsMemory(filled), cancellationToken)) > 0)
            {
                filled += read;
            }

            if (filled == 0)
            {
                yield break;
            }

            yield return buffer.AsMemory(0, filled);
            if (filled < buffer.Length)
            {
                yield break;
            }
        }
    }
}
