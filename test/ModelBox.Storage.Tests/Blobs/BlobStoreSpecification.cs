using System.Security.Cryptography;
using ModelBox.Domain;
using ModelBox.Domain.Operations;
using ModelBox.Domain.Storage;
using ModelBox.Domain.Changes;
using ModelBox.Storage.Relational;
using ModelBox.Storage.Sqlite;

namespace ModelBox.Storage.Tests.Blobs;

/// <summary>
/// The behaviour every <see cref="IBlobStore"/> backend must show. A backend's test class subclasses this and supplies
/// a fresh, empty store per test.
/// </summary>
public abstract class BlobStoreSpecification : IAsyncLifetime
{
    /// <summary>Bigger than one S3 part (the smallest, 5 MiB) twice over, so multipart paths run.</summary>
    protected const int LargeBlobBytes = (12 * 1024 * 1024) + 12345;

    private IBlobStore? _store;

    protected IBlobStore Store => _store ?? throw new InvalidOperationException("the store is created in InitializeAsync");

    protected abstract Task<IBlobStore> CreateStoreAsync();

    public async Task InitializeAsync() => _store = await CreateStoreAsync();

    public virtual Task DisposeAsync()
    {
        (_store as IDisposable)?.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_committed_blob_reads_back_byte_for_byte()
    {
        var data = RandomBytes(100_000);

        var created = await WriteAsync(data);

        Assert.True(created);
        Assert.True(await Store.ExistsAsync(Sha(data)));
        Assert.Equal(data, await ReadAsync(Sha(data)));
    }

    [Fact]
    public async Task A_blob_larger_than_a_part_streams_in_small_chunks_and_reads_back()
    {
        var data = RandomBytes(LargeBlobBytes);

        Assert.True(await WriteAsync(data, chunkSize: 64 * 1024));

        Assert.Equal(data, await ReadAsync(Sha(data)));
    }

    [Fact]
    public async Task An_empty_blob_is_a_blob()
    {
        Assert.True(await WriteAsync([]));

        Assert.True(await Store.ExistsAsync(Sha([])));
        Assert.Empty(await ReadAsync(Sha([])));
    }

    [Fact]
    public async Task Ranges_read_the_requested_bytes_and_stop_at_the_end()
    {
        var data = RandomBytes(LargeBlobBytes);
        await WriteAsync(data, chunkSize: 1024 * 1024);
        var sha = Sha(data);

        Assert.Equal(data[1000..1100], await ReadAsync(sha, 1000, 100));
        Assert.Equal(data[(LargeBlobBytes - 10)..], await ReadAsync(sha, LargeBlobBytes - 10, null));
        Assert.Equal(data[(LargeBlobBytes - 10)..], await ReadAsync(sha, LargeBlobBytes - 10, 1000));
        Assert.Equal(data[(6 * 1024 * 1024)..], await ReadAsync(sha, 6 * 1024 * 1024, null));
        Assert.Empty(await ReadAsync(sha, LargeBlobBytes, null));
        Assert.Empty(await ReadAsync(sha, 5, 0));
    }

    [Fact]
    public async Task The_same_content_twice_is_stored_once()
    {
        var data = RandomBytes(10_000);

        Assert.True(await WriteAsync(data));
        Assert.False(await WriteAsync(data));

        Assert.Equal(data, await ReadAsync(Sha(data)));
        Assert.Empty(await ListTemporariesAsync());
    }

    [Fact]
    public async Task A_write_disposed_without_commit_leaves_nothing()
    {
        var data = RandomBytes(LargeBlobBytes);
        await using (var writer = await Store.BeginWriteAsync())
        {
            await writer.WriteAsync(data);
            Assert.Equal(data.Length, writer.Length);
        }

        Assert.False(await Store.ExistsAsync(Sha(data)));
        Assert.Null(await Store.OpenReadAsync(Sha(data)));
        Assert.Empty(await ListTemporariesAsync());
    }

    [Fact]
    public async Task A_write_in_progress_is_a_temporary_that_nobody_can_read()
    {
        var data = RandomBytes(1000);
        await using var writer = await Store.BeginWriteAsync();
        await writer.WriteAsync(data);

        Assert.False(await Store.ExistsAsync(Sha(data)));

        Assert.True(await writer.CommitAsync(Sha(data)));
        Assert.Equal(data, await ReadAsync(Sha(data)));
        Assert.Empty(await ListTemporariesAsync());
    }

    [Fact]
    public async Task Delete_frees_the_blob_once()
    {
        var data = RandomBytes(2048);
        await WriteAsync(data);

        Assert.True(await Store.DeleteAsync(Sha(data)));
        Assert.False(await Store.DeleteAsync(Sha(data)));

        Assert.False(await Store.ExistsAsync(Sha(data)));
        Assert.Null(await Store.OpenReadAsync(Sha(data)));
    }

    [Fact]
    public async Task A_sweep_removes_idle_temporaries_and_spares_recent_ones()
    {
        var abandoned = await Store.BeginWriteAsync();
        await abandoned.WriteAsync(RandomBytes(LargeBlobBytes));

        Assert.Equal(0, await Store.SweepTemporariesAsync(DateTimeOffset.UtcNow.AddHours(-1)));
        await SweepVisibleTemporariesAsync();

        // A committed blob is not a temporary: the sweep leaves it alone.
        var kept = RandomBytes(100);
        await WriteAsync(kept);
        await Store.SweepTemporariesAsync(DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.Equal(kept, await ReadAsync(Sha(kept)));
        await abandoned.DisposeAsync();
    }

    /// <summary>The backend's temporaries are listed while written, and a sweep of everything removes them.</summary>
    protected virtual async Task SweepVisibleTemporariesAsync()
    {
        Assert.NotEmpty(await ListTemporariesAsync());
        Assert.True(await Store.SweepTemporariesAsync(DateTimeOffset.UtcNow.AddMinutes(1)) >= 1);
        Assert.Empty(await ListTemporariesAsync());
    }

    [Fact]
    public async Task Committed_blobs_are_listed_with_when_they_were_written_and_temporaries_are_not()
    {
        var before = DateTimeOffset.UtcNow.AddMinutes(-5);
        var one = RandomBytes(100);
        var two = RandomBytes(LargeBlobBytes);
        await WriteAsync(one);
        await WriteAsync(two);
        await using var inProgress = await Store.BeginWriteAsync();
        await inProgress.WriteAsync(RandomBytes(100));

        var listed = new List<StoredBlob>();
        await foreach (var blob in Store.ListBlobsAsync())
        {
            listed.Add(blob);
        }

        Assert.Equal(new[] { Sha(one), Sha(two) }.Order(StringComparer.Ordinal), listed.Select(b => b.Sha256).Order(StringComparer.Ordinal));
        Assert.All(listed, b => Assert.InRange(b.LastWrite, before, DateTimeOffset.UtcNow.AddMinutes(5)));
    }

    [Fact]
    public Task The_sweep_frees_unreferenced_blobs_past_the_grace_age_and_keeps_young_and_referenced_ones() =>
        WithExperimentAsync(async (database, experiment) =>
        {
            var clock = new ShiftedClock();
            var artifacts = new ArtifactStore(database, database, Store, new ArtifactOptions(), clock);
            var collector = new BlobCollector(database, Store, clock);

            // A file with its record, and bytes a crash left without one (published, then the process died).
            var referenced = RandomBytes(1000);
            var file = await artifacts.UploadAsync(new NewFile(experiment, FileType.Model, "model.bin"), Chunks(referenced));
            var orphan = RandomBytes(2000);
            await WriteAsync(orphan);

            // Within the grace age nothing goes: an upload in flight may be about to record it.
            Assert.Equal(0, await collector.CollectUnreferencedAsync(TimeSpan.FromHours(1)));
            Assert.True(await Store.ExistsAsync(Sha(orphan)));

            clock.Shift = TimeSpan.FromHours(2);
            Assert.Equal(1, await collector.CollectUnreferencedAsync(TimeSpan.FromHours(1)));

            Assert.False(await Store.ExistsAsync(Sha(orphan)));
            Assert.Equal(referenced, await ReadAsync(file.Sha256));

            // Once its last record is gone the blob is freed at once; a sweep then finds nothing more to do.
            await artifacts.DeleteAsync(file.Id);
            Assert.False(await Store.ExistsAsync(file.Sha256));
            Assert.Equal(0, await collector.CollectUnreferencedAsync(TimeSpan.FromHours(1)));
        });

    [Fact]
    public Task A_broken_resumable_upload_resumes_where_the_store_keeps_partial_uploads_and_is_refused_where_it_cannot() =>
        WithExperimentAsync(async (database, experiment) =>
        {
            const int Kept = 5 * 1024 * 1024;
            var clock = new ShiftedClock();
            var artifacts = new ArtifactStore(database, database, Store, new ArtifactOptions(), clock);
            var data = RandomBytes(LargeBlobBytes);
            var file = new NewFile(experiment, FileType.Model, "big.bin");
            if (Store is not IPartialBlobStore)
            {
                var refused = await Assert.ThrowsAsync<ModelBoxException>(() => artifacts.UploadAsync(file, Chunks(data), null, new UploadResume("u1", 0)));
                Assert.Equal(ErrorKind.FailedPrecondition, refused.Kind);
                Assert.Contains("upload without an upload id", refused.Message, StringComparison.Ordinal);
                return;
            }

            await Assert.ThrowsAsync<IOException>(() => artifacts.UploadAsync(file, BrokenAfter(data, Kept), null, new UploadResume("u1", 0)));
            Assert.Equal(((long)Kept, false), await artifacts.GetUploadStatusAsync(experiment, "u1"));

            var record = await artifacts.UploadAsync(
                file, Chunks(data[Kept..]), () => new ClaimedChecksums(null, Sha(data)), new UploadResume("u1", Kept));

            Assert.Equal(Sha(data), record.Sha256);
            Assert.Equal(data.LongLength, record.SizeBytes);
            Assert.Equal(data, await ReadAsync(record.Sha256));
            Assert.Equal((0L, false), await artifacts.GetUploadStatusAsync(experiment, "u1"));

            // A kept upload nobody resumes goes with the sweep once it was idle for the keep age.
            await Assert.ThrowsAsync<IOException>(() => artifacts.UploadAsync(file with { Path = "other.bin" }, BrokenAfter(data, 1000), null, new UploadResume("u2", 0)));
            var collector = new BlobCollector(database, Store, clock);
            Assert.Equal(0, await collector.CollectPartialsAsync(TimeSpan.FromHours(1)));
            clock.Shift = TimeSpan.FromHours(2);
            Assert.Equal(1, await collector.CollectPartialsAsync(TimeSpan.FromHours(1)));
            Assert.Equal((0L, false), await artifacts.GetUploadStatusAsync(experiment, "u2"));
        });

    /// <summary>Runs <paramref name="test"/> with a fresh SQLite metadata store holding one experiment.</summary>
    private static async Task WithExperimentAsync(Func<RelationalMetadataStore, string, Task> test)
    {
        var directory = Directory.CreateTempSubdirectory("modelbox-sweep-").FullName;
        var dialect = new SqliteDialect(new SqliteStorageOptions { DatabasePath = Path.Combine(directory, "modelbox.db") });
        var database = new RelationalMetadataStore(dialect, new InProcessChangeSignal());
        try
        {
            await database.MigrateAsync();
            var t0 = DateTimeOffset.UtcNow;
            var experiment = ObjectIds.Experiment("sweep", "run");
            await database.CreateExperimentAsync(new Experiment(
                experiment, "sweep", "run", "owner", Framework.PyTorch, "", "", "", ExperimentStatus.Running, null, new Dictionary<string, string>(), t0, t0));
            await test(database, experiment);
        }
        finally
        {
            await dialect.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The first <paramref name="count"/> bytes in 64 KiB chunks, then the stream breaks as a client's would.</summary>
    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> BrokenAfter(byte[] data, int count)
    {
        for (var offset = 0; offset < count; offset += 64 * 1024)
        {
            await Task.Yield();
            yield return data.AsMemory(offset, Math.Min(64 * 1024, count - offset));
        }

        throw new IOException("the client went away");
    }

    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> Chunks(byte[] data)
    {
        await Task.Yield();
        yield return data;
    }

    /// <summary>The real clock moved forward by <see cref="Shift"/>: blobs written now look that much older.</summary>
    private sealed class ShiftedClock : TimeProvider
    {
        public TimeSpan Shift { get; set; }

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Shift;
    }

    [Theory]
    [InlineData("../../../../etc/passwd")]
    [InlineData("/etc/passwd")]
    [InlineData("C:\\Windows\\win.ini")]
    [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789")]
    [InlineData("0123")]
    [InlineData("")]
    public async Task Anything_but_a_lowercase_sha256_is_refused_as_an_address(string address)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Store.ExistsAsync(address));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.OpenReadAsync(address));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.DeleteAsync(address));
        await using var writer = await Store.BeginWriteAsync();
        await writer.WriteAsync(RandomBytes(10));
        await Assert.ThrowsAsync<ArgumentException>(() => writer.CommitAsync(address));
    }

    protected static byte[] RandomBytes(int count)
    {
        var data = new byte[count];
        Random.Shared.NextBytes(data);
        return data;
    }

    protected static string Sha(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    protected async Task<bool> WriteAsync(byte[] data, int chunkSize = 64 * 1024)
    {
        await using var writer = await Store.BeginWriteAsync();
        for (var offset = 0; offset < data.Length; offset += chunkSize)
        {
            await writer.WriteAsync(data.AsMemory(offset, Math.Min(chunkSize, data.Length - offset)));
        }

        return await writer.CommitAsync(Sha(data));
    }

    protected async Task<byte[]> ReadAsync(string sha, long offset = 0, long? length = null)
    {
        await using var stream = await Store.OpenReadAsync(sha, offset, length) ?? throw new InvalidOperationException($"blob {sha} is missing");
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    protected async Task<List<TemporaryBlob>> ListTemporariesAsync()
    {
        var list = new List<TemporaryBlob>();
        await foreach (var temporary in Store.ListTemporariesAsync())
        {
            list.Add(temporary);
        }

        return list;
    }
}
