using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Artifacts;

/// <summary>
/// Resumable uploads (UploadResume, GetUploadStatus) against a real server with the filesystem blob store: an upload
/// broken off by its client keeps what arrived, the next one with the same id sends the rest, and the checksums cover
/// every byte. The server of these tests keeps at most 2 interrupted uploads and 3 MiB - 64 KiB of them.
/// </summary>
public sealed class ResumableUploadTests : IAsyncLifetime
{
    private const int Chunk = 64 * 1024;
    private const int MiB = 1024 * 1024;

    private readonly ModelBoxServerFixture _server = new()
    {
        Configure = config => config with { ResumableUploadMaxBytes = (4 * MiB) - Chunk, ResumableUploadMaxCount = 2 },
    };

    private GrpcChannel? _channel;
    private ModelStore.ModelStoreClient? _client;

    private ModelStore.ModelStoreClient Client => _client!;

    private string PartialRoot => Path.Combine(_server.DataDir, "blobs", "tmp", "resumable");

    public async Task InitializeAsync()
    {
        await _server.InitializeAsync();
        _client = _server.CreateGrpcClient(out var channel);
        _channel = channel;
    }

    public async Task DisposeAsync()
    {
        _channel?.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task An_interrupted_upload_resumes_from_the_kept_bytes_and_its_checksum_covers_all_of_them()
    {
        var parent = await NewExperimentAsync();
        var data = ArtifactGrpcTests.RandomBytes((2 * MiB) + 12_345);

        var kept = await InterruptAsync(parent, "weights-1", "w.bin", data, sendBytes: (MiB + (4 * Chunk)), waitForBytes: MiB);
        Assert.InRange(kept, MiB, MiB + (4 * Chunk));
        Assert.Empty((await Client.ListArtifactsAsync(new ListArtifactsRequest { ParentId = parent })).Files);

        var id = await ResumeAsync(parent, "weights-1", "w.bin", data, from: kept, sha256: ArtifactGrpcTests.Sha256(data));

        var file = (await Client.GetArtifactAsync(new GetArtifactRequest { Id = id })).File;
        Assert.Equal((ulong)data.Length, file.SizeBytes);
        Assert.Equal(ArtifactGrpcTests.Sha256(data), file.Sha256);
        Assert.Equal(ArtifactGrpcTests.Md5(data), file.Checksum);
        Assert.Equal(data, await DownloadAsync(id));
        Assert.Equal(0UL, (await StatusAsync(parent, "weights-1")).ReceivedBytes);
        Assert.Empty(Directory.GetFiles(PartialRoot));
    }

    [Fact]
    public async Task A_wrong_checksum_after_a_resume_is_data_loss_and_keeps_nothing()
    {
        var parent = await NewExperimentAsync();
        var data = ArtifactGrpcTests.RandomBytes(2 * MiB);
        var kept = await InterruptAsync(parent, "bad-1", "b.bin", data, sendBytes: MiB + Chunk, waitForBytes: MiB);
        var other = data.ToArray();
        other[10] ^= 0xFF;

        var error = await Assert.ThrowsAsync<RpcException>(() => ResumeAsync(parent, "bad-1", "b.bin", data, from: kept, sha256: ArtifactGrpcTests.Sha256(other)));

        Assert.Equal(StatusCode.DataLoss, error.StatusCode);
        Assert.Contains("nothing was kept", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0UL, (await StatusAsync(parent, "bad-1")).ReceivedBytes);
        Assert.Empty((await Client.ListArtifactsAsync(new ListArtifactsRequest { ParentId = parent })).Files);
        Assert.Empty(Directory.GetFiles(PartialRoot));
    }

    [Fact]
    public async Task An_upload_id_with_kept_bytes_is_refused_for_another_file_and_at_another_offset()
    {
        var parent = await NewExperimentAsync();
        var data = ArtifactGrpcTests.RandomBytes(2 * MiB);
        var kept = await InterruptAsync(parent, "reuse-1", "first.bin", data, sendBytes: MiB + Chunk, waitForBytes: MiB);

        var otherFile = await Assert.ThrowsAsync<RpcException>(() => ResumeAsync(parent, "reuse-1", "second.bin", data, from: 0, sha256: ArtifactGrpcTests.Sha256(data)));
        var wrongOffset = await Assert.ThrowsAsync<RpcException>(() => ResumeAsync(parent, "reuse-1", "first.bin", data, from: kept - 1, sha256: ArtifactGrpcTests.Sha256(data)));

        Assert.Equal(StatusCode.FailedPrecondition, otherFile.StatusCode);
        Assert.Contains("resume.upload_id 'reuse-1'", otherFile.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("another file", otherFile.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.FailedPrecondition, wrongOffset.StatusCode);
        Assert.Contains($"resume from {kept}", wrongOffset.Status.Detail, StringComparison.Ordinal);
        // Neither refusal dropped the kept bytes: the right resume still completes.
        Assert.Equal((ulong)kept, (await StatusAsync(parent, "reuse-1")).ReceivedBytes);
        var id = await ResumeAsync(parent, "reuse-1", "first.bin", data, from: kept, sha256: ArtifactGrpcTests.Sha256(data));
        Assert.Equal(data, await DownloadAsync(id));
    }

    [Fact]
    public async Task The_caps_on_kept_uploads_drop_the_least_recently_written_and_refuse_one_too_big()
    {
        var parent = await NewExperimentAsync();
        var data = ArtifactGrpcTests.RandomBytes(6 * MiB);

        // Three of about 1 MiB (together below the 4 MiB byte cap; the server stores in 1 MiB direct-I/O blocks, so smaller
        // ones would show nothing received yet): only the count cap can drop one.
        await InterruptAsync(parent, "cap-a", "a.bin", data, sendBytes: MiB + Chunk, waitForBytes: MiB);
        await InterruptAsync(parent, "cap-b", "b.bin", data, sendBytes: MiB + Chunk, waitForBytes: MiB);
        await InterruptAsync(parent, "cap-c", "c.bin", data, sendBytes: MiB + Chunk, waitForBytes: MiB);

        // At most 2 kept: the oldest went.
        Assert.Equal(0UL, (await StatusAsync(parent, "cap-a")).ReceivedBytes);
        Assert.True((await StatusAsync(parent, "cap-b")).ReceivedBytes >= MiB);
        Assert.True((await StatusAsync(parent, "cap-c")).ReceivedBytes >= MiB);

        // More than the cap alone: not kept at all, and the others stay. It is cut off once the server has stored 5 MiB of
        // it, past the cap whatever else arrives before the cut (cut at 3 MiB, a loaded server had stored only 3.9 MiB by
        // then, under the cap, and kept it).
        var big = await InterruptAsync(parent, "cap-big", "big.bin", data, sendBytes: data.Length - Chunk, waitForBytes: 5 * MiB);
        Assert.Equal(0, big);
        Assert.True((await StatusAsync(parent, "cap-c")).ReceivedBytes >= MiB);
        Assert.Equal(2, Directory.GetFiles(PartialRoot, "*.part").Length);
    }

    /// <summary>
    /// Starts a resumable upload, sends <paramref name="sendBytes"/>, waits until the server stored at least
    /// <paramref name="waitForBytes"/>, breaks the call off and waits until the server let go of it; returns what it kept.
    /// </summary>
    private async Task<long> InterruptAsync(string parent, string uploadId, string path, byte[] data, int sendBytes, long waitForBytes)
    {
        using (var cancel = new CancellationTokenSource())
        {
            using var call = Client.UploadFile(cancellationToken: cancel.Token);
            await call.RequestStream.WriteAsync(new UploadFileRequest
            {
                Metadata = new FileMetadata { ParentId = parent, Path = path },
                Resume = new UploadResume { UploadId = uploadId },
            });
            for (var offset = 0; offset < sendBytes; offset += Chunk)
            {
                await call.RequestStream.WriteAsync(new UploadFileRequest { Chunks = ByteString.CopyFrom(data, offset, Math.Min(Chunk, sendBytes - offset)) });
            }

            await WaitForAsync(async () => (await StatusAsync(parent, uploadId)) is { InProgress: true } s && (long)s.ReceivedBytes >= Math.Min(waitForBytes, sendBytes));
            await cancel.CancelAsync();
            var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
            Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        }

        GetUploadStatusResponse? status = null;
        await WaitForAsync(async () => (status = await StatusAsync(parent, uploadId)) is { InProgress: false });
        return (long)status!.ReceivedBytes;
    }

    /// <summary>Sends the bytes from <paramref name="from"/> with a resume of <paramref name="uploadId"/> and a checksums frame.</summary>
    private async Task<string> ResumeAsync(string parent, string uploadId, string path, byte[] data, long from, string sha256)
    {
        using var call = Client.UploadFile();
        await call.RequestStream.WriteAsync(new UploadFileRequest
        {
            Metadata = new FileMetadata { ParentId = parent, Path = path },
            Resume = new UploadResume { UploadId = uploadId, Offset = (ulong)from },
        });
        try
        {
            for (var offset = (int)from; offset < data.Length; offset += Chunk)
            {
                await call.RequestStream.WriteAsync(new UploadFileRequest { Chunks = ByteString.CopyFrom(data, offset, Math.Min(Chunk, data.Length - offset)) });
            }

            await call.RequestStream.WriteAsync(new UploadFileRequest { Checksums = new UploadChecksums { Sha256 = sha256 } });
            await call.RequestStream.CompleteAsync();
        }
        catch (Exception exception) when (exception is RpcException or InvalidOperationException)
        {
            // The server answered early (a refused resume); its status is in the response.
        }

        return (await call.ResponseAsync).FileId;
    }

    private async Task<GetUploadStatusResponse> StatusAsync(string parent, string uploadId) =>
        await Client.GetUploadStatusAsync(new GetUploadStatusRequest { ParentId = parent, UploadId = uploadId });

    private async Task<byte[]> DownloadAsync(string id)
    {
        using var call = Client.DownloadFile(new DownloadFileRequest { FileId = id });
        using var bytes = new MemoryStream();
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            if (call.ResponseStream.Current.StreamFrameCase == DownloadFileResponse.StreamFrameOneofCase.Chunks)
            {
                call.ResponseStream.Current.Chunks.WriteTo(bytes);
            }
        }

        return bytes.ToArray();
    }

    private async Task<string> NewExperimentAsync() =>
        (await Client.CreateExperimentAsync(new CreateExperimentRequest { Name = "resume-" + Guid.NewGuid().ToString("N"), Namespace = "resume" })).ExperimentId;

    /// <summary>Polls a state the server reaches on its own (after a client reset); bounded, fails when never reached.</summary>
    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the server did not reach the state within 30 s");
            await Task.Delay(20);
        }
    }
}
