using System.Security.Cryptography;
using Grpc.Core;
using ModelBox.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Sdk;

[Collection(ServerCollection.Name)]
public sealed class ArtifactSdkTests(ModelBoxServerFixture server) : SdkTestBase(server), IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("modelbox-sdk-artifacts-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task A_file_uploads_from_a_path_with_progress_and_downloads_to_a_path_verified()
    {
        var parent = await NewExperimentAsync();
        var data = RandomBytes((5 * ModelBoxClient.ChunkSizeBytes) + 17);
        var source = await WriteAsync("model.bin", data);
        var reports = new List<long>();

        var uploaded = await Client.UploadFileAsync(parent, source, FileKind.Model, new SyncProgress(reports.Add));

        Assert.Equal(data.Length, uploaded.SizeBytes);
        Assert.Equal(Convert.ToHexStringLower(MD5.HashData(data)), uploaded.Checksum);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data)), uploaded.Sha256);
        Assert.Equal(source, uploaded.Path);
        Assert.Equal(FileKind.Model, uploaded.Kind);
        Assert.Equal(data.Length, reports[^1]);
        Assert.True(reports.Count >= 6);

        var target = Path.Combine(_work, "back.bin");
        var downloaded = await Client.DownloadFileAsync(uploaded.Id, target);

        Assert.Equal(data, await File.ReadAllBytesAsync(target));
        Assert.False(File.Exists(target + ".part"));
        Assert.Equal(uploaded, downloaded);
        Assert.Equal(uploaded, Assert.Single(await Client.ListArtifactsAsync(parent)));
    }

    [Fact]
    public async Task A_non_seekable_stream_uploads_and_a_stream_download_verifies()
    {
        var parent = await NewExperimentAsync();
        var data = RandomBytes(200_000);

        var uploaded = await Client.UploadFileAsync(parent, new NonSeekableStream(data), "stream.bin");
        using var back = new MemoryStream();
        var file = await Client.DownloadFileAsync(uploaded.Id, back);

        Assert.Equal(data, back.ToArray());
        Assert.Equal(uploaded.Sha256, file.Sha256);
    }

    [Fact]
    public async Task An_interrupted_download_resumes_from_its_partial_file()
    {
        var parent = await NewExperimentAsync();
        var data = RandomBytes((4 * ModelBoxClient.ChunkSizeBytes) + 5);
        var uploaded = await Client.UploadFileAsync(parent, await WriteAsync("r.bin", data));
        var target = Path.Combine(_work, "resumed.bin");
        // What an interrupted download leaves: the first part of the bytes under the partial name.
        await File.WriteAllBytesAsync(target + ".part", data[..100_000]);
        var reports = new List<long>();

        await Client.DownloadFileAsync(uploaded.Id, target, new SyncProgress(reports.Add));

        Assert.Equal(data, await File.ReadAllBytesAsync(target));
        Assert.Equal(100_000, reports[0]);
        Assert.Equal(data.Length, reports[^1]);
    }

    [Fact]
    public async Task A_download_interrupted_at_a_block_boundary_resumes_and_ends_with_the_exact_bytes()
    {
        // What an interrupted direct-I/O download leaves: whole 1 MiB buffers. The rest is appended the same way, and the
        // last, partial block is cut to the file's length.
        var parent = await NewExperimentAsync();
        var data = RandomBytes((3 * 1024 * 1024) + 4099);
        var uploaded = await Client.UploadFileAsync(parent, await WriteAsync("aligned.bin", data));
        var target = Path.Combine(_work, "aligned-resumed.bin");
        await File.WriteAllBytesAsync(target + ".part", data[..(1024 * 1024)]);

        var file = await Client.DownloadFileAsync(uploaded.Id, target);

        Assert.Equal(data, await File.ReadAllBytesAsync(target));
        Assert.Equal(data.Length, file.SizeBytes);
        Assert.False(File.Exists(target + ".part"));
    }

    [Fact]
    public async Task A_damaged_partial_file_fails_verification_and_is_discarded()
    {
        var parent = await NewExperimentAsync();
        var data = RandomBytes(150_000);
        var uploaded = await Client.UploadFileAsync(parent, await WriteAsync("d.bin", data));
        var target = Path.Combine(_work, "damaged.bin");
        await File.WriteAllBytesAsync(target + ".part", RandomBytes(1000));

        var error = await Assert.ThrowsAsync<ModelBoxException>(() => Client.DownloadFileAsync(uploaded.Id, target));

        Assert.Equal(StatusCode.DataLoss, error.StatusCode);
        Assert.False(File.Exists(target));
        Assert.False(File.Exists(target + ".part"));
        // The next attempt starts over and succeeds.
        await Client.DownloadFileAsync(uploaded.Id, target);
        Assert.Equal(data, await File.ReadAllBytesAsync(target));
    }

    [Fact]
    public async Task A_cancelled_upload_keeps_nothing()
    {
        var parent = await NewExperimentAsync();
        using var cancel = new CancellationTokenSource();
        var data = RandomBytes(20 * ModelBoxClient.ChunkSizeBytes);
        var progress = new SyncProgress(sent =>
        {
            if (sent >= 4 * ModelBoxClient.ChunkSizeBytes)
            {
                cancel.Cancel();
            }
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => Client.UploadFileAsync(parent, new NonSeekableStream(data), "cancelled.bin", FileKind.Undefined, progress, cancel.Token));

        Assert.Empty(await Client.ListArtifactsAsync(parent));
    }

    [Fact]
    public async Task Tracked_files_get_and_delete_work_through_the_sdk()
    {
        var parent = await NewExperimentAsync();

        var count = await Client.TrackArtifactsAsync([new TrackedFile { ParentId = parent, Path = "w.pt", Uri = "s3://b/w.pt", Kind = FileKind.Model }]);
        var file = Assert.Single(await Client.ListArtifactsAsync(parent));

        Assert.Equal(1, count);
        Assert.Equal("s3://b/w.pt", (await Client.GetArtifactAsync(file.Id)).Uri);
        await Client.DeleteArtifactAsync(file.Id);
        await Assert.ThrowsAsync<ModelBoxNotFoundException>(() => Client.GetArtifactAsync(file.Id));
        Assert.Empty(await Client.ListArtifactsAsync(parent));
    }

    private async Task<string> NewExperimentAsync() =>
        (await Client.CreateExperimentAsync(Unique("exp"), "a@b.c", Namespace, Framework.PyTorch)).Value.Id;

    private async Task<string> WriteAsync(string name, byte[] data)
    {
        var path = Path.Combine(_work, name);
        await File.WriteAllBytesAsync(path, data);
        return path;
    }

    private static byte[] RandomBytes(int count)
    {
        var data = new byte[count];
        Random.Shared.NextBytes(data);
        return data;
    }

    /// <summary>Reports synchronously on the caller's thread (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }

    private sealed class NonSeekableStream(byte[] data) : Stream
    {
        private readonly MemoryStream _inner = new(data);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
