using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Operations;
using ModelBox.Domain.Registry;
using ModelBox.Domain.Storage;
using ModelBox.Storage.Filesystem;
using ModelBox.Storage.Relational;

namespace ModelBox.Storage.Tests;

/// <summary>The behaviour every <see cref="IFileRecordStore"/> backend must show; a backend subclasses it.</summary>
public abstract class FileRecordStoreSpecification : StoreSpecification
{
    protected static readonly DateTimeOffset T0 = new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.Zero).AddTicks(1_234_560);

    private readonly Dictionary<string, string> _parents = new(StringComparer.Ordinal);
    private readonly List<RelationalMetadataStore> _replicas = [];

    protected IFileRecordStore Files => Factory.Store;

    protected IMetadataStore Objects => Backend.Store;

    /// <summary>
    /// Another store object on the same database, as a second server process (replica) has: its own connections and
    /// in-process locks.
    /// </summary>
    protected Task<(IMetadataStore Objects, IFileRecordStore Files)> OpenSecondStoresAsync()
    {
        var replica = Factory.OpenReplica(new InProcessChangeSignal());
        _replicas.Add(replica);
        return Task.FromResult<(IMetadataStore, IFileRecordStore)>((replica, replica));
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        foreach (var name in new[] { "a", "b", "c" })
        {
            var id = ObjectIds.Experiment("files", name);
            await Backend.Store.CreateExperimentAsync(new Experiment(
                id, "files", name, "owner", Framework.PyTorch, "", "", "", ExperimentStatus.Running, null, new Dictionary<string, string>(), T0, T0));
            _parents[name] = id;
        }
    }

    public override async Task DisposeAsync()
    {
        foreach (var replica in _replicas)
        {
            await ((IAsyncDisposable)replica.Dialect).DisposeAsync();
        }

        await base.DisposeAsync();
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
    public async Task Files_given_with_a_create_commit_with_the_object_and_after_its_change_record()
    {
        var checkpoint = NewCheckpoint(Parent("a"), epoch: 1);
        FileRecord[] files = [Tracked(checkpoint.Id, "s3://bucket/a", T0), Tracked(checkpoint.Id, "s3://bucket/b", T0.AddSeconds(1))];

        var created = await Objects.CreateCheckpointAsync(checkpoint, files);

        Assert.False(created.Existed);
        Assert.Equal(files.Select(f => f.Id), (await Files.ListFilesAsync(checkpoint.Id)).Select(f => f.Id));
        var changes = await ((IChangeLog)Files).ReadChangesAsync("files", 0, 1000);
        Assert.Equal(
            [(checkpoint.Id, ChangeObjectKinds.Checkpoint), (files[0].Id, ChangeObjectKinds.File), (files[1].Id, ChangeObjectKinds.File)],
            changes.SkipWhile(c => c.ObjectId != checkpoint.Id).Select(c => (c.ObjectId, c.ObjectKind)));
    }

    [Fact]
    public async Task Files_given_with_the_create_of_an_object_that_exists_are_ignored()
    {
        var checkpoint = NewCheckpoint(Parent("a"), epoch: 2);
        var first = Tracked(checkpoint.Id, "s3://bucket/first");
        await Objects.CreateCheckpointAsync(checkpoint, [first]);
        var model = NewModel("files", "kept");
        var modelFile = Tracked(model.Id, "s3://bucket/model");
        await Objects.CreateModelAsync(model, [modelFile]);

        var checkpointAgain = await Objects.CreateCheckpointAsync(checkpoint, [Tracked(checkpoint.Id, "s3://bucket/second")]);
        var modelAgain = await Objects.CreateModelAsync(model, [Tracked(model.Id, "s3://bucket/other")]);

        Assert.True(checkpointAgain.Existed);
        Assert.True(modelAgain.Existed);
        Assert.Equal([first.Id], (await Files.ListFilesAsync(checkpoint.Id)).Select(f => f.Id));
        Assert.Equal([modelFile.Id], (await Files.ListFilesAsync(model.Id)).Select(f => f.Id));
    }

    [Fact]
    public async Task A_create_whose_files_fail_to_insert_leaves_no_object_and_no_change_record()
    {
        // A file id that is taken already: the insert of the files fails after the object's own insert and change record.
        var taken = Tracked(Parent("b"), "s3://bucket/taken");
        await Files.InsertFilesAsync([taken]);
        var registry = Objects as IRegistryStore ?? throw new InvalidOperationException("the backend's metadata store is its registry store too");
        var model = NewModel("files", "asr");
        await Objects.CreateModelAsync(model);

        var checkpoint = NewCheckpoint(Parent("a"), epoch: 3);
        await Assert.ThrowsAnyAsync<Exception>(() => Objects.CreateCheckpointAsync(checkpoint, [taken with { ParentId = checkpoint.Id }]));
        var newModel = NewModel("files-rollback", "tts");
        await Assert.ThrowsAnyAsync<Exception>(() => Objects.CreateModelAsync(newModel, [taken with { ParentId = newModel.Id }]));
        var version = new ModelVersion(
            ObjectIds.ModelVersion(model.Id, "1"), model.Id, "", "1", "", Framework.PyTorch, ["production"], new Dictionary<string, string>(), T0, T0);
        await Assert.ThrowsAnyAsync<Exception>(() => registry.CreateModelVersionAsync(
            version, Lineage.Empty, new AuditContext("alice", T0), [taken with { ParentId = version.Id }]));

        Assert.Null(await Objects.GetCheckpointAsync(checkpoint.Id));
        Assert.Null(await Objects.GetModelAsync(newModel.Id));
        Assert.Null(await Objects.GetModelVersionAsync(version.Id));
        Assert.DoesNotContain("files-rollback", (await Objects.ListNamespacesAsync(PageRequest.All)).Items.Select(n => n.Name));
        var changes = await ((IChangeLog)Files).ReadChangesAsync("files", 0, 1000);
        Assert.DoesNotContain(changes, c => c.ObjectId == checkpoint.Id || c.ObjectId == version.Id);
        Assert.Empty(await ((IChangeLog)Files).ReadChangesAsync("files-rollback", 0, 1000));
        Assert.Equal([taken.Id], (await Files.ListFilesAsync(Parent("b"))).Select(f => f.Id));
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

    [Fact]
    public async Task Blob_deletion_runs_only_while_no_stored_record_uses_the_blob()
    {
        var sha = Sha('7');
        var stored = Uploaded(Parent("a"), "x", sha);
        // A tracked file that claims the same hash does not own the blob.
        await Files.InsertFilesAsync([stored, Tracked(Parent("b"), "elsewhere") with { Sha256 = sha }]);
        var deletions = 0;

        Assert.False(await Files.DeleteBlobIfUnreferencedAsync(sha, _ => Task.FromResult(++deletions)));
        Assert.Equal(0, deletions);
        Assert.Equal([sha], await Files.FindReferencedBlobsAsync([sha, Sha('8')]));

        await Files.DeleteFileAsync(stored.Id, T0);
        Assert.True(await Files.DeleteBlobIfUnreferencedAsync(sha, _ => Task.FromResult(++deletions)));
        Assert.Equal(1, deletions);
        Assert.Empty(await Files.FindReferencedBlobsAsync([sha]));
    }

    [Fact]
    public async Task An_uploaded_record_is_inserted_only_when_its_blob_was_published()
    {
        var published = Uploaded(Parent("a"), "ok.bin", Sha('5'));
        var failed = Uploaded(Parent("a"), "lost.bin", Sha('6'));
        var ran = 0;

        await Files.InsertUploadedFileAsync(published, _ => Task.FromResult(++ran));
        await Assert.ThrowsAsync<IOException>(() => Files.InsertUploadedFileAsync(failed, _ => throw new IOException("the disk went away")));

        Assert.Equal(1, ran);
        Assert.Equal(published, await Files.GetFileAsync(published.Id));
        Assert.Null(await Files.GetFileAsync(failed.Id));
    }

    [Fact]
    public async Task Deletes_racing_uploads_of_the_same_bytes_on_two_store_instances_never_leave_a_record_without_its_blob()
    {
        // Two replicas: each has its own store object on the one database and its own blob store object on the one folder.
        // Each uploads the same bytes and deletes its record again, over and over, so that one replica's upload finds the
        // blob present ("stored already, skip the write") just as the other deletes the last record and frees it.
        const int Rounds = 150;
        var (objects2, files2) = await OpenSecondStoresAsync();
        var blobDirectory = Directory.CreateTempSubdirectory("modelbox-blob-race-").FullName;
        try
        {
            var blobs = new FilesystemBlobStore(blobDirectory);
            ArtifactStore[] replicas =
            [
                new(Backend.Store, Files, new FilesystemBlobStore(blobDirectory), new ArtifactOptions(), TimeProvider.System),
                new(objects2, files2, new FilesystemBlobStore(blobDirectory), new ArtifactOptions(), TimeProvider.System),
            ];
            var content = System.Security.Cryptography.RandomNumberGenerator.GetBytes(64 * 1024);
            var broken = new System.Collections.Concurrent.ConcurrentBag<string>();

            async Task RunAsync(ArtifactStore replica, string parentId)
            {
                for (var round = 0; round < Rounds; round++)
                {
                    var file = await replica.UploadAsync(new NewFile(parentId, FileType.Model, "same.bin"), OneChunk(content));

                    // While a record exists its blob must exist, whatever the other replica does meanwhile.
                    if (!await blobs.ExistsAsync(file.Sha256))
                    {
                        broken.Add($"round {round}: {file.Id} of {parentId}");
                    }

                    if (round < Rounds - 1)
                    {
                        await replica.DeleteAsync(file.Id);
                    }
                }
            }

            await Task.WhenAll(Task.Run(() => RunAsync(replicas[0], Parent("a"))), Task.Run(() => RunAsync(replicas[1], Parent("b"))));

            Assert.Empty(broken);
            var remaining = (await Files.ListFilesAsync([Parent("a"), Parent("b")])).Values.SelectMany(f => f).ToList();
            Assert.Equal(2, remaining.Count);
            foreach (var file in remaining)
            {
                Assert.True(await blobs.ExistsAsync(file.Sha256), $"{file.Id} has no blob");
            }
        }
        finally
        {
            Directory.Delete(blobDirectory, recursive: true);
        }
    }

    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> OneChunk(byte[] content)
    {
        await Task.Yield();
        yield return content;
    }

    protected static string Sha(char c) => new(c, 64);

    private static Checkpoint NewCheckpoint(string experimentId, long epoch) => new(
        ObjectIds.Checkpoint(experimentId, epoch), experimentId, epoch, new Dictionary<string, float>(), new Dictionary<string, string>(), T0, T0);

    private static Model NewModel(string @namespace, string name) => new(
        ObjectIds.Model(@namespace, name), @namespace, name, "owner", "", "", new Dictionary<string, string>(), T0, T0);

    protected static FileRecord Uploaded(string parentId, string path, string sha, DateTimeOffset? at = null) => new(
        ObjectIds.NewFile(), parentId, FileType.Model, path, Uri: "", SizeBytes: 10, Md5: new string('0', 32), sha, Stored: true, at ?? T0, at ?? T0);

    protected static FileRecord Tracked(string parentId, string uri, DateTimeOffset? at = null) => new(
        ObjectIds.NewFile(), parentId, FileType.Text, Path: "b.bin", uri, SizeBytes: 0, Md5: "", Sha256: "", Stored: false, at ?? T0, at ?? T0);
}
