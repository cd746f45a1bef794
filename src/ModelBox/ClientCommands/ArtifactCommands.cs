using System.CommandLine;
using System.Globalization;
using ModelBox.Client;
using Spectre.Console;

namespace ModelBox.Cli.ClientCommands;

/// <summary><c>modelbox client artifacts ...</c>: upload, download and list the files of any object.</summary>
internal static class ArtifactCommands
{
    private static readonly Column<ArtifactFile>[] s_columns =
    [
        new("ID", f => f.Id),
        new("PATH", f => f.Path),
        new("SIZE", f => Size(f.SizeBytes)),
        new("MD5", f => f.Checksum),
        new("URI", f => f.Uri),
        new("CREATED", f => CommandOutput.Time(f.CreatedAt)),
    ];

    public static Command Create(ClientGlobalOptions global)
    {
        var command = new Command("artifacts", "Upload, download, list and delete the files of an experiment, checkpoint, model or model version");
        command.Aliases.Add("artifact");
        command.Add(UploadCommand(global));
        command.Add(DownloadCommand(global));
        command.Add(ListCommand(global));
        command.Add(DeleteCommand(global));
        return command;
    }

    /// <summary>The files to upload for the given paths: files as given, directories recursively (name relative to the directory's parent).</summary>
    public static List<(string LocalPath, string Name)> Expand(IEnumerable<string> paths)
    {
        var files = new List<(string, string)>();
        foreach (var path in paths)
        {
            if (File.Exists(path))
            {
                files.Add((path, path));
            }
            else if (Directory.Exists(path))
            {
                var root = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar);
                var parent = Path.GetDirectoryName(root) ?? root;
                foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                {
                    files.Add((file, Path.GetRelativePath(parent, file).Replace(Path.DirectorySeparatorChar, '/')));
                }
            }
            else
            {
                throw new CliUsageException($"--path '{path}' is neither a file nor a directory");
            }
        }

        return files;
    }

    /// <summary>Uploads files with a progress bar on a terminal, a line per file otherwise; returns the records.</summary>
    public static async Task<List<ArtifactFile>> UploadAsync(
        ModelBoxClient client, CommandOutput output, string parentId, List<(string LocalPath, string Name)> files, CancellationToken ct)
    {
        var uploaded = new List<ArtifactFile>();
        if (output.IsInteractive)
        {
            await NewProgress(output).StartAsync(async context =>
            {
                foreach (var (local, name) in files)
                {
                    var task = context.AddTask(Markup.Escape(name), maxValue: Math.Max(1, new FileInfo(local).Length));
                    var file = await UploadOneAsync(client, parentId, local, name, new Progress<long>(sent => task.Value = sent), ct);
                    task.Value = task.MaxValue;
                    uploaded.Add(file);
                }
            });
        }
        else
        {
            foreach (var (local, name) in files)
            {
                uploaded.Add(await UploadOneAsync(client, parentId, local, name, null, ct));
            }
        }

        return uploaded;
    }

    private static async Task<ArtifactFile> UploadOneAsync(
        ModelBoxClient client, string parentId, string local, string name, IProgress<long>? progress, CancellationToken ct)
    {
        var stream = new FileStream(local, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using (stream)
        {
            return await client.UploadFileAsync(parentId, stream, name, FileKind.Undefined, progress, ct);
        }
    }

    private static Command UploadCommand(ClientGlobalOptions global)
    {
        var parentId = ParentIdOption();
        var paths = new Option<string[]>("--path")
        {
            Description = "A file or directory to upload (directories recursively); repeatable",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("upload", "Upload files; the server verifies each one's MD5 before it keeps it") { parentId, paths };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var files = Expand(parseResult.GetRequiredValue(paths));
            var uploaded = await UploadAsync(client, output, parseResult.GetRequiredValue(parentId), files, ct);
            if (output.IsJson)
            {
                output.WriteList(uploaded, s_columns, "");
                return;
            }

            foreach (var file in uploaded)
            {
                output.WriteLine($"uploaded {file.Path} ({Size(file.SizeBytes)}, md5 {file.Checksum}) as {file.Id}");
            }
        });
        return command;
    }

    private static Command DownloadCommand(ClientGlobalOptions global)
    {
        var id = new Option<string?>("--id") { Description = "The file id (with --path)" };
        var path = new Option<string?>("--path")
        {
            Description = "Where to write the file: a file name, or an existing folder (the file keeps its own name); missing folders are created, and an interrupted download resumes",
        };
        var parentId = new Option<string?>("--parent-id") { Description = "Download every file of this object (with --dir)" };
        var dir = new Option<string?>("--dir") { Description = "The folder the files of --parent-id go to, under their recorded paths" };
        var command = new Command("download", "Download a file (--id ID --path PATH) or all files of an object (--parent-id ID --dir DIR), verifying each SHA-256")
        {
            id, path, parentId, dir,
        };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var fileId = parseResult.GetValue(id);
            var parent = parseResult.GetValue(parentId);
            if ((fileId is null) == (parent is null))
            {
                throw new CliUsageException("give either --id FILE_ID with --path PATH, or --parent-id ID with --dir DIR");
            }

            List<(ArtifactFile Record, string Target, string Shown)> downloads;
            if (fileId is not null)
            {
                var target = parseResult.GetValue(path) ?? throw new CliUsageException("--path is required with --id (where to write the file)");
                var record = await client.GetArtifactAsync(fileId, ct);
                var resolved = DownloadTarget.ForFile(target, record);
                downloads = [(record, resolved, resolved)];
            }
            else
            {
                var folder = parseResult.GetValue(dir) ?? throw new CliUsageException("--dir is required with --parent-id (the folder to download into)");
                var records = await client.ListArtifactsAsync(parent!, ct);
                downloads = [.. records.Select(r => (r, DownloadTarget.InFolder(folder, r), Path.Combine(folder, DownloadTarget.RelativePath(r))))];
            }

            var done = await DownloadAsync(client, output, downloads, ct);
            if (output.IsJson)
            {
                if (fileId is not null)
                {
                    output.WriteObject(done[0], []);
                }
                else
                {
                    output.WriteList(done, s_columns, "");
                }

                return;
            }

            foreach (var (file, (_, _, shown)) in done.Zip(downloads))
            {
                output.WriteLine($"downloaded {file.Id} to {shown} ({Size(file.SizeBytes)}); checksum verified (sha256 {file.Sha256})");
            }

            if (downloads.Count == 0)
            {
                output.WriteLine($"{parent} has no files");
            }
        });
        return command;
    }

    private static async Task<List<ArtifactFile>> DownloadAsync(
        ModelBoxClient client, CommandOutput output, List<(ArtifactFile Record, string Target, string Shown)> downloads, CancellationToken ct)
    {
        var done = new List<ArtifactFile>();
        if (output.IsInteractive)
        {
            await NewProgress(output).StartAsync(async context =>
            {
                foreach (var (record, target, shown) in downloads)
                {
                    var task = context.AddTask(Markup.Escape(record.Path.Length > 0 ? record.Path : record.Id), maxValue: Math.Max(1, record.SizeBytes));
                    done.Add(await DownloadTarget.DownloadAsync(client, record, target, shown, new Progress<long>(received => task.Value = received), ct));
                    task.Value = task.MaxValue;
                }
            });
        }
        else
        {
            foreach (var (record, target, shown) in downloads)
            {
                done.Add(await DownloadTarget.DownloadAsync(client, record, target, shown, null, ct));
            }
        }

        return done;
    }

    private static Command DeleteCommand(ClientGlobalOptions global)
    {
        var id = new Option<string>("--id") { Description = "The file id", Required = true };
        var command = new Command("delete", "Delete a file record; the server frees the bytes once no other record uses them") { id };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var fileId = parseResult.GetRequiredValue(id);
            var deletedAt = await client.DeleteArtifactAsync(fileId, ct);
            output.WriteObject(new { id = fileId, deleted_at = deletedAt }, [("DELETED", fileId), ("AT", CommandOutput.Time(deletedAt))]);
        });
        return command;
    }

    private static Command ListCommand(ClientGlobalOptions global)
    {
        var parentId = ParentIdOption();
        var command = new Command("list", "List the files of an object") { parentId };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
            output.WriteList(await client.ListArtifactsAsync(parseResult.GetRequiredValue(parentId), ct), s_columns, "No files."));
        return command;
    }

    private static Option<string> ParentIdOption() =>
        new("--parent-id") { Description = "The experiment, checkpoint, model or model version id", Required = true };

    private static Progress NewProgress(CommandOutput output) => output.Ansi.Progress()
        .AutoClear(false)
        .Columns(
            new TaskDescriptionColumn(),
            new ProgressBarColumn(),
            new PercentageColumn(),
            new DownloadedColumn(),
            new TransferSpeedColumn(),
            new RemainingTimeColumn());

    internal static string Size(long bytes) => bytes switch
    {
        < 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.0} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):0.00} GiB"),
    };
}
