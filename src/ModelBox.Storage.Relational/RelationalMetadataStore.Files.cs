using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Storage;
using static ModelBox.Storage.Relational.RelationalValues;

namespace ModelBox.Storage.Relational;

// File records: the IFileRecordStore port, in the metadata database.
public sealed partial class RelationalMetadataStore : IFileRecordStore
{
    private const string FileColumns =
        "id AS Id, parent_id AS ParentId, file_type AS FileType, path AS Path, uri AS Uri, size_bytes AS SizeBytes, "
        + "md5 AS Md5, sha256 AS Sha256, stored AS Stored, created_at AS CreatedAt, updated_at AS UpdatedAt";

    public async Task InsertFilesAsync(IReadOnlyList<FileRecord> files, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (files.Count == 0)
        {
            return;
        }

        await WriteAsync(
            async session =>
            {
                await InsertFilesAsync(session, files, cancellationToken).ConfigureAwait(false);
                return 0;
            },
            cancellationToken).ConfigureAwait(false);
    }

    public async Task InsertUploadedFileAsync(FileRecord file, Func<CancellationToken, Task> publishBlob, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(publishBlob);
        await WriteAsync(
            async session =>
            {
                await LockBlobAsync(session, file.Sha256, cancellationToken).ConfigureAwait(false);
                await publishBlob(cancellationToken).ConfigureAwait(false);
                await InsertFilesAsync(session, [file], cancellationToken).ConfigureAwait(false);
                return 0;
            },
            cancellationToken).ConfigureAwait(false);
    }

    public Task<bool> DeleteBlobIfUnreferencedAsync(string sha256, Func<CancellationToken, Task> deleteBlob, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sha256);
        ArgumentNullException.ThrowIfNull(deleteBlob);
        return WriteAsync(
            async session =>
            {
                await LockBlobAsync(session, sha256, cancellationToken).ConfigureAwait(false);
                if (await IsBlobReferencedAsync(session, sha256, cancellationToken).ConfigureAwait(false))
                {
                    return false;
                }

                await deleteBlob(cancellationToken).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    public async Task<IReadOnlySet<string>> FindReferencedBlobsAsync(IReadOnlyCollection<string> sha256s, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sha256s);
        if (sha256s.Count == 0)
        {
            return new HashSet<string>(StringComparer.Ordinal);
        }

        var used = await ReadAsync(
            session => session.QueryAsync<string>(
                $"SELECT DISTINCT sha256 FROM files WHERE {_dialect.InList("sha256", "@Sha256s")} AND stored = @Stored",
                new { Sha256s = sha256s.ToArray(), Stored = true }, cancellationToken),
            cancellationToken).ConfigureAwait(false);
        return used.ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// Takes the reference lock of a blob until the transaction ends: an upsert of its row in blob_locks, which locks the
    /// row exclusively on both databases (ON CONFLICT DO UPDATE, ON DUPLICATE KEY UPDATE) whether it inserted it or not.
    /// Every transaction takes at most this one blob lock, first or right after the file row it deletes, and the change
    /// counter only at its end, so these locks cannot deadlock with each other.
    /// </summary>
    /// <remarks>Where the database serialises writers itself (SQLite: BEGIN IMMEDIATE takes the file lock for every
    /// process that opens it), the write transaction is the reference lock and there is no table to lock.</remarks>
    private async Task LockBlobAsync(DbSession session, string sha256, CancellationToken cancellationToken)
    {
        if (!_dialect.LocksRows)
        {
            return;
        }

        await session.ExecuteAsync(
            _dialect.Upsert("blob_locks", "sha256, locked_at", "@Sha256, @Now", "sha256", "locked_at"),
            new { Sha256 = sha256, Now = ToMicros(DateTimeOffset.UtcNow) },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Inserts the files given with the create of an object, in the transaction that just inserted it (after its change
    /// record, so a watcher sees the object before its files).
    /// </summary>
    private static async Task InsertFilesOfNewObjectAsync(
        DbSession session, string objectId, IReadOnlyList<FileRecord>? files, CancellationToken cancellationToken)
    {
        if (files is null || files.Count == 0)
        {
            return;
        }

        if (files.FirstOrDefault(f => !string.Equals(f.ParentId, objectId, StringComparison.Ordinal)) is { } stray)
        {
            throw new ArgumentException($"file '{stray.Id}' belongs to '{stray.ParentId}', not to the new object '{objectId}'", nameof(files));
        }

        await InsertFilesAsync(session, files, cancellationToken).ConfigureAwait(false);
    }

    private static async Task InsertFilesAsync(DbSession session, IReadOnlyList<FileRecord> files, CancellationToken cancellationToken)
    {
        await session.ExecuteAsync(
            "INSERT INTO files (id, parent_id, file_type, path, uri, size_bytes, md5, sha256, stored, created_at, updated_at) "
            + "VALUES (@Id, @ParentId, @FileType, @Path, @Uri, @SizeBytes, @Md5, @Sha256, @Stored, @CreatedAt, @UpdatedAt)",
            files.Select(FileRow.From), cancellationToken).ConfigureAwait(false);

        // The transactional outbox: each file's change record commits with it (hard part 3).
        foreach (var file in files)
        {
            var @namespace = await FileNamespaceAsync(session, file, cancellationToken).ConfigureAwait(false);
            await AppendChangeAsync(
                session, @namespace, ChangeObjectKinds.File, file.Id, ChangeType.Created, file.CreatedAt,
                ChangeStateJson.File(file, @namespace), cancellationToken).ConfigureAwait(false);
        }
    }

    public Task<FileRecord?> GetFileAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return ReadAsync(
            async session => (await session.QuerySingleOrDefaultAsync<FileRow>(
                $"SELECT {FileColumns} FROM files WHERE id = @Id", new { Id = id }, cancellationToken).ConfigureAwait(false))?.ToRecord(),
            cancellationToken);
    }

    public async Task<IReadOnlyList<FileRecord>> ListFilesAsync(string parentId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parentId);
        var all = await ListFilesAsync([parentId], cancellationToken).ConfigureAwait(false);
        return all.TryGetValue(parentId, out var files) ? files : [];
    }

    public async Task<IReadOnlyDictionary<string, IReadOnlyList<FileRecord>>> ListFilesAsync(
        IReadOnlyCollection<string> parentIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parentIds);
        if (parentIds.Count == 0)
        {
            return new Dictionary<string, IReadOnlyList<FileRecord>>(StringComparer.Ordinal);
        }

        var rows = await ReadAsync(
            async session => await session.QueryAsync<FileRow>(
                $"SELECT {FileColumns} FROM files WHERE {_dialect.InList("parent_id", "@ParentIds")} ORDER BY parent_id, created_at, id",
                new { ParentIds = parentIds.ToArray() }, cancellationToken).ConfigureAwait(false),
            cancellationToken).ConfigureAwait(false);
        return rows.GroupBy(r => r.ParentId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<FileRecord>)g.Select(r => r.ToRecord()).ToList(), StringComparer.Ordinal);
    }

    public Task<FileDeletion?> DeleteFileAsync(string id, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return WriteAsync<FileDeletion?>(
            async session =>
            {
                var row = await session.QuerySingleOrDefaultAsync<FileRow>(
                    $"SELECT {FileColumns} FROM files WHERE id = @Id{_dialect.ForUpdate}", new { Id = id }, cancellationToken).ConfigureAwait(false);
                if (row is null)
                {
                    return null;
                }

                if (row.Stored)
                {
                    // Two deletes of the last records of one blob must not both see the other's record still there.
                    await LockBlobAsync(session, row.Sha256, cancellationToken).ConfigureAwait(false);
                }

                await session.ExecuteAsync("DELETE FROM files WHERE id = @Id", new { Id = id }, cancellationToken).ConfigureAwait(false);
                var file = row.ToRecord();
                var @namespace = await FileNamespaceAsync(session, file, cancellationToken).ConfigureAwait(false);
                await AppendChangeAsync(
                        session, @namespace, ChangeObjectKinds.File, file.Id, ChangeType.Deleted, now, ChangeStateJson.File(file, @namespace),
                    cancellationToken).ConfigureAwait(false);
                var referenced = row.Stored && await IsBlobReferencedAsync(session, row.Sha256, cancellationToken).ConfigureAwait(false);
                return new FileDeletion(file, referenced);
            },
            cancellationToken);
    }

    public Task<bool> IsBlobReferencedAsync(string sha256, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sha256);
        return ReadAsync(session => IsBlobReferencedAsync(session, sha256, cancellationToken), cancellationToken);
    }

    /// <summary>The namespace of a file's parent, for its change records.</summary>
    private static async Task<string> FileNamespaceAsync(
        DbSession session, FileRecord file, CancellationToken cancellationToken) =>
        (await LocateAsync(session, file.ParentId, cancellationToken).ConfigureAwait(false))?.Namespace
        ?? throw ModelBoxException.NotFound(ObjectIds.TryGetKind(file.ParentId, out var kind) ? Validation.Describe(kind) : "object", file.ParentId);

    private static async Task<bool> IsBlobReferencedAsync(
        DbSession session, string sha256, CancellationToken cancellationToken) =>
        await session.ScalarAsync<long>(
            "SELECT COUNT(*) FROM (SELECT 1 AS one FROM files WHERE sha256 = @Sha256 AND stored = @Stored LIMIT 1) AS used",
            new { Sha256 = sha256, Stored = true },
            cancellationToken)
            .ConfigureAwait(false) != 0;

    private sealed class FileRow
    {
        public string Id { get; set; } = string.Empty;
        public string ParentId { get; set; } = string.Empty;
        public int FileType { get; set; }
        public string Path { get; set; } = string.Empty;
        public string Uri { get; set; } = string.Empty;
        public long SizeBytes { get; set; }
        public string Md5 { get; set; } = string.Empty;
        public string Sha256 { get; set; } = string.Empty;
        public bool Stored { get; set; }
        public long CreatedAt { get; set; }
        public long UpdatedAt { get; set; }

        public static FileRow From(FileRecord file) => new()
        {
            Id = file.Id,
            ParentId = file.ParentId,
            FileType = (int)file.Type,
            Path = file.Path,
            Uri = file.Uri,
            SizeBytes = file.SizeBytes,
            Md5 = file.Md5,
            Sha256 = file.Sha256,
            Stored = file.Stored,
            CreatedAt = ToMicros(file.CreatedAt),
            UpdatedAt = ToMicros(file.UpdatedAt),
        };

        public FileRecord ToRecord() => new(
            Id, ParentId, (FileType)FileType, Path, Uri, SizeBytes, Md5, Sha256, Stored, FromMicros(CreatedAt), FromMicros(UpdatedAt));
    }
}
