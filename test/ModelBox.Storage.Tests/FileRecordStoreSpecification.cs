using ModelBox.Domain;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.Tests;

/// <summary>The behaviour every <see cref="IFileRecordStore"/> backend must show; a backend subclasses it.</summary>
public abstract class FileRecordStoreSpecification : IAsyncLifetime
{
    protected static readonly DateTimeOffset T0 = new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.Zero).AddTicks(1_234_560);

    private IFileRecordStore? _files;

    protected IFileRecordStore Files => _files ?? throw new InvalidOperationException("the store is created in InitializeAsync");

    /// <summary>A fresh, empty, migrated store.</summary>
    protected abstract Task<IFileRecordStore> CreateStoreAsync();

    public async Task InitializeAsync() => _files = await CreateStoreAsync();

    public virtual async Task DisposeAsync()
    {
        if (_files is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_record_round_trips_every_field()
    {
        var file = Uploaded("exp-1", "../../etc/passwd", Sha('a')) with
        {
            Type = FileType.Checkpoint,
            Uri = "",
            SizeBytes = 5_000_000_000,
            Md5 = new string('b', 32),
            UpdatedAt = T0.AddSeconds(1),
        };

        await Files.InsertFilesAsync([file]);

        Assert.Equal(file, await Files.GetFileAsync(file.Id));
        Assert.Null(await Files.GetFileAsync(ObjectIds.NewFile()));
    }

    [Fact]
    public async Task Listing_returns_one_parents_files_oldest_first()
    {
        var first = Uploaded("exp-a", "a.bin", Sha('1'), T0);
        var second = Tracked("exp-a", "s3://bucket/b.bin", T0.AddSeconds(1));
        var other = Uploaded("exp-b", "c.bin", Sha('2'), T0);
        await Files.InsertFilesAsync([second, other]);
        await Files.InsertFilesAsync([first]);

        Assert.Equal([first, second], await Files.ListFilesAsync("exp-a"));
        Assert.Empty(await Files.ListFilesAsync("exp-none"));
        var many = await Files.ListFilesAsync(["exp-a", "exp-b", "exp-none"]);
        Assert.Equal([first, second], many["exp-a"]);
        Assert.Equal([other], many["exp-b"]);
        Assert.False(many.ContainsKey("exp-none"));
    }

    [Fact]
    public async Task Deleting_the_last_stored_record_of_a_blob_says_it_is_free()
    {
        var sha = Sha('c');
        var one = Uploaded("exp-a", "x", sha);
        var two = Uploaded("exp-b", "y", sha);
        // A tracked file that claims the same hash does not own the blob.
        var tracked = Tracked("exp-c", "elsewhere") with { Sha256 = sha };
        await Files.InsertFilesAsync([one, two, tracked]);

        var first = await Files.DeleteFileAsync(one.Id);
        Assert.True(first!.BlobStillReferenced);
        Assert.True(await Files.IsBlobReferencedAsync(sha));

        var second = await Files.DeleteFileAsync(two.Id);
        Assert.Equal(two, second!.File);
        Assert.False(second.BlobStillReferenced);
        Assert.False(await Files.IsBlobReferencedAsync(sha));

        Assert.Null(await Files.DeleteFileAsync(two.Id));
        Assert.Null(await Files.GetFileAsync(two.Id));
        Assert.NotNull(await Files.GetFileAsync(tracked.Id));
    }

    [Fact]
    public async Task A_batch_with_a_duplicate_id_inserts_nothing()
    {
        var file = Uploaded("exp-a", "x", Sha('d'));
        await Files.InsertFilesAsync([file]);
        var fresh = Uploaded("exp-a", "y", Sha('e'));

        await Assert.ThrowsAnyAsync<Exception>(() => Files.InsertFilesAsync([fresh, file]));

        Assert.Null(await Files.GetFileAsync(fresh.Id));
        Assert.Single(await Files.ListFilesAsync("exp-a"));
    }

    protected static string Sha(char c) => new(c, 64);

    protected static FileRecord Uploaded(string parentId, string path, string sha, DateTimeOffset? at = null) => new(
        ObjectIds.NewFile(), parentId, FileType.Model, path, Uri: "", SizeBytes: 10, Md5: new string('0', 32), sha, Stored: true, at ?? T0, at ?? T0);

    protected static FileRecord Tracked(string parentId, string uri, DateTimeOffset? at = null) => new(
        ObjectIds.NewFile(), parentId, FileType.Text, Path: "b.bin", uri, SizeBytes: 0, Md5: "", Sha256: "", Stored: false, at ?? T0, at ?? T0);
}
