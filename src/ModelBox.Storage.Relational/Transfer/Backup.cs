using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using ModelBox.Domain.Storage;
using ModelBox.Storage.Migrations;

namespace ModelBox.Storage.Relational.Transfer;

/// <summary>One file of a backup with its size and SHA-256 (and for a table export, its table and rows).</summary>
public sealed record BackupFile(string Path, long Bytes, string Sha256, string? Table = null, long? Rows = null);

/// <summary>
/// <c>manifest.json</c> of a backup folder, written last: a folder without one is an unfinished backup. The metadata is
/// either a SQLite snapshot (<see cref="MetadataKind"/> "sqlite", one file) or a logical export with one file per table
/// ("tables"); the referenced blobs are listed in <c>blobs.tsv</c> (address and size per line, so the manifest stays
/// small), and copied under <c>blobs/</c> when <see cref="BlobsIncluded"/>.
/// </summary>
public sealed record BackupManifest(
    string Format,
    DateTimeOffset CreatedAt,
    long SchemaVersion,
    string Source,
    string MetadataKind,
    IReadOnlyList<BackupFile> Metadata,
    BackupFile BlobList,
    long BlobCount,
    long BlobBytes,
    bool BlobsIncluded)
{
    public const string CurrentFormat = "modelbox-backup/1";
}

/// <summary>The layout of a backup folder and its self-check.</summary>
public static class BackupFolder
{
    public const string ManifestFile = "manifest.json";
    public const string SnapshotFile = "metadata.sqlite";
    public const string BlobListFile = "blobs.tsv";
    public const string TablesFolder = "tables";
    public const string BlobsFolder = "blobs";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Where a blob's copy lives in a backup folder.</summary>
    public static string BlobPath(string folder, string sha256) => Path.Combine(folder, BlobsFolder, sha256[..2], sha256);

    public static async Task WriteManifestAsync(string folder, BackupManifest manifest, CancellationToken cancellationToken)
    {
        var path = Path.Combine(folder, ManifestFile);
        var stream = new FileStream(path + ".tmp", FileMode.Create, FileAccess.Write, FileShare.None);
        await using (stream.ConfigureAwait(false))
        {
            await JsonSerializer.SerializeAsync(stream, manifest, Json, cancellationToken).ConfigureAwait(false);
            stream.Flush(flushToDisk: true);
        }

        File.Move(path + ".tmp", path);
    }

    public static async Task<BackupManifest> ReadManifestAsync(string folder, CancellationToken cancellationToken)
    {
        var path = Path.Combine(folder, ManifestFile);
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"{folder} has no {ManifestFile}: it is not a ModelBox backup, or the backup did not finish");
        }

        var stream = File.OpenRead(path);
        await using (stream.ConfigureAwait(false))
        {
            var manifest = await JsonSerializer.DeserializeAsync<BackupManifest>(stream, Json, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidDataException($"{path} is empty");
            if (manifest.Format != BackupManifest.CurrentFormat)
            {
                throw new InvalidDataException($"{path}: format '{manifest.Format}' is not {BackupManifest.CurrentFormat}, which this build reads");
            }

            return manifest;
        }
    }

    /// <summary>
    /// Checks every file of the backup against the manifest (metadata files and the blob list by size and SHA-256, each
    /// copied blob by hashing it against its address); throws <see cref="InvalidDataException"/> naming the first damage.
    /// </summary>
    public static async Task VerifyAsync(string folder, BackupManifest manifest, IProgress<long>? blobsChecked, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        foreach (var file in manifest.Metadata.Append(manifest.BlobList))
        {
            await VerifyFileAsync(folder, file, cancellationToken).ConfigureAwait(false);
        }

        if (!manifest.BlobsIncluded)
        {
            return;
        }

        long count = 0;
        await foreach (var blob in ReadBlobListAsync(folder, cancellationToken).ConfigureAwait(false))
        {
            var path = BlobPath(folder, blob.Sha256);
            if (!File.Exists(path))
            {
                throw new InvalidDataException($"backup blob {blob.Sha256} is missing ({path})");
            }

            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan | FileOptions.Asynchronous);
            await using (stream.ConfigureAwait(false))
            {
                var (sha256, size) = await DeploymentVerifier.HashAsync(stream, cancellationToken).ConfigureAwait(false);
                if (sha256 != blob.Sha256 || size != blob.Size)
                {
                    throw new InvalidDataException($"backup blob {blob.Sha256} is damaged: {size} bytes with SHA-256 {sha256}, recorded {blob.Size} bytes");
                }
            }

            count++;
            blobsChecked?.Report(count);
        }

        if (count != manifest.BlobCount)
        {
            throw new InvalidDataException($"{BlobListFile} lists {count} blobs, the manifest {manifest.BlobCount}");
        }
    }

    private static async Task VerifyFileAsync(string folder, BackupFile file, CancellationToken cancellationToken)
    {
        var path = Path.Combine(folder, file.Path);
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"backup file {file.Path} is missing");
        }

        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan | FileOptions.Asynchronous);
        await using (stream.ConfigureAwait(false))
        {
            var (sha256, size) = await DeploymentVerifier.HashAsync(stream, cancellationToken).ConfigureAwait(false);
            if (sha256 != file.Sha256 || size != file.Bytes)
            {
                throw new InvalidDataException(
                    $"backup file {file.Path} is damaged: {size} bytes with SHA-256 {sha256}, the manifest says {file.Bytes} bytes with {file.Sha256}");
            }
        }
    }

    /// <summary>The blobs of <c>blobs.tsv</c>.</summary>
    public static async IAsyncEnumerable<BlobReference> ReadBlobListAsync(
        string folder, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(Path.Combine(folder, BlobListFile));
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            var tab = line.IndexOf('\t', StringComparison.Ordinal);
            if (tab < 0 || !BlobAddress.IsValid(line[..tab]) || !long.TryParse(line.AsSpan(tab + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var size))
            {
                throw new InvalidDataException($"{BlobListFile}: '{line}' is not 'sha256<TAB>size'");
            }

            yield return new BlobReference(line[..tab], size);
        }
    }

    /// <summary>Writes <c>blobs.tsv</c> from a source of references; returns the file entry, count and bytes.</summary>
    internal static async Task<(BackupFile File, long Count, long Bytes)> WriteBlobListAsync(
        string folder, IAsyncEnumerable<BlobReference> blobs, CancellationToken cancellationToken)
    {
        var path = Path.Combine(folder, BlobListFile);
        long count = 0, bytes = 0;
        var writer = new StreamWriter(path, append: false) { NewLine = "\n" };
        await using (writer.ConfigureAwait(false))
        {
            await foreach (var blob in blobs.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                await writer.WriteLineAsync($"{blob.Sha256}\t{blob.Size.ToString(CultureInfo.InvariantCulture)}".AsMemory(), cancellationToken).ConfigureAwait(false);
                count++;
                bytes += blob.Size;
            }
        }

        var stream = File.OpenRead(path);
        await using (stream.ConfigureAwait(false))
        {
            var (sha256, size) = await DeploymentVerifier.HashAsync(stream, cancellationToken).ConfigureAwait(false);
            return (new BackupFile(BlobListFile, size, sha256), count, bytes);
        }
    }
}

/// <summary>
/// Writes a backup of one deployment. The metadata comes from one consistent read: a SQLite snapshot the caller makes
/// (<c>VACUUM INTO</c>, online) and opens read-only, or a logical export of every table in one snapshot transaction
/// (REPEATABLE READ) on PostgreSQL and MySQL. The blobs that metadata references are then copied from the store, each
/// hashed against its address on the way, and the manifest is written last.
/// </summary>
public sealed class BackupWriter(SqlDialect dialect, IBlobStore blobs, string source)
{
    /// <summary>
    /// Backs up into the empty <paramref name="folder"/>. With <paramref name="snapshot"/> the metadata is the SQLite file it
    /// writes, read back through <paramref name="openSnapshot"/>; without, a logical export.
    /// </summary>
    public async Task<BackupManifest> WriteAsync(
        string folder,
        Func<string, CancellationToken, Task>? snapshot,
        Func<string, SqlDialect>? openSnapshot,
        bool includeBlobs,
        IProgress<string>? progress,
        CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(folder);
        List<BackupFile> metadata;
        long schemaVersion;
        (BackupFile File, long Count, long Bytes) blobList;
        if (snapshot is not null && openSnapshot is not null)
        {
            progress?.Report("snapshot of the SQLite database");
            var path = Path.Combine(folder, BackupFolder.SnapshotFile);
            await snapshot(path, cancellationToken).ConfigureAwait(false);
            var snapshotDialect = openSnapshot(path);
            try
            {
                (schemaVersion, blobList) = await ReadSnapshotAsync(snapshotDialect, folder, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await snapshotDialect.DataSource.DisposeAsync().ConfigureAwait(false);
            }

            var stream = File.OpenRead(path);
            await using (stream.ConfigureAwait(false))
            {
                var (sha256, size) = await DeploymentVerifier.HashAsync(stream, cancellationToken).ConfigureAwait(false);
                metadata = [new BackupFile(BackupFolder.SnapshotFile, size, sha256)];
            }
        }
        else
        {
            (schemaVersion, metadata, blobList) = await ExportAsync(folder, progress, cancellationToken).ConfigureAwait(false);
        }

        if (includeBlobs)
        {
            await CopyBlobsAsync(folder, progress, cancellationToken).ConfigureAwait(false);
        }

        var manifest = new BackupManifest(
            BackupManifest.CurrentFormat, DateTimeOffset.UtcNow, schemaVersion, source,
            snapshot is not null ? "sqlite" : "tables", metadata, blobList.File, blobList.Count, blobList.Bytes, includeBlobs);
        await BackupFolder.WriteManifestAsync(folder, manifest, cancellationToken).ConfigureAwait(false);
        return manifest;
    }

    private static async Task<(long SchemaVersion, (BackupFile, long, long) BlobList)> ReadSnapshotAsync(
        SqlDialect snapshotDialect, string folder, CancellationToken cancellationToken)
    {
        var connection = await snapshotDialect.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await ModelBoxTables.RequireKnownSchemaAsync(snapshotDialect, connection, null, cancellationToken).ConfigureAwait(false);
            var version = await SchemaVersionAsync(snapshotDialect, connection, null, cancellationToken).ConfigureAwait(false);
            var list = await BackupFolder.WriteBlobListAsync(
                folder, BlobTransfer.ReferencedAsync(snapshotDialect, connection, null, cancellationToken), cancellationToken).ConfigureAwait(false);
            return (version, list);
        }
    }

    private async Task<(long, List<BackupFile>, (BackupFile, long, long))> ExportAsync(
        string folder, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.Combine(folder, BackupFolder.TablesFolder));
        var connection = await dialect.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            // One snapshot for every table and the blob list: the export is as of one moment, whatever commits meanwhile.
            var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                await ModelBoxTables.RequireKnownSchemaAsync(dialect, connection, transaction, cancellationToken).ConfigureAwait(false);
                var version = await SchemaVersionAsync(dialect, connection, transaction, cancellationToken).ConfigureAwait(false);
                var files = new List<BackupFile>();
                foreach (var table in ModelBoxTables.Data)
                {
                    progress?.Report($"table {table.Name}");
                    var columns = await TableRows.ColumnsAsync(dialect, connection, transaction, table.Name, cancellationToken).ConfigureAwait(false);
                    var relative = Path.Combine(BackupFolder.TablesFolder, table.Name + ".rows");
                    var (rows, sha256, bytes) = await RowFile.WriteAsync(
                        Path.Combine(folder, relative), table.Name, columns,
                        TableRows.ReadAsync(dialect, connection, transaction, table, columns, null, 10_000, cancellationToken),
                        cancellationToken).ConfigureAwait(false);
                    files.Add(new BackupFile(relative, bytes, sha256, table.Name, rows));
                }

                var list = await BackupFolder.WriteBlobListAsync(
                    folder, BlobTransfer.ReferencedAsync(dialect, connection, transaction, cancellationToken), cancellationToken).ConfigureAwait(false);
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
                return (version, files, list);
            }
        }
    }

    /// <summary>
    /// Hard-link blobs into the backup when the store keeps them as files on the backup's filesystem (no bytes copied;
    /// blobs are immutable, so the link is the blob), else copy them. False copies every blob, so the backup shares no
    /// file with the store.
    /// </summary>
    public bool LinkBlobs { get; init; } = true;

    /// <summary>How many blobs the last backup hard-linked (the rest were copied).</summary>
    public long BlobsLinked { get; private set; }

    private async Task CopyBlobsAsync(string folder, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        progress?.Report("blobs");
        BlobsLinked = 0;
        await foreach (var blob in BackupFolder.ReadBlobListAsync(folder, cancellationToken).ConfigureAwait(false))
        {
            var path = BackupFolder.BlobPath(folder, blob.Sha256);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            // A linked blob is read back from the link and checked like a copy (a damaged store file fails the backup).
            var linked = LinkBlobs && blobs is IBlobLinker linker && linker.TryLink(blob.Sha256, path);
            var source = linked
                ? File.OpenRead(path)
                : await blobs.OpenReadAsync(blob.Sha256, cancellationToken: cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidDataException(
                    $"blob {blob.Sha256} is referenced by the backed-up metadata but missing from the blob store (deleted while the backup ran, "
                    + "or lost: `modelbox server verify` tells); run the backup again");
            await using (source.ConfigureAwait(false))
            {
                var target = linked ? Stream.Null : new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
                await using (target.ConfigureAwait(false))
                {
                    var hashing = new HashingReadStream(source);
                    await hashing.CopyToAsync(target, 1 << 20, cancellationToken).ConfigureAwait(false);
                    if (target is FileStream file)
                    {
                        file.Flush(flushToDisk: true);
                    }

                    var (sha256, size) = hashing.Result();
                    if (sha256 != blob.Sha256 || size != blob.Size)
                    {
                        throw new InvalidDataException(
                            $"blob {blob.Sha256} in the blob store is damaged: {size} bytes with SHA-256 {sha256}, recorded {blob.Size} bytes "
                            + "(`modelbox server verify` lists every damaged blob)");
                    }
                }
            }

            BlobsLinked += linked ? 1 : 0;
        }
    }

    /// <summary>The newest schema migration applied to the database.</summary>
    public static async Task<long> SchemaVersionAsync(SqlDialect dialect, DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dialect);
        return await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            dialect.Sql($"SELECT MAX(\"Version\") FROM \"{SchemaMigrations.VersionTable}\""), transaction: transaction, cancellationToken: cancellationToken))
            .ConfigureAwait(false) ?? 0;
    }

    /// <summary>A read-through stream that hashes what passes.</summary>
    private sealed class HashingReadStream(Stream inner) : ReadOnlyStream
    {
        private readonly System.Security.Cryptography.IncrementalHash _hash =
            System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);

        private long _length;

        public (string Sha256, long Size) Result() => (Convert.ToHexStringLower(_hash.GetHashAndReset()), _length);

        public override int Read(Span<byte> buffer)
        {
            var read = inner.Read(buffer);
            _hash.AppendData(buffer[..read]);
            _length += read;
            return read;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            _hash.AppendData(buffer.Span[..read]);
            _length += read;
            return read;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _hash.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
