using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ModelBox.Domain;
using ModelBox.Domain.Storage;
using ModelBox.IO;

namespace ModelBox.Storage.Filesystem;

/// <summary>
/// Blobs as files under a base folder: <c>sha256/ab/cd/abcd…</c> for committed blobs and <c>tmp/</c> for uploads in
/// progress. Both live under the same base folder, so they are on one filesystem and a commit is an atomic rename
/// after an fsync: a blob is visible only complete, and an acknowledged one survives a crash. Paths derive from the
/// content hash alone; nothing a client sends ever becomes part of a path. Interrupted resumable uploads are kept under
/// <c>tmp/resumable/</c> (see FilesystemBlobStore.Partial.cs), out of reach of the sweep of plain temporaries.
/// </summary>
public sealed partial class FilesystemBlobStore : IBlobStore, IBlobLinker, IPartialBlobStore
{
    // Unbuffered: callers write large chunks already, and an abort must never try to flush bytes a full disk refused.
    private const int WriteBufferSize = 0;
    private const int ReadBufferSize = 256 * 1024;

    // Small reads are not worth an aligned 1 MiB buffer; they may well be in the page cache anyway.
    private const long DirectReadMinimumBytes = 1024 * 1024;

    private readonly string _blobRoot;
    private readonly string _tempRoot;
    private readonly string _partialRoot;

    public FilesystemBlobStore(string baseDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(baseDirectory);
        BaseDirectory = Path.GetFullPath(baseDirectory);
        _blobRoot = Path.Combine(BaseDirectory, "sha256");
        _tempRoot = Path.Combine(BaseDirectory, "tmp");
        _partialRoot = Path.Combine(_tempRoot, "resumable");
        Directory.CreateDirectory(_blobRoot);
        Directory.CreateDirectory(_tempRoot);
    }

    /// <summary>The base folder.</summary>
    public string BaseDirectory { get; }

    public Task<IBlobWriter> BeginWriteAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = Path.Combine(_tempRoot, Guid.NewGuid().ToString("N") + ".part");
        try
        {
            var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, WriteBufferSize, FileOptions.Asynchronous);
            return Task.FromResult<IBlobWriter>(new Writer(this, path, stream, DirectFileWriter.TryCreate(stream.SafeFileHandle)));
        }
        catch (IOException exception) when (IsDiskFull(exception))
        {
            throw DiskFull(exception);
        }
    }

    public Task<Stream?> OpenReadAsync(string sha256, long offset = 0, long? length = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (length is { } l)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(l, nameof(length));
        }

        cancellationToken.ThrowIfCancellationRequested();
        FileStream file;
        try
        {
            file = new FileStream(BlobPath(sha256), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, ReadBufferSize, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<Stream?>(null);
        }

        var start = Math.Min(offset, file.Length);
        var count = Math.Min(length ?? long.MaxValue, file.Length - start);
        if (count >= DirectReadMinimumBytes && DirectIO.TryEnable(file.SafeFileHandle))
        {
            return Task.FromResult<Stream?>(new DirectRangeStream(file, start, count));
        }

        file.Position = start;
        return Task.FromResult<Stream?>(new RangeStream(file, count));
    }

    public Task<bool> ExistsAsync(string sha256, CancellationToken cancellationToken = default) =>
        Task.FromResult(File.Exists(BlobPath(sha256)));

    public Task<bool> DeleteAsync(string sha256, CancellationToken cancellationToken = default)
    {
        var path = BlobPath(sha256);
        if (!File.Exists(path))
        {
            return Task.FromResult(false);
        }

        File.Delete(path);
        return Task.FromResult(true);
    }

    public async IAsyncEnumerable<StoredBlob> ListBlobsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        // sha256/ab/cd/<address>: anything else under the root (a stray file) is not a blob and is left alone.
        foreach (var file in new DirectoryInfo(_blobRoot).EnumerateFiles("*", SearchOption.AllDirectories))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (BlobAddress.IsValid(file.Name) && string.Equals(file.FullName, BlobPath(file.Name), StringComparison.Ordinal))
            {
                yield return new StoredBlob(file.Name, new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero));
            }
        }
    }

    public async IAsyncEnumerable<TemporaryBlob> ListTemporariesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        foreach (var file in new DirectoryInfo(_tempRoot).EnumerateFiles())
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new TemporaryBlob(file.Name, new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero));
        }
    }

    public Task<int> SweepTemporariesAsync(DateTimeOffset idleSince, CancellationToken cancellationToken = default)
    {
        var removed = 0;
        foreach (var file in new DirectoryInfo(_tempRoot).EnumerateFiles())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero) <= idleSince || !HeldByAWriter(file.FullName))
            {
                try
                {
                    file.Delete();
                    removed++;
                }
                catch (IOException)
                {
                    // Gone already, or still held open on a platform that forbids deleting it: the next sweep retries.
                }
            }
        }

        return Task.FromResult(removed);
    }

    /// <summary>
    /// Whether a live writer still holds the temporary. A writer opens it with FileShare.None, which .NET enforces with an
    /// exclusive lock (flock on Unix, the share mode on Windows) that the kernel drops when the writer's process dies:
    /// a temporary nobody holds was abandoned by a crash, however recently it was written, and start-up frees it at once.
    /// </summary>
    private static bool HeldByAWriter(string path)
    {
        try
        {
            using var probe = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.None, bufferSize: 0);
            return false;
        }
        catch (IOException)
        {
            // Locked (a sharing violation), or gone already: either way not ours to delete.
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
    }

    private string BlobPath(string sha256)
    {
        BlobAddress.Require(sha256);
        return Path.Combine(_blobRoot, sha256[..2], sha256[2..4], sha256);
    }

    /// <summary>ENOSPC (or EDQUOT) on Unix, ERROR_DISK_FULL / ERROR_HANDLE_DISK_FULL on Windows.</summary>
    private static bool IsDiskFull(IOException exception)
    {
        if (OperatingSystem.IsWindows())
        {
            return (exception.HResult & 0xFFFF) is 0x27 or 0x70;
        }

        return exception.HResult is 28 or 122 || exception.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase);
    }

    private ModelBoxException DiskFull(IOException exception) => new(
        ErrorKind.ResourceExhausted,
        $"the artifact store at '{BaseDirectory}' is out of disk space; the upload was not kept",
        exception);

    /// <summary>Flushes a directory entry (the rename) to disk; a no-op where directories cannot be opened.</summary>
    private static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return;
        }

        var fd = NativeMethods.Open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            return;
        }

        _ = NativeMethods.FSync(fd);
        _ = NativeMethods.Close(fd);
    }

    public bool TryLink(string sha256, string destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        // link(2) fails with EXDEV across filesystems, EPERM where links are not allowed, ENOENT without the blob.
        return (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) && NativeMethods.Link(BlobPath(sha256), destination) == 0;
    }

    private static partial class NativeMethods
    {
        [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int Link(string existing, string created);

        [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int Open(string path, int flags);

        [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
        public static partial int FSync(int fd);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        public static partial int Close(int fd);
    }

    /// <summary>Writes through <paramref name="direct"/> (bypassing the page cache) when the filesystem allows it.</summary>
    private sealed class Writer(FilesystemBlobStore store, string path, FileStream stream, DirectFileWriter? direct, long length = 0) : IBlobWriter
    {
        private bool _done;
        private bool _sealed;

        public long Length { get; private set; } = length;

        /// <summary>True once <see cref="KeepAsync"/> closed the file to be resumed later.</summary>
        public bool Kept { get; private set; }

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_done || _sealed, this);
            try
            {
                if (direct is not null)
                {
                    // Synchronous: a memcpy into the buffer, and a device write of a whole buffer now and then.
                    cancellationToken.ThrowIfCancellationRequested();
                    direct.Write(data.Span);
                }
                else
                {
                    await stream.WriteAsync(data, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (IOException exception) when (IsDiskFull(exception))
            {
                throw store.DiskFull(exception);
            }

            Length += data.Length;
        }

        public async Task SealAsync(CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_done, this);
            if (_sealed)
            {
                return;
            }

            try
            {
                direct?.Finish();
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                // fsync before the rename: after a crash the name must not point at bytes that never reached the disk.
                stream.Flush(flushToDisk: true);
            }
            catch (IOException exception) when (IsDiskFull(exception))
            {
                throw store.DiskFull(exception);
            }

            _sealed = true;
        }

        /// <summary>Makes the bytes durable and closes the file without deleting it (a kept partial upload).</summary>
        public async Task KeepAsync(CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_done, this);
            await SealAsync(cancellationToken).ConfigureAwait(false);
            await stream.DisposeAsync().ConfigureAwait(false);
            direct?.Dispose();
            _done = true;
            Kept = true;
        }

        public async Task<bool> CommitAsync(string sha256, CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_done, this);
            var destination = store.BlobPath(sha256);
            await SealAsync(cancellationToken).ConfigureAwait(false);
            await stream.DisposeAsync().ConfigureAwait(false);
            direct?.Dispose();
            _done = true;

            var directory = Path.GetDirectoryName(destination)!;
            Directory.CreateDirectory(directory);
            bool created;
            if (File.Exists(destination))
            {
                created = false;
            }
            else
            {
                try
                {
                    File.Move(path, destination, overwrite: false);
                    created = true;
                }
                catch (IOException) when (File.Exists(destination))
                {
                    // Another upload of the same bytes won the race; its blob is identical.
                    created = false;
                }
            }

            if (created)
            {
                SyncDirectory(directory);
            }
            else
            {
                File.Delete(path);
            }

            return created;
        }

        public async ValueTask DisposeAsync()
        {
            if (_done)
            {
                return;
            }

            _done = true;
            try
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                direct?.Dispose();
                File.Delete(path);
            }
        }
    }
}
