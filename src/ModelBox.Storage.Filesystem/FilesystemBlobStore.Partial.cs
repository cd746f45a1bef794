using System.Runtime.CompilerServices;
using System.Text;
using ModelBox.Domain.Storage;
using ModelBox.IO;

namespace ModelBox.Storage.Filesystem;

// Partial blobs of resumable uploads: tmp/resumable/<key>.part with the owner in <key>.owner beside it. The writer holds
// the .part file open with FileShare.None (an exclusive flock on Unix, dropped by the kernel when the process dies), which
// is how a second upload with the same key, the sweep and the eviction tell an upload in progress from kept bytes.
public sealed partial class FilesystemBlobStore
{
    private const string PartialExtension = ".part";
    private const string OwnerExtension = ".owner";

    public Task<PartialBlob?> FindPartialAsync(string key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var file = new FileInfo(PartialPath(key));
        return Task.FromResult(file.Exists ? Describe(key, file) with { Held = HeldByAWriter(file.FullName) } : null);
    }

    public Task<IPartialBlobWriter?> OpenPartialAsync(string key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = PartialPath(key);
        Directory.CreateDirectory(_partialRoot);
        FileStream stream;
        try
        {
            // OpenOrCreate, never Create: truncating before the lock is taken would destroy a live writer's bytes.
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, WriteBufferSize, FileOptions.Asynchronous);
        }
        catch (IOException exception) when (IsDiskFull(exception))
        {
            throw DiskFull(exception);
        }
        catch (IOException)
        {
            return Task.FromResult<IPartialBlobWriter?>(null);
        }

        var ownerPath = Path.ChangeExtension(path, OwnerExtension);
        var owner = stream.Length > 0 && File.Exists(ownerPath) ? File.ReadAllText(ownerPath, Encoding.UTF8) : null;
        return Task.FromResult<IPartialBlobWriter?>(new PartialWriter(this, path, ownerPath, stream, owner, owner is null ? 0 : stream.Length));
    }

    public async IAsyncEnumerable<PartialBlob> ListPartialsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        if (!Directory.Exists(_partialRoot))
        {
            yield break;
        }

        foreach (var file in new DirectoryInfo(_partialRoot).EnumerateFiles("*" + PartialExtension))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var key = Path.GetFileNameWithoutExtension(file.Name);
            if (IsKey(key))
            {
                yield return Describe(key, file);
            }
        }
    }

    public Task<bool> DeletePartialAsync(string key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = PartialPath(key);
        return Task.FromResult(File.Exists(path) && !HeldByAWriter(path) && DeletePartialFiles(path));
    }

    public Task<int> SweepPartialsAsync(DateTimeOffset idleSince, CancellationToken cancellationToken = default)
    {
        var removed = 0;
        if (!Directory.Exists(_partialRoot))
        {
            return Task.FromResult(0);
        }

        foreach (var file in new DirectoryInfo(_partialRoot).EnumerateFiles())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero) > idleSince)
            {
                continue;
            }

            if (file.Extension == PartialExtension && !HeldByAWriter(file.FullName) && DeletePartialFiles(file.FullName))
            {
                removed++;
            }
            else if (file.Extension == OwnerExtension && !File.Exists(Path.ChangeExtension(file.FullName, PartialExtension)))
            {
                // The owner of a partial blob that is gone (a crash between the two deletes).
                TryDelete(file.FullName);
            }
        }

        return Task.FromResult(removed);
    }

    private static PartialBlob Describe(string key, FileInfo file)
    {
        var ownerPath = Path.ChangeExtension(file.FullName, OwnerExtension);
        string owner;
        try
        {
            owner = File.ReadAllText(ownerPath, Encoding.UTF8);
        }
        catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException)
        {
            // Created, but the owner not yet written (or a crash in between): nothing usable is kept.
            owner = string.Empty;
        }

        return new PartialBlob(key, owner, owner.Length == 0 ? 0 : file.Length, new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero));
    }

    private static bool DeletePartialFiles(string path)
    {
        var deleted = TryDelete(path);
        TryDelete(Path.ChangeExtension(path, OwnerExtension));
        return deleted;
    }

    private static bool TryDelete(string path)
    {
        try
        {
            File.Delete(path);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Keys are the domain's lowercase hex names (32 to 64 characters), so a key can never name a path.</summary>
    private static bool IsKey(string key) =>
        key.Length is >= 32 and <= 64 && key.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');

    private string PartialPath(string key) =>
        IsKey(key) ? Path.Combine(_partialRoot, key + PartialExtension) : throw new ArgumentException($"'{key}' is not a partial blob key", nameof(key));

    /// <summary>
    /// Appends to a partial blob. The kept bytes are read (to hash them) before the first write, through the writer's own
    /// handle (a second handle would be refused by the lock); the writer with direct I/O is created at the first write.
    /// </summary>
    private sealed class PartialWriter(
        FilesystemBlobStore store, string path, string ownerPath, FileStream stream, string? keptOwner, long keptLength)
        : IPartialBlobWriter
    {
        private Writer? _writer;

        public string? Owner { get; private set; } = keptOwner;

        public long KeptLength { get; private set; } = keptLength;

        public long Length => _writer?.Length ?? KeptLength;

        public async Task StartOverAsync(string owner, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(owner);
            if (_writer is not null)
            {
                throw new InvalidOperationException("a partial blob starts over only before it is written");
            }

            stream.SetLength(0);
            await File.WriteAllTextAsync(ownerPath, owner, Encoding.UTF8, cancellationToken).ConfigureAwait(false);
            Owner = owner;
            KeptLength = 0;
        }

        public async ValueTask<int> ReadKeptAsync(Memory<byte> buffer, long offset, CancellationToken cancellationToken = default)
        {
            if (_writer is not null)
            {
                throw new InvalidOperationException("the kept bytes are read before the first write");
            }

            var want = (int)Math.Min(buffer.Length, Math.Max(0, KeptLength - offset));
            return want == 0 ? 0 : await RandomAccess.ReadAsync(stream.SafeFileHandle, buffer[..want], offset, cancellationToken).ConfigureAwait(false);
        }

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
            Appender().WriteAsync(data, cancellationToken);

        public Task SealAsync(CancellationToken cancellationToken = default) => Appender().SealAsync(cancellationToken);

        public Task KeepAsync(CancellationToken cancellationToken = default) => Appender().KeepAsync(cancellationToken);

        public async Task<bool> CommitAsync(string sha256, CancellationToken cancellationToken = default)
        {
            var created = await Appender().CommitAsync(sha256, cancellationToken).ConfigureAwait(false);
            TryDelete(ownerPath);
            return created;
        }

        public async ValueTask DisposeAsync()
        {
            if (_writer is null && Owner is null)
            {
                // Opened, never started: nothing usable was kept.
                await stream.DisposeAsync().ConfigureAwait(false);
                DeletePartialFiles(path);
                return;
            }

            var writer = Appender();
            var kept = writer.Kept;
            await writer.DisposeAsync().ConfigureAwait(false);
            if (!kept)
            {
                // Committed (the .part is gone already) or abandoned: either way its owner goes too.
                TryDelete(ownerPath);
            }
        }

        private Writer Appender()
        {
            if (_writer is null)
            {
                if (Owner is null)
                {
                    throw new InvalidOperationException("a new partial blob needs an owner (StartOverAsync) before it is written");
                }

                stream.Seek(0, SeekOrigin.End);
                _writer = new Writer(store, path, stream, DirectFileWriter.TryCreate(stream.SafeFileHandle, stream.Length), stream.Length);
            }

            return _writer;
        }
    }
}
