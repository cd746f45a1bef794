using ModelBox.Domain.Storage;

namespace ModelBox.Domain.Operations;

/// <summary>
/// Blob garbage collection: frees what a crash or an abandoned upload left in the blob store and no file record uses.
/// Only leftovers go: an upload or delete in progress keeps its blob, by the grace age and the blob's reference lock.
/// </summary>
public sealed class BlobCollector(IFileRecordStore files, IBlobStore blobs, TimeProvider time)
{
    /// <summary>Removes temporary blobs idle for longer than <paramref name="idleFor"/> (abandoned uploads).</summary>
    public Task<int> CollectTemporariesAsync(TimeSpan idleFor, CancellationToken cancellationToken = default) =>
        blobs.SweepTemporariesAsync(time.GetUtcNow() - idleFor, cancellationToken);

    /// <summary>Removes kept partial uploads (of interrupted resumable uploads) nobody resumed for <paramref name="idleFor"/>.</summary>
    public Task<int> CollectPartialsAsync(TimeSpan idleFor, CancellationToken cancellationToken = default) =>
        blobs is IPartialBlobStore partials ? partials.SweepPartialsAsync(time.GetUtcNow() - idleFor, cancellationToken) : Task.FromResult(0);

    /// <summary>
    /// Removes committed blobs that no record uses and that were written more than <paramref name="graceAge"/> ago: a
    /// crash between an upload's publish and its record, or between a delete's two transactions, leaves them. Each is
    /// deleted under its reference lock after checking again, so an upload of the same bytes that commits meanwhile keeps
    /// it. Returns how many were removed.
    /// </summary>
    public async Task<int> CollectUnreferencedAsync(TimeSpan graceAge, CancellationToken cancellationToken = default)
    {
        const int BatchSize = 500;
        var writtenBefore = time.GetUtcNow() - graceAge;
        var removed = 0;
        var batch = new List<string>(BatchSize);
        await foreach (var blob in blobs.ListBlobsAsync(cancellationToken).ConfigureAwait(false))
        {
            if (blob.LastWrite >= writtenBefore)
            {
                continue;
            }

            batch.Add(blob.Sha256);
            if (batch.Count == BatchSize)
            {
                removed += await CollectBatchAsync(batch, cancellationToken).ConfigureAwait(false);
                batch.Clear();
            }
        }

        if (batch.Count > 0)
        {
            removed += await CollectBatchAsync(batch, cancellationToken).ConfigureAwait(false);
        }

        return removed;
    }

    private async Task<int> CollectBatchAsync(List<string> candidates, CancellationToken cancellationToken)
    {
        var used = await files.FindReferencedBlobsAsync(candidates, cancellationToken).ConfigureAwait(false);
        var removed = 0;
        foreach (var sha256 in candidates.Where(c => !used.Contains(c)))
        {
            if (await files.DeleteBlobIfUnreferencedAsync(sha256, token => blobs.DeleteAsync(sha256, token), cancellationToken).ConfigureAwait(false))
            {
                removed++;
            }
        }

        return removed;
    }
}
