using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Dapper;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.Relational.Transfer;

/// <summary>A blob a file record references: its address and recorded size.</summary>
public readonly record struct BlobReference(string Sha256, long Size);

/// <summary>Blobs as backup, restore, copy-data and verify move and check them.</summary>
public static class BlobTransfer
{
    private const int Page = 5_000;

    /// <summary>The distinct blobs the file records reference, in address order, a page at a time (bounded memory).</summary>
    public static async IAsyncEnumerable<BlobReference> ReferencedAsync(
        SqlDialect dialect, DbConnection connection, DbTransaction? transaction, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dialect);
        var sql = dialect.Sql(
            $"SELECT sha256, MAX(size_bytes) FROM files WHERE stored = @Stored AND sha256 > @After GROUP BY sha256 ORDER BY sha256 LIMIT {Page}");
        var after = string.Empty;
        while (true)
        {
            var page = (await connection.QueryAsync<(string Sha256, long Size)>(new CommandDefinition(
                sql, new { Stored = true, After = after }, transaction, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToList();
            foreach (var (sha256, size) in page)
            {
                yield return new BlobReference(sha256, size);
            }

            if (page.Count < Page)
            {
                yield break;
            }

            after = page[^1].Sha256;
        }
    }

    /// <summary>
    /// Copies <paramref name="source"/> into <paramref name="target"/> as the blob <paramref name="blob"/>, hashing on the way:
    /// throws <see cref="InvalidDataException"/> (nothing committed) when the bytes do not match the address and size.
    /// Returns the bytes copied.
    /// </summary>
    public static async Task<long> CopyAsync(Stream source, IBlobStore target, BlobReference blob, string from, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            // The address is known: a store that can write straight to it (S3: a multipart upload to the content key, completed
            // at commit) saves the copy from a temporary.
            var writer = target is IAddressedBlobWriting addressed
                ? await addressed.BeginWriteAsync(blob.Sha256, blob.Size, cancellationToken).ConfigureAwait(false)
                : await target.BeginWriteAsync(cancellationToken).ConfigureAwait(false);
            await using (writer.ConfigureAwait(false))
            {
                int read;
                while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    await writer.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                }

                var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
                if (writer.Length != blob.Size || !string.Equals(actual, blob.Sha256, StringComparison.Ordinal))
                {
                    throw new InvalidDataException(
                        $"blob {blob.Sha256} in {from} is damaged: {writer.Length} bytes with SHA-256 {actual}, recorded {blob.Size} bytes");
                }

                await writer.CommitAsync(blob.Sha256, cancellationToken).ConfigureAwait(false);
                return writer.Length;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
