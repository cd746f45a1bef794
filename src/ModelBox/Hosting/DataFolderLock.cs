using System.Globalization;
using ModelBox.Server.Configuration;

namespace ModelBox.Cli.Hosting;

/// <summary>
/// An exclusive lock on the embedded data folder, held while `modelbox server start` runs. Two servers on one SQLite
/// file would each miss the other's change notifications (watchers, the change feed), so the second one refuses to
/// start and names the first one's PID. The lock is the operating system's (flock on Unix, a share lock on Windows):
/// a crashed server leaves no stale lock.
/// </summary>
public sealed class DataFolderLock : IDisposable
{
    /// <summary>The file the lock is taken on, inside the data folder.</summary>
    public const string LockFileName = "modelbox.lock";

    /// <summary>The PID of the server holding the lock (a second file: a locked file cannot be read by another process).</summary>
    public const string PidFileName = "modelbox.pid";

    private readonly FileStream _lock;
    private readonly string _pidFile;

    private DataFolderLock(FileStream @lock, string pidFile, bool createdFolder)
    {
        _lock = @lock;
        _pidFile = pidFile;
        CreatedFolder = createdFolder;
    }

    /// <summary>True when the data folder did not exist and this start created it.</summary>
    public bool CreatedFolder { get; }

    /// <summary>
    /// Creates the data folder when it is missing and locks it; throws <see cref="ConfigurationException"/> naming the
    /// holder's PID when another server has it.
    /// </summary>
    public static DataFolderLock Acquire(string dataDir) =>
        TryAcquire(dataDir, out var holder) ?? throw new ConfigurationException(
            $"the data folder {Path.GetFullPath(dataDir)} is in use by another ModelBox server ({(holder is null ? "PID unknown" : $"PID {holder}")}); " +
            "two servers on one embedded database would miss each other's changes: stop that server, or give this one its own data_dir");

    /// <summary>
    /// Like <see cref="Acquire"/>, but null when another process holds the lock (a server serving the folder), with that
    /// process's PID in <paramref name="holder"/> when it is known.
    /// </summary>
    public static DataFolderLock? TryAcquire(string dataDir, out string? holder)
    {
        holder = null;
        var folder = Path.GetFullPath(dataDir);
        var created = !Directory.Exists(folder);
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"data_dir: cannot create the data folder {folder}: {ex.Message}", ex);
        }

        var lockPath = Path.Combine(folder, LockFileName);
        var pidPath = Path.Combine(folder, PidFileName);
        FileStream stream;
        try
        {
            stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            holder = ReadPid(pidPath);
            return null;
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new ConfigurationException($"data_dir: cannot lock the data folder {folder}: {ex.Message}", ex);
        }

        File.WriteAllText(pidPath, Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        return new DataFolderLock(stream, pidPath, created);
    }

    /// <summary>Removes the PID file and releases the lock.</summary>
    public void Dispose()
    {
        try
        {
            File.Delete(_pidFile);
        }
        catch (IOException)
        {
            // The next server overwrites it.
        }

        _lock.Dispose();
    }

    private static string? ReadPid(string pidPath)
    {
        try
        {
            var text = File.ReadAllText(pidPath).Trim();
            return text.Length > 0 ? text : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
