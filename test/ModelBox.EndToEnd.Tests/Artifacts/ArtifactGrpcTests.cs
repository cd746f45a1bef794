using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;
using ModelBox.Server.Configuration;
using ModelBox.Server.Hosting;
using ModelBox.Cli.Hosting;

namespace ModelBox.EndToEnd.Tests.Artifacts;

/// <summary>Uploads and downloads over raw gRPC against the real server and its filesystem blob store.</summary>
[Collection(ServerCollection.Name)]
public sealed class ArtifactGrpcTests : IDisposable
{
    private const int Chunk = 64 * 1024;

    private readonly ModelBoxServerFixture _server;
    private readonly GrpcChannel _channel;
    private readonly ModelStore.ModelStoreClient _client;

    public ArtifactGrpcTests(ModelBoxServerFixture server)
    {
        _server = server;
        _client = server.CreateGrpcClient(out _channel);
    }

    public void Dispose() => _channel.Dispose();

    private string BlobRoot => Path.Combine(_server.DataDir, "blobs", "sha256");

    private string TempRoot => Path.Combine(_server.DataDir, "blobs", "tmp");

    [Fact]
    public async Task An_upload_round_trips_with_its_size_and_checksums()
    {
        var parent = await NewExperimentAsync();
        var data = RandomBytes((3 * Chunk) + 123);

        var id = await UploadAsync(parent, data, "weights/model.bin", Md5(data));
        var (metadata, bytes) = await DownloadAsync(id);

        Assert.Equal(data, bytes);
        Assert.Equal(id, metadata.Id);
        Assert.Equal(parent, metadata.ParentId);
        Assert.Equal("weights/model.bin", metadata.Path);
        Assert.Equal((ulong)data.Length, metadata.SizeBytes);
        Assert.Equal(Md5(data), metadata.Checksum);
        Assert.Equal(Sha256(data), metadata.Sha256);
        Assert.Equal(FileType.Model, metadata.FileType);
        var listed = Assert.Single((await _client.ListArtifactsAsync(new ListArtifactsRequest { ParentId = parent })).Files);
        Assert.Equal(metadata, listed);
        Assert.Equal(metadata, (await _client.GetArtifactAsync(new GetArtifactRequest { Id = id })).File);
    }

    [Fact]
    public async Task An_upload_without_a_checksum_is_kept_and_gets_one()
    {
        var parent = await NewExperimentAsync();
        var data = RandomBytes(1000);

        var id = await UploadAsync(parent, data, "x.txt", checksum: "");

        Assert.Equal(Md5(data), (await _client.GetArtifactAsync(new GetArtifactRequest { Id = id })).File.Checksum);
    }

    [Fact]
    public async Task A_checksum_mismatch_is_data_loss_and_keeps_nothing()
    {
        var parent = await NewExperimentAsync();
        var data = RandomBytes(2 * Chunk);

        var error = await Assert.ThrowsAsync<RpcException>(() => UploadAsync(parent, data, "bad.bin", Md5([1, 2, 3])));

        Assert.Equal(StatusCode.DataLoss, error.StatusCode);
        Assert.Contains("checksum mismatch", error.Status.Detail, StringComparison.Ordinal);
        Assert.Empty((await _client.ListArtifactsAsync(new ListArtifactsRequest { ParentId = parent })).Files);
        Assert.False(BlobExists(Sha256(data)));
        Assert.Empty(Directory.GetFiles(TempRoot));
    }

    [Fact]
    public async Task A_checksums_frame_after_the_bytes_is_verified_before_anything_is_kept()
    {
        var parent = await NewExperimentAsync();
        var data = RandomBytes((2 * Chunk) + 5);

        var id = await SendUploadAsync(parent, data, new UploadChecksums { Md5 = Md5(data), Sha256 = Sha256(data) });
        Assert.Equal(data, (await DownloadAsync(id)).Bytes);

        var other = RandomBytes(Chunk);
        var wrongSha = await Assert.ThrowsAsync<RpcException>(() => SendUploadAsync(parent, other, new UploadChecksums { Sha256 = Sha256(data) }));
        var wrongMd5 = await Assert.ThrowsAsync<RpcException>(() => SendUploadAsync(parent, other, new UploadChecksums { Md5 = Md5(data) }));

        Assert.Equal(StatusCode.DataLoss, wrongSha.StatusCode);
        Assert.Contains("checksums frame", wrongSha.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.DataLoss, wrongMd5.StatusCode);
        Assert.Equal([id], (await _client.ListArtifactsAsync(new ListArtifactsRequest { ParentId = parent })).Files.Select(f => f.Id));
        Assert.False(BlobExists(Sha256(other)));
        Assert.Empty(Directory.GetFiles(TempRoot));
    }

    [Fact]
    public async Task A_malformed_checksums_frame_or_a_frame_after_it_is_invalid_and_keeps_nothing()
    {
        var parent = await NewExperimentAsync();
        var data = RandomBytes(1000);

        var notHex = await Assert.ThrowsAsync<RpcException>(() => SendUploadAsync(parent, data, new UploadChecksums { Sha256 = "not-a-sha256" }));
        var late = await Assert.ThrowsAsync<RpcException>(() => SendFramesAsync(
            new UploadFileRequest { Metadata = new FileMetadata { ParentId = parent, Path = "late.bin" } },
            new UploadFileRequest { Chunks = ByteString.CopyFrom(data) },
            new UploadFileRequest { Checksums = new UploadChecksums { Sha256 = Sha256(data) } },
            new UploadFileRequest { Chunks = ByteString.CopyFrom(data) }));

        Assert.Equal(StatusCode.InvalidArgument, notHex.StatusCode);
        Assert.Contains("checksums.sha256", notHex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.InvalidArgument, late.StatusCode);
        Assert.Contains("last frame", late.Status.Detail, StringComparison.Ordinal);
        Assert.Empty((await _client.ListArtifactsAsync(new ListArtifactsRequest { ParentId = parent })).Files);
        Assert.False(BlobExists(Sha256(data)));
    }

    [Fact]
    public async Task A_download_sends_the_chunk_size_the_client_asks_for_up_to_just_under_4_MiB()
    {
        var parent = await NewExperimentAsync();
        var data = RandomBytes((5 * 1024 * 1024) + 1);
        var id = await UploadAsync(parent, data, "big.bin", Md5(data));

        async Task<List<int>> ChunkSizesAsync(uint asked)
        {
            using var call = _client.DownloadFile(new DownloadFileRequest { FileId = id, ChunkSizeBytes = asked });
            var sizes = new List<int>();
            using var bytes = new MemoryStream();
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
                sizes.Add(call.ResponseStream.Current.Chunks.Length);
                call.ResponseStream.Current.Chunks.WriteTo(bytes);
            }

            Assert.Equal(data, bytes.ToArray());
            return sizes;
        }

        Assert.Equal([.. Enumerable.Repeat(1024 * 1024, 5), 1], await ChunkSizesAsync(1024 * 1024));
        // Capped so that a frame fits the 4 MiB a gRPC client accepts by default (this one's limit).
        const int Cap = (4 * 1024 * 1024) - 1024;
        Assert.Equal([Cap, data.Length - Cap], await ChunkSizesAsync(64 * 1024 * 1024));
        Assert.Equal([.. Enumerable.Repeat(Chunk, 80), 1], await ChunkSizesAsync(0));
    }

    [Fact]
    public async Task Blobs_no_record_uses_are_swept_at_start_up_once_older_than_the_grace_age()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "modelbox-e2e-" + Guid.NewGuid().ToString("N"));
        var blobRoot = Path.Combine(dataDir, "blobs", "sha256");
        string BlobPath(byte[] data) => Path.Combine(blobRoot, Sha256(data)[..2], Sha256(data)[2..4], Sha256(data));
        var kept = RandomBytes(3000);
        try
        {
            await using (var first = await SmallServer.StartAsync(maxUploadBytes: 1 << 20, dataDir, keepData: true))
            {
                using var channel = GrpcChannel.ForAddress(first.Address);
                var client = new ModelStore.ModelStoreClient(channel);
                var parent = (await client.CreateExperimentAsync(new CreateExperimentRequest { Name = "sweep", Namespace = "artifacts" })).ExperimentId;
                await UploadAsync(client, parent, kept, "kept.bin", Md5(kept));
            }

            // A crash between storing and recording leaves blobs nobody references: one long ago, one just now.
            var old = RandomBytes(2000);
            var recent = RandomBytes(1000);
            foreach (var blob in new[] { old, recent })
            {
                Directory.CreateDirectory(Path.GetDirectoryName(BlobPath(blob))!);
                await File.WriteAllBytesAsync(BlobPath(blob), blob);
            }

            File.SetLastWriteTimeUtc(BlobPath(old), DateTime.UtcNow.AddDays(-2));
            File.SetLastWriteTimeUtc(BlobPath(kept), DateTime.UtcNow.AddDays(-2));

            await using (await SmallServer.StartAsync(maxUploadBytes: 1 << 20, dataDir, keepData: true))
            {
                await WaitForAsync(() => !File.Exists(BlobPath(old)));
                Assert.True(File.Exists(BlobPath(kept)), "a blob a record uses was swept");
                Assert.True(File.Exists(BlobPath(recent)), "a blob younger than the grace age was swept");
            }
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task Mlflow_multipart_uploads_untouched_for_a_week_are_swept_and_newer_ones_kept()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "modelbox-e2e-" + Guid.NewGuid().ToString("N"));
        var abandoned = Directory.CreateDirectory(Path.Combine(dataDir, "mlflow-uploads", "0123456789abcdef0123456789abcdef")).FullName;
        var active = Directory.CreateDirectory(Path.Combine(dataDir, "mlflow-uploads", "fedcba9876543210fedcba9876543210")).FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(abandoned, "upload.json"), "{}");
            await File.WriteAllTextAsync(Path.Combine(active, "upload.json"), "{}");
            Directory.SetLastWriteTimeUtc(abandoned, DateTime.UtcNow.AddDays(-8));
            Directory.SetLastWriteTimeUtc(active, DateTime.UtcNow.AddDays(-6));

            await using (await SmallServer.StartAsync(maxUploadBytes: 1 << 20, dataDir, keepData: true))
            {
                await WaitForAsync(() => !Directory.Exists(abandoned));
                Assert.True(Directory.Exists(active), "an upload touched within the week was swept");
            }
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_stream_leaves_no_visible_file()
    {
        var parent = await NewExperimentAsync();
        var data = RandomBytes(4 * Chunk);
        using (var cancel = new CancellationTokenSource())
        {
            var call = _client.UploadFile(cancellationToken: cancel.Token);
            await call.RequestStream.WriteAsync(new UploadFileRequest { Metadata = new FileMetadata { ParentId = parent, Path = "half.bin" } });
            await call.RequestStream.WriteAsync(new UploadFileRequest { Chunks = ByteString.CopyFrom(data, 0, Chunk) });
            // Wait until the server has the upload's temporary file, then go away without finishing.
            await WaitForAsync(() => Directory.GetFiles(TempRoot).Length > 0);
            await cancel.CancelAsync();
            call.Dispose();
        }

        // The server notices the reset and removes the temporary file; nothing ever became visible.
        await WaitForAsync(() => Directory.GetFiles(TempRoot).Length == 0);
        Assert.Empty((await _client.ListArtifactsAsync(new ListArtifactsRequest { ParentId = parent })).Files);
        Assert.False(BlobExists(Sha256(data)));
    }

    [Fact]
    public async Task The_same_bytes_twice_are_stored_once_and_deleting_the_last_record_frees_them()
    {
        var first = await NewExperimentAsync();
        var second = await NewExperimentAsync();
        var data = RandomBytes(Chunk + 7);
        var sha = Sha256(data);

        var one = await UploadAsync(first, data, "a.bin", Md5(data));
        var two = await UploadAsync(second, data, "b.bin", Md5(data));

        Assert.NotEqual(one, two);
        Assert.Single(Directory.GetFiles(BlobRoot, sha, SearchOption.AllDirectories));

        await _client.DeleteArtifactAsync(new DeleteArtifactRequest { Id = one });
        Assert.True(BlobExists(sha));
        Assert.Equal(data, (await DownloadAsync(two)).Bytes);
        var gone = await Assert.ThrowsAsync<RpcException>(() => DownloadAsync(one));
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);

        await _client.DeleteArtifactAsync(new DeleteArtifactRequest { Id = two });
        Assert.False(BlobExists(sha));
        Assert.Empty((await _client.ListArtifactsAsync(new ListArtifactsRequest { ParentId = second })).Files);
    }

    [Theory]
    [InlineData("../../../../../../etc/passwd")]
    [InlineData("/etc/shadow")]
    [InlineData("C:\\Windows\\System32\\drivers\\etc\\hosts")]
    [InlineData("..\\..\\boot.ini")]
    [InlineData("blobs/../../modelbox.db")]
    public async Task A_hostile_path_is_only_a_name(string path)
    {
        var parent = await NewExperimentAsync();
        var data = RandomBytes(100);
        var before = Directory.GetFiles(_server.DataDir, "*", SearchOption.AllDirectories).Where(f => !f.StartsWith(BlobRoot, StringComparison.Ordinal)).ToHashSet();

        var id = await UploadAsync(parent, data, path, Md5(data));

        Assert.Equal(path, (await _client.GetArtifactAsync(new GetArtifactRequest { Id = id })).File.Path);
        Assert.True(BlobExists(Sha256(data)));
        // Nothing but the blob (and the database's own files) changed under the data folder, and nothing outside it.
        var after = Directory.GetFiles(_server.DataDir, "*", SearchOption.AllDirectories).Where(f => !f.StartsWith(BlobRoot, StringComparison.Ordinal)).ToHashSet();
        Assert.DoesNotContain(after.Except(before), f => !Path.GetFileName(f).StartsWith("modelbox.db", StringComparison.Ordinal));
        Assert.Equal(data, (await DownloadAsync(id)).Bytes);
    }

    [Fact]
    public async Task A_path_with_nul_is_invalid()
    {
        var parent = await NewExperimentAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => UploadAsync(parent, [1, 2, 3], "evil\0.bin", ""));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("metadata.path", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_ranged_download_sends_the_requested_bytes_after_the_metadata()
    {
        var parent = await NewExperimentAsync();
        var data = RandomBytes((5 * Chunk) + 99);
        var id = await UploadAsync(parent, data, "ranged.bin", Md5(data));

        var (metadata, middle) = await DownloadAsync(id, offset: Chunk + 5, length: 2 * Chunk);
        var (_, tail) = await DownloadAsync(id, offset: (ulong)data.Length - 10);
        var (_, empty) = await DownloadAsync(id, offset: (ulong)data.Length);

        Assert.Equal((ulong)data.Length, metadata.SizeBytes);
        Assert.Equal(data[(Chunk + 5)..((3 * Chunk) + 5)], middle);
        Assert.Equal(data[^10..], tail);
        Assert.Empty(empty);
        var past = await Assert.ThrowsAsync<RpcException>(() => DownloadAsync(id, offset: (ulong)data.Length + 1));
        Assert.Equal(StatusCode.InvalidArgument, past.StatusCode);
    }

    [Fact]
    public async Task The_metadata_frame_must_come_first_and_only_once()
    {
        var parent = await NewExperimentAsync();

        var none = await Assert.ThrowsAsync<RpcException>(() => SendFramesAsync());
        var chunksFirst = await Assert.ThrowsAsync<RpcException>(() => SendFramesAsync(new UploadFileRequest { Chunks = ByteString.CopyFrom(1, 2) }));
        var twice = await Assert.ThrowsAsync<RpcException>(() => SendFramesAsync(
            new UploadFileRequest { Metadata = new FileMetadata { ParentId = parent, Path = "a" } },
            new UploadFileRequest { Chunks = ByteString.CopyFrom(1, 2) },
            new UploadFileRequest { Metadata = new FileMetadata { ParentId = parent, Path = "b" } }));

        Assert.Equal(StatusCode.InvalidArgument, none.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, chunksFirst.StatusCode);
        Assert.Contains("first frame", chunksFirst.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.InvalidArgument, twice.StatusCode);
        Assert.Contains("metadata again", twice.Status.Detail, StringComparison.Ordinal);
        Assert.Empty((await _client.ListArtifactsAsync(new ListArtifactsRequest { ParentId = parent })).Files);
        Assert.Empty(Directory.GetFiles(TempRoot));
    }

    [Fact]
    public async Task Unknown_deleted_and_malformed_parents_are_refused_before_any_byte()
    {
        var unknown = Domain.ObjectIds.Experiment("nowhere", Guid.NewGuid().ToString());
        var deleted = await NewExperimentAsync();
        await _client.DeleteExperimentAsync(new DeleteExperimentRequest { Id = deleted });

        var notFound = await Assert.ThrowsAsync<RpcException>(() => UploadAsync(unknown, [1], "x", ""));
        var gone = await Assert.ThrowsAsync<RpcException>(() => UploadAsync(deleted, [1], "x", ""));
        var malformed = await Assert.ThrowsAsync<RpcException>(() => UploadAsync("../etc", [1], "x", ""));
        var missing = await Assert.ThrowsAsync<RpcException>(() => UploadAsync("", [1], "x", ""));
        var list = await Assert.ThrowsAsync<RpcException>(() => _client.ListArtifactsAsync(new ListArtifactsRequest { ParentId = unknown }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, notFound.StatusCode);
        Assert.Contains(unknown, notFound.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, malformed.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, missing.StatusCode);
        Assert.Contains("metadata.parent_id", missing.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.NotFound, list.StatusCode);
    }

    [Fact]
    public async Task Files_of_a_deleted_parent_are_hidden_and_come_back_with_it()
    {
        var parent = await NewExperimentAsync();
        var id = await UploadAsync(parent, [1, 2, 3], "x", "");
        await _client.DeleteExperimentAsync(new DeleteExperimentRequest { Id = parent });

        var error = await Assert.ThrowsAsync<RpcException>(() => _client.GetArtifactAsync(new GetArtifactRequest { Id = id }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, error.StatusCode);

        await _client.RestoreExperimentAsync(new RestoreExperimentRequest { Id = parent });
        Assert.Equal([1, 2, 3], (await DownloadAsync(id)).Bytes);
    }

    [Fact]
    public async Task Tracked_files_are_recorded_without_bytes_and_cannot_be_downloaded()
    {
        var parent = await NewExperimentAsync();
        var request = new TrackArtifactsRequest();
        request.Files.Add(new FileMetadata { ParentId = parent, Path = "data.parquet", Uri = "s3://lake/data.parquet", Checksum = Md5([9]), FileType = FileType.Text });
        request.Files.Add(new FileMetadata { ParentId = parent, Path = "/mnt/nfs/weights.pt", FileType = FileType.Model });

        var response = await _client.TrackArtifactsAsync(request);

        Assert.Equal(2, response.NumFilesTracked);
        var files = (await _client.ListArtifactsAsync(new ListArtifactsRequest { ParentId = parent })).Files;
        Assert.Equal(["data.parquet", "/mnt/nfs/weights.pt"], files.Select(f => f.Path).Order(StringComparer.Ordinal).Reverse());
        Assert.Equal("s3://lake/data.parquet", files.Single(f => f.Path == "data.parquet").Uri);
        var error = await Assert.ThrowsAsync<RpcException>(() => DownloadAsync(files[0].Id));
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);

        var bad = new TrackArtifactsRequest();
        bad.Files.Add(new FileMetadata { ParentId = parent, Path = "ok" });
        bad.Files.Add(new FileMetadata { ParentId = parent, Path = "bad", Checksum = "not-hex" });
        var invalid = await Assert.ThrowsAsync<RpcException>(() => _client.TrackArtifactsAsync(bad).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, invalid.StatusCode);
        Assert.Contains("files[1].checksum", invalid.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(2, (await _client.ListArtifactsAsync(new ListArtifactsRequest { ParentId = parent })).Files.Count);
    }

    [Fact]
    public async Task Files_given_at_create_come_back_with_the_checkpoint_model_and_version()
    {
        var experiment = await NewExperimentAsync();
        var checkpointRequest = new CreateCheckpointRequest { ExperimentId = experiment, Epoch = 3 };
        checkpointRequest.Files.Add(new FileMetadata { Path = "ckpt/epoch3.pt", FileType = FileType.Checkpoint, Checksum = Md5([1]) });
        var checkpointId = (await _client.CreateCheckpointAsync(checkpointRequest)).CheckpointId;
        // A repeated create is idempotent: it does not add the files again.
        await _client.CreateCheckpointAsync(checkpointRequest);

        var checkpoint = (await _client.GetCheckpointAsync(new GetCheckpointRequest { CheckpointId = checkpointId })).Checkpoint;
        var file = Assert.Single(checkpoint.Files);
        Assert.Equal(("ckpt/epoch3.pt", checkpointId, FileType.Checkpoint), (file.Path, file.ParentId, file.FileType));
        Assert.Single((await _client.ListCheckpointsAsync(new ListCheckpointsRequest { ExperimentId = experiment })).Checkpoints.Single().Files);

        var modelRequest = new CreateModelRequest { Name = "m-" + Guid.NewGuid().ToString("N"), Namespace = "artifacts" };
        modelRequest.Files.Add(new FileMetadata { Path = "README.md", FileType = FileType.Text });
        var modelId = (await _client.CreateModelAsync(modelRequest)).Id;
        Assert.Equal("README.md", Assert.Single((await _client.GetModelAsync(new GetModelRequest { Id = modelId })).Model.Files).Path);

        var versionRequest = new CreateModelVersionRequest { Model = modelId, Version = "1" };
        versionRequest.Files.Add(new FileMetadata { Path = "model.onnx", FileType = FileType.Model, Uri = "s3://models/model.onnx" });
        var versionId = (await _client.CreateModelVersionAsync(versionRequest)).ModelVersion;
        var version = (await _client.GetModelVersionAsync(new GetModelVersionRequest { Id = versionId })).ModelVersion;
        Assert.Equal("s3://models/model.onnx", Assert.Single(version.Files).Uri);
        Assert.Single((await _client.ListModelVersionsAsync(new ListModelVersionsRequest { Model = modelId })).ModelVersions.Single().Files);

        var badRequest = new CreateCheckpointRequest { ExperimentId = experiment, Epoch = 4 };
        badRequest.Files.Add(new FileMetadata { Path = "x", Checksum = "zz" });
        var bad = await Assert.ThrowsAsync<RpcException>(() => _client.CreateCheckpointAsync(badRequest).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.Contains("files[0].checksum", bad.Status.Detail, StringComparison.Ordinal);
        var notCreated = await Assert.ThrowsAsync<RpcException>(() => _client.GetCheckpointAsync(new GetCheckpointRequest { ExperimentId = experiment, Epoch = 4 }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, notCreated.StatusCode);
    }

    [Fact]
    public async Task An_upload_over_the_size_limit_is_resource_exhausted_and_keeps_nothing()
    {
        await using var server = await SmallServer.StartAsync(maxUploadBytes: 100_000);
        using var channel = GrpcChannel.ForAddress(server.Address);
        var client = new ModelStore.ModelStoreClient(channel);
        var parent = (await client.CreateExperimentAsync(new CreateExperimentRequest { Name = "limited" })).ExperimentId;

        var error = await Assert.ThrowsAsync<RpcException>(() => UploadAsync(client, parent, RandomBytes(3 * Chunk), "big.bin", ""));
        var fits = await UploadAsync(client, parent, RandomBytes(100_000), "fits.bin", "");

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Contains("max_upload_size_bytes", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(fits, Assert.Single((await client.ListArtifactsAsync(new ListArtifactsRequest { ParentId = parent })).Files).Id);
        Assert.Empty(Directory.GetFiles(Path.Combine(server.DataDir, "blobs", "tmp")));
    }

    [Fact]
    public async Task Temporaries_left_by_a_crash_are_removed_at_start_up()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "modelbox-e2e-" + Guid.NewGuid().ToString("N"));
        var leftover = Path.Combine(dataDir, "blobs", "tmp", "crashed.part");
        Directory.CreateDirectory(Path.GetDirectoryName(leftover)!);
        await File.WriteAllBytesAsync(leftover, RandomBytes(1000));
        File.SetLastWriteTimeUtc(leftover, DateTime.UtcNow.AddHours(-1));

        await using (await SmallServer.StartAsync(maxUploadBytes: 1000, dataDir))
        {
            Assert.False(File.Exists(leftover));
        }
    }

    private async Task<string> NewExperimentAsync() =>
        (await _client.CreateExperimentAsync(new CreateExperimentRequest { Name = "artifacts-" + Guid.NewGuid().ToString("N"), Namespace = "artifacts" })).ExperimentId;

    private Task<string> UploadAsync(string parent, byte[] data, string path, string checksum) => UploadAsync(_client, parent, data, path, checksum);

    private static async Task<string> UploadAsync(ModelStore.ModelStoreClient client, string parent, byte[] data, string path, string checksum)
    {
        using var call = client.UploadFile();
        await call.RequestStream.WriteAsync(new UploadFileRequest
        {
            Metadata = new FileMetadata { ParentId = parent, Path = path, Checksum = checksum, FileType = FileType.Model },
        });
        try
        {
            for (var offset = 0; offset < data.Length; offset += Chunk)
            {
                await call.RequestStream.WriteAsync(new UploadFileRequest { Chunks = ByteString.CopyFrom(data, offset, Math.Min(Chunk, data.Length - offset)) });
            }

            await call.RequestStream.CompleteAsync();
        }
        catch (RpcException)
        {
            // The server answered early (a refused upload); its status is in the response.
        }
        catch (InvalidOperationException)
        {
            // Same: the call completed while the client was still writing.
        }

        return (await call.ResponseAsync).FileId;
    }

    /// <summary>An upload as ModelBox's SDK sends it: metadata without checksums, the chunks, then the checksums frame.</summary>
    private Task<string> SendUploadAsync(string parent, byte[] data, UploadChecksums checksums)
    {
        var frames = new List<UploadFileRequest> { new() { Metadata = new FileMetadata { ParentId = parent, Path = "trailer.bin" } } };
        for (var offset = 0; offset < data.Length; offset += Chunk)
        {
            frames.Add(new UploadFileRequest { Chunks = ByteString.CopyFrom(data, offset, Math.Min(Chunk, data.Length - offset)) });
        }

        frames.Add(new UploadFileRequest { Checksums = checksums });
        return SendFramesAsync([.. frames]);
    }

    private async Task<string> SendFramesAsync(params UploadFileRequest[] frames)
    {
        using var call = _client.UploadFile();
        foreach (var frame in frames)
        {
            await call.RequestStream.WriteAsync(frame);
        }

        await call.RequestStream.CompleteAsync();
        return (await call.ResponseAsync).FileId;
    }

    private async Task<(FileMetadata Metadata, byte[] Bytes)> DownloadAsync(string id, ulong offset = 0, ulong length = 0)
    {
        using var call = _client.DownloadFile(new DownloadFileRequest { FileId = id, Offset = offset, Length = length });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(DownloadFileResponse.StreamFrameOneofCase.Metadata, call.ResponseStream.Current.StreamFrameCase);
        var metadata = call.ResponseStream.Current.Metadata;
        using var bytes = new MemoryStream();
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            Assert.Equal(DownloadFileResponse.StreamFrameOneofCase.Chunks, call.ResponseStream.Current.StreamFrameCase);
            Assert.True(call.ResponseStream.Current.Chunks.Length <= Chunk);
            call.ResponseStream.Current.Chunks.WriteTo(bytes);
        }

        return (metadata, bytes.ToArray());
    }

    private bool BlobExists(string sha) => File.Exists(Path.Combine(BlobRoot, sha[..2], sha[2..4], sha));

    /// <summary>Polls a condition the server reaches on its own (after a client reset); bounded, fails when never reached.</summary>
    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition was not reached within 30 s");
            await Task.Delay(20);
        }
    }

    internal static byte[] RandomBytes(int count)
    {
        var data = new byte[count];
        Random.Shared.NextBytes(data);
        return data;
    }

    internal static string Md5(byte[] data) => Convert.ToHexStringLower(MD5.HashData(data));

    internal static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>A dedicated server with its own configuration, for limits the shared one does not have.</summary>
    private sealed class SmallServer : IAsyncDisposable
    {
        private readonly ModelBoxServer _server;

        private SmallServer(ModelBoxServer server, string dataDir)
        {
            _server = server;
            DataDir = dataDir;
        }

        public string DataDir { get; }

        public string Address => _server.GrpcAddress;

        private bool _keepData;

        public static async Task<SmallServer> StartAsync(long maxUploadBytes, string? dataDir = null, bool keepData = false)
        {
            dataDir ??= Path.Combine(Path.GetTempPath(), "modelbox-e2e-" + Guid.NewGuid().ToString("N"));
            var server = ServerStorage.CreateServer(
                new ServerConfig { ListenAddr = "127.0.0.1:0", HttpListenAddr = "127.0.0.1:0", PrometheusListenAddr = "127.0.0.1:0", DataDir = dataDir, MaxUploadSizeBytes = maxUploadBytes },
                logging => logging.SetMinimumLevel(LogLevel.Warning));
            await server.StartAsync();
            return new SmallServer(server, dataDir) { _keepData = keepData };
        }

        public async ValueTask DisposeAsync()
        {
            await _server.StopAsync();
            await _server.DisposeAsync();
            if (!_keepData)
            {
                Directory.Delete(DataDir, recursive: true);
            }
        }
    }
}
