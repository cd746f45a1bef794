using System.Security.Cryptography;
using System.Text;
using ModelBox.Cli.Hosting;
using ModelBox.Server.Configuration;
using ModelBox.Storage.Relational;
using ModelBox.Storage.Sqlite;

namespace ModelBox.Cli.ServerCommands;

/// <summary>
/// How `copy-data` holds an embedded source still. When no server holds its data folder, the folder is locked as a server
/// locks it, for the whole copy, and the database itself is read (<see cref="Dialect"/> is null). While a server serves
/// it, the copy reads a snapshot instead: <c>VACUUM INTO</c> through a read-only connection beside the server (SQLite's
/// WAL lets the server's writers go on), which holds everything committed when it was taken. The snapshot stays in the
/// source's data folder (<c>copy-data/&lt;target&gt;.sqlite</c>) until the copy into that target completes, so an
/// interrupted copy resumes from the same state. Blobs are read from the live store: they are immutable and addressed
/// by content.
/// </summary>
internal sealed class SourceSnapshot : IAsyncDisposable
{
    /// <summary>The folder under the source's data folder that holds snapshots of copies in progress.</summary>
    public const string FolderName = "copy-data";

    private readonly DataFolderLock? _lock;
    private readonly SqliteDialect? _dialect;
    private readonly string _path;
    private bool _closed;

    private SourceSnapshot(DataFolderLock? folderLock, string path, string? describe)
    {
        _lock = folderLock;
        _path = path;
        Describe = describe;
        _dialect = folderLock is null ? new SqliteDialect(new SqliteStorageOptions { DatabasePath = path, ReadOnly = true }) : null;
    }

    /// <summary>The snapshot to copy from; null when the source itself is read (locked).</summary>
    public SqlDialect? Dialect => _dialect;

    /// <summary>A line for the operator when the copy reads a snapshot.</summary>
    public string? Describe { get; }

    /// <summary>
    /// Locks the source, or takes (or, when <paramref name="resuming"/>, finds again) the snapshot of a source that a
    /// server serves.
    /// </summary>
    public static async Task<SourceSnapshot> OpenAsync(Deployment source, ServerConfig target, bool resuming, CancellationToken cancellationToken)
    {
        var path = PathFor(source.Config, target);
        if (!resuming && File.Exists(path))
        {
            // Left by an earlier copy into this target that never completed, and the target was emptied since.
            DeleteFiles(path);
        }

        if (File.Exists(path))
        {
            return new SourceSnapshot(null, path, $"resuming from the snapshot of the source taken {File.GetLastWriteTimeUtc(path):u} ({path})");
        }

        if (DataFolderLock.TryAcquire(source.Config.DataDir, out var holder) is { } folderLock)
        {
            return new SourceSnapshot(folderLock, path, null);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".tmp";
        File.Delete(temporary);
        var taken = DateTimeOffset.UtcNow;
        await source.Sqlite!.VacuumIntoAsync(temporary, cancellationToken);
        // Durable before it is named: a snapshot under its name is complete.
        using (var file = new FileStream(temporary, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
        {
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, path);
        return new SourceSnapshot(null, path,
            $"the source is served (PID {holder ?? "unknown"}): copying everything committed up to {taken:u}, from a snapshot ({path}, kept until the copy completes)");
    }

    /// <summary>Removes the snapshot: the copy is complete.</summary>
    public async Task DeleteAsync()
    {
        if (_dialect is null)
        {
            return;
        }

        await CloseAsync();
        DeleteFiles(_path);
        var folder = Path.GetDirectoryName(_path)!;
        if (!Directory.EnumerateFileSystemEntries(folder).Any())
        {
            Directory.Delete(folder);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
        _lock?.Dispose();
    }

    private async Task CloseAsync()
    {
        if (_dialect is not null && !_closed)
        {
            _closed = true;
            await _dialect.DisposeAsync();
        }
    }

    private static void DeleteFiles(string path)
    {
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }
    }

    /// <summary>One snapshot per source and target: the target's database, hashed (a connection string may hold a password).</summary>
    private static string PathFor(ServerConfig source, ServerConfig target)
    {
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{target.MetadataStorage}\n{target.MetadataLocation}")))[..16];
        return Path.Combine(Path.GetFullPath(source.DataDir), FolderName, key + ".sqlite");
    }
}
