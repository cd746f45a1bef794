using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.Tests;

/// <summary>The behaviour every <see cref="IFileRecordStore"/> backend must show; a backend subclasses it.</summary>
public abstract class FileRecordStoreSpecification : IAsyncLifetime
{
    protected static readonly DateTimeOffset T0 = new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.Zero).AddTicks(1_234_560);

    private IFileRecordStore? _files;
    private IMetadataStore? _objects;
    private readonly Dictionary<string, string> _parents = new(StringComparer.Ordinal);

    protected IFileRecordStore Files => _files ?? throw new InvalidOperationException("the store is created in InitializeAsync");

    /// <summary>A fresh, empty, migrated backend: its metadata store (for parents) and its file-record store.</summary>
    protected abstract Task<(IMetadataStore Objects, IFileRecordStore Files)> CreateStoresAsync();

    public async Task InitializeAsync()
    {
        (_objects, _files) = await CreateStoresAsync();
        foreach (var name in new[] { "a", "b", "c" })
        {
            var id = ObjectIds.Experiment("files", name);
            await _objects.CreateExperimentAsync(new Experiment(
                id, "files", name, "owner", Framework.PyTorch, "", "", "", ExperimentStatus.Running, null, new Dictionary<string, string>(), T0, T0));
            _parents[name] = id;
        }
    }

    public virtual async Task DisposeAsync()
    {
        if (_files is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
    }

    /// <summary>The id of one of the experiments every test starts with ("a", "b" or "c").</summary>
    protected string Parent(string name) => _parents[name];

    [Fact]
    public async Task Inserting_and_deleting_records_writes_their_change_records_in_the_same_transaction()
    {
        var file = Uploaded(Parent("a"), "model.bin", Sha('f'));
        await Files.InsertFilesAsync([file]);
        await Files.DeleteFileAsync(file.Id, T0.AddSeconds(5));

        var changes = (await ((IChangeLog)Files).ReadChangesAsync("files", 0, 1000)).Where(c => c.ObjectKind == ChangeObjectKinds.File).ToList();

        Assert.Equal([(file.Id, ChangeType.Created), (file.Id, ChangeType.Deleted)], changes.Select(c => (c.ObjectId, c.Change)));
        Assert.Contains("\"path\":\"model.bin\"", changes[0].StateJson, StringComparison.Ordinal);
        Assert.Equal(T0.AddSeconds(5), changes[1].ChangedAt);
    }

    [Fact]
    public async Task A_record_of_an_unknown_parent_is_not_found_and_nothing_is_inserted()
    {
        var good = Uploaded(Parent("a"), "x", Sha('1'));
        var orphan = Uploaded(ObjectIds.Experiment("files", "missing"), "y", Sha('2'));

        var error = await Assert.ThrowsAsync<ModelBoxException>(() => Files.InsertFilesAsync([good, orphan]));

        Assert.Equal(ErrorKind.NotFound, error.Kind);
        Assert.Null(await Files.GetFileAsync(good.Id));
    }

    [Fact]
    public async Task A_record_round_trips_every_field()
    {
        var file = Uploaded(Parent("a"), "../../etc/passwd", Sha('a')) with
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
        var first = Uploaded(Parent("a"), "a.bin", Sha('1'), T0);
        var second = Tracked(Parent("a"), "s3://bucket/b.bin", T0.AddSeconds(1));
        var other = Uploaded(Parent("b"), "c.bin", Sha('2'), T0);
        await Files.InsertFilesAsync([second, other]);
        await Files.InsertFilesAsync([first]);

        Assert.Equal([first, second], await Files.ListFilesAsync(Parent("a")));
        Assert.Empty(await Files.ListFilesAsync(ObjectIds.Experiment("files", "none")));
        var many = await Files.ListFilesAsync([Parent("a"), Parent("b"), "exp-none"]);
        Assert.Equal([first, second], many[Parent("a")]);
        Assert.Equal([other], many[Parent("b")]);
        Assert.False(many.ContainsKey("exp-none"));
    }

    [Fact]
    public async Task Deleting_the_last_stored_record_of_a_blob_says_it_is_free()
    {
        var sha = Sha('c');
        var one = Uploaded(Parent("a"), "x", sha);
        var two = Uploaded(Parent("b"), "y", sha);
        // A tracked file that claims the same hash does not own the blob.
        var tracked = Tracked(Parent("c"), "elsewhere") with { Sha256 = sha };
        await Files.InsertFilesAsync([one, two, tracked]);

        var first = await Files.DeleteFileAsync(one.Id, T0);
        Assert.True(first!.BlobStillReferenced);
        Assert.True(await Files.IsBlobReferencedAsync(sha));

        var second = await Files.DeleteFileAsync(two.Id, T0);
        Assert.Equal(two, second!.File);
        Assert.False(second.BlobStillReferenced);
        Assert.False(await Files.IsBlobReferencedAsync(sha));

        Assert.Null(await Files.DeleteFileAsync(two.Id, T0));
        Assert.Null(await Files.GetFileAsync(two.Id));
        Assert.NotNull(await Files.GetFileAsync(tracked.Id));
    }

    [Fact]
    public async Task A_batch_with_a_duplicate_id_inserts_nothing()
    {
        var file = Uploaded(Parent("a"), "x", Sha('d'));
        await Files.InsertFilesAsync([file]);
        var fresh = Uploaded(Parent("a"), "y", Sha('e'));

        await Assert.ThrowsAnyAsync<Exception>(() => Files.InsertFilesAsync([fresh, file]));

        Assert.Null(await Files.GetFileAsync(fresh.Id));
        Assert.Single(await Files.ListFilesAsync(Parent("a")));
    }

    protected static string Sha(char c) => new(c, 64);

    protected static FileRecord Uploaded(string parentId, string path, string sha, DateTimeOffset? at = null) => new(
        ObjectIds.NewFile(), parentId, FileType.Model, path, Uri: "", SizeBytes: 10, Md5: new string('0', 32), sha, Stored: true, at ?? T0, at ?? T0);

    protected static FileRecord Tracked(string parentId, string uri, DateTimeOffset? at = null) => new(
        ObjectIds.NewFile(), parentId, FileType.Text, Path: "b.bin", uri, SizeBytes: 0, Md5: "", Sha256: "", Stored: false, at ?? T0, at ?? T0);
}
