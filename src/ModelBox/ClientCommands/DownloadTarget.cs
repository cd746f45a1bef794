using ModelBox.Client;

namespace ModelBox.Cli.ClientCommands;

/// <summary>
/// Where `artifacts download` writes a file, and the download itself with errors that name the user's path: folders
/// are created, a folder target gets the file's own name, and a failed download leaves no empty <c>.part</c> file (a
/// partial one is kept, and the message says that running the command again resumes).
/// </summary>
internal static class DownloadTarget
{
    /// <summary><c>--path</c>: an existing folder (or one spelled with a trailing slash) gets the file's own name.</summary>
    public static string ForFile(string userPath, ArtifactFile record)
    {
        var isFolder = Directory.Exists(userPath) || userPath.EndsWith('/') || userPath.EndsWith(Path.DirectorySeparatorChar);
        return isFolder ? Path.Combine(userPath, FileName(record)) : userPath;
    }

    /// <summary><c>--dir</c>: the file under its recorded relative path, which must stay inside the folder.</summary>
    public static string InFolder(string folder, ArtifactFile record)
    {
        var root = Path.GetFullPath(folder);
        var target = Path.GetFullPath(Path.Combine(root, RelativePath(record)));
        if (!target.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new CliOperationException($"file {record.Id} has the path '{record.Path}', which leads outside {folder}; download it with --id and --path");
        }

        return target;
    }

    /// <summary>The recorded path as a relative path (a leading slash or drive is dropped); the id when there is none.</summary>
    public static string RelativePath(ArtifactFile record)
    {
        var path = record.Path.Replace('\\', '/').TrimStart('/');
        return path.Length > 0 ? path : record.Id;
    }

    /// <summary>Downloads <paramref name="record"/> to <paramref name="target"/>; <paramref name="shown"/> is how the user spelled it.</summary>
    public static async Task<ArtifactFile> DownloadAsync(
        ModelBoxClient client, ArtifactFile record, string target, string shown, IProgress<long>? progress, CancellationToken ct)
    {
        var partPath = target + ".part";
        try
        {
            if (Path.GetDirectoryName(Path.GetFullPath(target)) is { } folder)
            {
                Directory.CreateDirectory(folder);
            }

            return await client.DownloadFileAsync(record.Id, target, progress, ct);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            RemoveIfEmpty(partPath);
            throw new CliOperationException($"cannot write {shown}: {Reason(ex)}{KeptNote(partPath)}");
        }
        catch (ModelBoxException ex)
        {
            RemoveIfEmpty(partPath);
            throw new CliOperationException($"downloading {record.Id} to {shown} failed: {ex.Message}{KeptNote(partPath)}");
        }
        catch (OperationCanceledException)
        {
            RemoveIfEmpty(partPath);
            throw;
        }
    }

    private static string FileName(ArtifactFile record) => Path.GetFileName(RelativePath(record)) is { Length: > 0 } name ? name : record.Id;

    private static void RemoveIfEmpty(string partPath)
    {
        try
        {
            if (File.Exists(partPath) && new FileInfo(partPath).Length == 0)
            {
                File.Delete(partPath);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Nothing more to clean up than what the user can see.
        }
    }

    private static string KeptNote(string partPath) =>
        File.Exists(partPath) ? $" (the bytes received so far are in {partPath}: the same command resumes from there)" : string.Empty;

    // The operating system's reason without .NET's wording or the internal .part path.
    private static string Reason(Exception ex) => ex switch
    {
        UnauthorizedAccessException => "permission denied",
        DirectoryNotFoundException => "a folder on the way does not exist",
        _ => ex.Message.Split(" : '", 2)[0].TrimEnd('.').ToLowerInvariant(),
    };
}
