using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.EndToEnd.Tests.Maintenance;
using ModelBox.Protocol;
using Xunit.Abstractions;

namespace ModelBox.EndToEnd.Tests.Reliability;

/// <summary>
/// The S3 server killed under a running ModelBox (a private s3rver, so no other test is disturbed): an upload and a
/// download in flight end with UNAVAILABLE naming the store, nothing partial becomes visible, calls while it is down are
/// UNAVAILABLE, and once it is back uploads and downloads work again without restarting ModelBox.
/// </summary>
public sealed class S3OutageTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int ChunkBytes = 1024 * 1024;

    private readonly string _root = Directory.CreateTempSubdirectory("modelbox-s3-outage-").FullName;
    private PrivateS3rver? _s3;
    private ModelBoxProcess? _server;

    public async Task InitializeAsync()
    {
        _s3 = await PrivateS3rver.StartAsync();
        var bucket = await TestBucket.CreateAsync(_s3.Endpoint);
        _server = await ModelBoxProcess.StartAsync(
            new Dictionary<string, string>(bucket.Environment) { ["MODELBOX_DATA_DIR"] = Path.Combine(_root, "data") },
            _root);
    }

    [Fact]
    public async Task Uploads_and_downloads_cut_by_an_s3_outage_are_unavailable_leave_nothing_partial_and_work_again_after_it()
    {
        var (server, s3) = (_server!, _s3!);
        var store = server.Store;
        var experiment = (await store.CreateExperimentAsync(new CreateExperimentRequest { Name = "s3-outage", Namespace = "s3-outage" })).ExperimentId;
        // Larger than everything the loopback sockets and HTTP/2 windows between s3rver, ModelBox and the client can hold,
        // so the download is still reading from S3 when it is killed.
        var large = RandomNumberGenerator.GetBytes(64 * 1024 * 1024);
        var small = RandomNumberGenerator.GetBytes(100_000);
        var largeId = await UploadAsync(store, experiment, "large.bin", large);
        var smallId = await UploadAsync(store, experiment, "small.bin", small);

        // In flight at the kill: an upload that has sent part of its bytes, and a download that has read one chunk.
        var cutUpload = store.UploadFile();
        await cutUpload.RequestStream.WriteAsync(Metadata(experiment, "cut-upload.bin", large));
        await cutUpload.RequestStream.WriteAsync(new UploadFileRequest { Chunks = ByteString.CopyFrom(large, 0, ChunkBytes) });
        var cutDownload = store.DownloadFile(new DownloadFileRequest { FileId = largeId, ChunkSizeBytes = ChunkBytes }, deadline: DateTime.UtcNow.AddMinutes(2));
        Assert.True(await cutDownload.ResponseStream.MoveNext(CancellationToken.None));
        await s3.KillAsync();

        var uploadFailure = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            for (var offset = ChunkBytes; offset < large.Length; offset += ChunkBytes)
            {
                await cutUpload.RequestStream.WriteAsync(new UploadFileRequest { Chunks = ByteString.CopyFrom(large, offset, ChunkBytes) });
            }

            await cutUpload.RequestStream.CompleteAsync();
            await cutUpload.ResponseAsync;
        });
        if (uploadFailure.StatusCode == StatusCode.Cancelled || uploadFailure.StatusCode == StatusCode.Unknown)
        {
            // Writing failed because the server already ended the call: its answer says why.
            uploadFailure = await Assert.ThrowsAsync<RpcException>(() => cutUpload.ResponseAsync);
        }

        cutUpload.Dispose();
        output.WriteLine($"upload cut by the outage: {uploadFailure.Status}");
        AssertUnavailable(uploadFailure);

        var downloadFailure = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await cutDownload.ResponseStream.MoveNext(CancellationToken.None))
            {
            }
        });
        cutDownload.Dispose();
        output.WriteLine($"download cut by the outage: {downloadFailure.Status}");
        AssertUnavailable(downloadFailure);

        // While it is down: a new upload and a new download are refused the same way, and the server stays up.
        AssertUnavailable(await Assert.ThrowsAsync<RpcException>(() => UploadAsync(store, experiment, "while-down.bin", small)));
        AssertUnavailable(await Assert.ThrowsAsync<RpcException>(() => DownloadAsync(store, smallId)));
        Assert.Equal(["large.bin", "small.bin"], await PathsAsync(store, experiment));

        // Back: the next upload succeeds (the first calls may still meet the outage's dead connections, as UNAVAILABLE only).
        await s3.StartServerAsync();
        string? afterId = null;
        using (var patience = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            while (afterId is null)
            {
                patience.Token.ThrowIfCancellationRequested();
                try
                {
                    afterId = await UploadAsync(store, experiment, "after.bin", small);
                }
                catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
                {
                    await Task.Delay(200);
                }
            }
        }

        Assert.Equal(["after.bin", "large.bin", "small.bin"], await PathsAsync(store, experiment));
        Assert.Equal(SHA256.HashData(large), await DownloadAsync(store, largeId));
        Assert.Equal(SHA256.HashData(small), await DownloadAsync(store, smallId));
        Assert.Equal(SHA256.HashData(small), await DownloadAsync(store, afterId));

        var errors = server.Output.Split('\n').Where(line => line.Contains(" fail: ", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 0, "the server logged errors:\n" + string.Join('\n', errors));
    }

    private static void AssertUnavailable(RpcException failure)
    {
        Assert.True(failure.StatusCode == StatusCode.Unavailable, $"expected UNAVAILABLE, got {failure.Status}");
        Assert.Contains("S3 artifact store", failure.Status.Detail, StringComparison.Ordinal);
    }

    private static UploadFileRequest Metadata(string parent, string path, byte[] data) => new()
    {
        Metadata = new FileMetadata { ParentId = parent, Path = path, FileType = FileType.Checkpoint, Checksum = Convert.ToHexStringLower(MD5.HashData(data)) },
    };

    private static async Task<string> UploadAsync(ModelStore.ModelStoreClient store, string parent, string path, byte[] data)
    {
        using var call = store.UploadFile(deadline: DateTime.UtcNow.AddMinutes(2));
        await call.RequestStream.WriteAsync(Metadata(parent, path, data));
        for (var offset = 0; offset < data.Length; offset += ChunkBytes)
        {
            await call.RequestStream.WriteAsync(new UploadFileRequest { Chunks = ByteString.CopyFrom(data, offset, Math.Min(ChunkBytes, data.Length - offset)) });
        }

        await call.RequestStream.CompleteAsync();
        return (await call.ResponseAsync).FileId;
    }

    private static async Task<byte[]> DownloadAsync(ModelStore.ModelStoreClient store, string id)
    {
        using var call = store.DownloadFile(new DownloadFileRequest { FileId = id }, deadline: DateTime.UtcNow.AddMinutes(2));
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await foreach (var frame in call.ResponseStream.ReadAllAsync())
        {
            if (frame.StreamFrameCase == DownloadFileResponse.StreamFrameOneofCase.Chunks)
            {
                hash.AppendData(frame.Chunks.Span);
            }
        }

        return hash.GetHashAndReset();
    }

    private static async Task<List<string>> PathsAsync(ModelStore.ModelStoreClient store, string parent) =>
        [.. (await store.ListArtifactsAsync(new ListArtifactsRequest { ParentId = parent })).Files.Select(f => f.Path).Order(StringComparer.Ordinal)];

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        if (_s3 is not null)
        {
            await _s3.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }
}
