using System.Collections.Concurrent;

namespace ModelBox.Client;

/// <summary>A file of a pulled model version: its record, where the verified bytes are in the cache, and the copy in the target folder (if any).</summary>
/// <param name="File">The file record.</param>
/// <param name="CachePath">The content-addressed copy (<c>CACHE/sha256/ab/abcdef…</c>).</param>
/// <param name="LocalPath">The copy in the requested folder, named after the file's path; the cache path when no folder was given.</param>
public sealed record PulledFile(ArtifactFile File, string CachePath, string LocalPath);

/// <summary>A model version resolved from a reference, with its files present locally.</summary>
public sealed record PulledModel(ModelVersion Version, IReadOnlyList<PulledFile> Files)
{
    /// <summary>The files of the version that were not pulled, each with the reason.</summary>
    public IReadOnlyList<SkippedFile> Skipped { get; init; } = [];
}

/// <summary>A file a pull left out: tracked elsewhere (no bytes on the server), or a name that cannot be placed safely.</summary>
/// <param name="File">The file record.</param>
/// <param name="Reason">Why, in a sentence fragment (for a warning line).</param>
public sealed record SkippedFile(ArtifactFile File, string Reason);

/// <summary>
/// A local content-addressed cache of model files keyed by SHA-256. A file is downloaded once, verified against the
/// server's checksum, written to a temporary file and renamed into place, so a reader never sees a partial file and two
/// processes (or threads) fetching the same file at once both end with the same complete copy. Files already cached are reused.
/// </summary>
public sealed class ModelCache
{
    private readonly ModelBoxClient _client;
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _inFlight = new(StringComparer.Ordinal);

    /// <param name="client">The client that resolves references and downloads files.</param>
    /// <param name="directory">The cache folder; created when missing.</param>
    public ModelCache(ModelBoxClient client, string directory)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _client = client;
        Directory = Path.GetFullPath(directory);
    }

    /// <summary>The cache folder.</summary>
    public string Directory { get; }

    /// <summary>The default cache folder: <c>MODELBOX_CACHE_DIR</c>, else <c>~/.cache/modelbox</c>.</summary>
    public static string DefaultDirectory =>
        Environment.GetEnvironmentVariable("MODELBOX_CACHE_DIR") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "modelbox");

    /// <summary>
    /// Resolves <c>namespace/model@alias</c> or <c>namespace/model:version</c> and makes its stored files present locally.
    /// With <paramref name="targetDirectory"/>, each file is also copied there under its file name.
    /// </summary>
    /// <param name="reference">The reference.</param>
    /// <param name="targetDirectory">A folder to place the files in, or null to use the cache paths.</param>
    /// <param name="cancellationToken">Cancels the pull; finished files stay cached.</param>
    public async Task<PulledModel> PullAsync(string reference, string? targetDirectory = null, CancellationToken cancellationToken = default)
    {
        var version = await _client.ResolveModelVersionAsync(reference, cancellationToken).ConfigureAwait(false);
        return await PullAsync(version, targetDirectory, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Makes the stored files of a version present locally. What cannot be pulled is left out and listed in
    /// <see cref="PulledModel.Skipped"/>: files tracked elsewhere (no bytes on the server) and, with a target folder, files
    /// whose name cannot be placed in it safely (<c>.</c>, <c>..</c>, control characters, or the name of an earlier file).
    /// </summary>
    /// <param name="version">The version (as returned with its files).</param>
    /// <param name="targetDirectory">A folder to place the files in, or null.</param>
    /// <param name="cancellationToken">Cancels the pull.</param>
    public async Task<PulledModel> PullAsync(ModelVersion version, string? targetDirectory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(version);
        var files = new List<PulledFile>();
        var skipped = new List<SkippedFile>();
        var folder = targetDirectory is null ? null : Path.GetFullPath(targetDirectory);
        var taken = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in version.Files)
        {
            // Uploaded files have their bytes on the server; tracked ones live at their URI, whatever checksums they carry.
            if (file.Uri.Length > 0 || file.Sha256.Length != 64)
            {
                skipped.Add(new SkippedFile(file, file.Uri.Length > 0 ? $"tracked at {file.Uri}, not stored on the server" : "not stored on the server"));
                continue;
            }

            string? local = null;
            if (folder is not null)
            {
                // Only the file name: a path from the server must not write outside the target folder.
                var name = Path.GetFileName(file.Path.Replace('\\', '/'));
                name = name.Length > 0 ? name : file.Id;
                if (UnsafeName(name) is { } why)
                {
                    skipped.Add(new SkippedFile(file, why));
                    continue;
                }

                if (!taken.Add(name))
                {
                    skipped.Add(new SkippedFile(file, $"another file of the version is already placed as '{name}'"));
                    continue;
                }

                local = Path.Combine(folder, name);
            }

            var cached = await GetAsync(file, cancellationToken).ConfigureAwait(false);
            if (local is not null)
            {
                System.IO.Directory.CreateDirectory(folder!);
                await PlaceAsync(cached, local, cancellationToken).ConfigureAwait(false);
            }

            files.Add(new PulledFile(file, cached, local ?? cached));
        }

        return new PulledModel(version, files) { Skipped = skipped };
    }

    /// <summary>Why a file name cannot be a file in the target folder, or null when it can.</summary>
    private static string? UnsafeName(string name) =>
        name is "." or ".."
            ? $"its name '{name}' is not a file name"
            : name.Any(char.IsControl) || name.Contains('\0', StringComparison.Ordinal)
                ? "its name holds control characters"
                : null;

    /// <summary>The cached copy of a file, downloading and verifying it first when it is not cached yet.</summary>
    /// <param name="file">The file record (with its SHA-256).</param>
    /// <param name="cancellationToken">Cancels the download.</param>
    public Task<string> GetAsync(ArtifactFile file, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        var sha = file.Sha256.ToLowerInvariant();
        if (sha.Length != 64 || !sha.All(char.IsAsciiHexDigitLower))
        {
            throw new ArgumentException($"file '{file.Id}' has no SHA-256 (only uploaded files can be cached)", nameof(file));
        }

        var path = Path.Combine(Directory, "sha256", sha[..2], sha);
        if (File.Exists(path))
        {
            return Task.FromResult(path);
        }

        // One download per file in this process; other processes are handled by the atomic rename.
        var fetch = _inFlight.GetOrAdd(sha, _ => new Lazy<Task<string>>(() => DownloadAsync(file, path, cancellationToken)));
        return AwaitAndForgetAsync(sha, fetch);
    }

    private async Task<string> AwaitAndForgetAsync(string sha, Lazy<Task<string>> fetch)
    {
        try
        {
            return await fetch.Value.ConfigureAwait(false);
        }
        finally
        {
            _inFlight.TryRemove(new KeyValuePair<string, Lazy<Task<string>>>(sha, fetch));
        }
    }

    private async Task<string> DownloadAsync(ArtifactFile file, string path, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0, FileOptions.Asynchronous);
            await using (stream.ConfigureAwait(false))
            {
                // Verifies the SHA-256 of what arrived against the server's record; throws DataLoss otherwise.
                var received = await _client.DownloadFileAsync(file.Id, stream, null, cancellationToken).ConfigureAwait(false);
                if (!string.Equals(received.Sha256, file.Sha256, StringComparison.OrdinalIgnoreCase))
                {
                    throw new ModelBoxException(Grpc.Core.StatusCode.DataLoss, $"file '{file.Id}' changed: expected SHA-256 {file.Sha256}, the server sent {received.Sha256}");
                }

                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            MoveIntoPlace(temporary, path);
            return path;
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private static async Task PlaceAsync(string cached, string local, CancellationToken cancellationToken)
    {
        var temporary = $"{local}.{Guid.NewGuid():N}.tmp";
        try
        {
            var source = new FileStream(cached, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.Asynchronous);
            await using (source.ConfigureAwait(false))
            {
                var target = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0, FileOptions.Asynchronous);
                await using (target.ConfigureAwait(false))
                {
                    await source.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
                }
            }

            File.Move(temporary, local, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Renames a verified download into its content address; when another fetcher got there first, its copy (same bytes) stays.</summary>
    private static void MoveIntoPlace(string temporary, string path)
    {
        try
        {
            File.Move(temporary, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
        }
    }
}

public sealed partial class ModelBoxClient
{
    /// <summary>
    /// Resolves <c>namespace/model@alias</c> or <c>namespace/model:version</c>, downloads its files into a content-addressed
    /// cache (verified, reused when present) and returns their local paths.
    /// </summary>
    /// <param name="reference">The reference.</param>
    /// <param name="targetDirectory">A folder to copy the files into, or null to use the cache paths.</param>
    /// <param name="cacheDirectory">The cache folder; null is <see cref="ModelCache.DefaultDirectory"/>.</param>
    /// <param name="cancellationToken">Cancels the pull.</param>
    public Task<PulledModel> PullModelAsync(
        string reference, string? targetDirectory = null, string? cacheDirectory = null, CancellationToken cancellationToken = default) =>
        new ModelCache(this, cacheDirectory ?? ModelCache.DefaultDirectory).PullAsync(reference, targetDirectory, cancellationToken);
}
