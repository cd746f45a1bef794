using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;
using Xunit.Abstractions;

namespace ModelBox.EndToEnd.Tests.Reliability;

/// <summary>
/// The DownloadFile stall once seen after a server restart (crash suites on several backends at once): the server is
/// killed (SIGKILL) or stopped and started again on the same port and data, and large files are downloaded at once after
/// every start, several at a time (more than the HTTP/2 connection and stream windows hold), both through a fresh channel
/// and through a client channel kept across the restarts, and one download is cut by the next kill. Every download must
/// complete with its bytes; a stall fails it through its deadline (a bound, not a timing) naming the file.
/// </summary>
public sealed class DownloadAfterRestartTests(ITestOutputHelper output) : IDisposable
{
    private const int Files = 3;
    private const int FileBytes = 24 * 1024 * 1024;
    private const int Cycles = 4;

    private static readonly Dictionary<string, string> ShortDrain =
        new(ChildServer.DownloadDiagnostics) { ["MODELBOX_SHUTDOWN_TIMEOUT_SECONDS"] = "5" };

    private readonly string _dataDir = Directory.CreateTempSubdirectory("modelbox-download-restart-").FullName;

    [Fact]
    public async Task Large_downloads_right_after_a_restart_on_the_same_port_complete_through_fresh_and_kept_channels()
    {
        var port = ModelBoxExecutable.FreePort();
        using var kept = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        var files = new List<(string Id, string Sha256)>();
        for (var cycle = 1; cycle <= Cycles; cycle++)
        {
            // In-flight calls may finish for shutdown_timeout_seconds on a graceful stop (30 by default, as long as
            // ChildServer waits for the exit); the download held below by a client that stopped reading is one of them.
            await using var server = await ChildServer.StartAsync(_dataDir, ShortDrain, grpcPort: port);
            var fresh = new ModelStore.ModelStoreClient(server.Channel);
            if (cycle == 1)
            {
                var experiment = (await fresh.CreateExperimentAsync(new CreateExperimentRequest { Name = "download-restart", Namespace = "download-restart" })).ExperimentId;
                for (var i = 0; i < Files; i++)
                {
                    files.Add(await UploadAsync(fresh, experiment, $"large-{i}.bin"));
                }
            }

            // Right after the start: every file at once through the fresh channel, then through the kept one.
            await Task.WhenAll(files.Select(file => AssertDownloadsAsync(fresh, file, $"cycle {cycle}, fresh channel", server)));
            await Task.WhenAll(files.Select(file => AssertDownloadsAsync(new ModelStore.ModelStoreClient(kept), file, $"cycle {cycle}, kept channel", server)));

            // A download in flight when the server goes away ends with an error, not a hang.
            using var cut = fresh.DownloadFile(new DownloadFileRequest { FileId = files[0].Id }, deadline: DateTime.UtcNow.AddMinutes(3));
            Assert.True(await cut.ResponseStream.MoveNext(CancellationToken.None));
            if (cycle % 2 == 1)
            {
                await server.KillAsync();
            }
            else
            {
                await server.StopAsync();
            }

            var ended = await Record.ExceptionAsync(async () =>
            {
                while (await cut.ResponseStream.MoveNext(CancellationToken.None))
                {
                }
            });
            output.WriteLine($"cycle {cycle}: the download cut by the {(cycle % 2 == 1 ? "kill" : "stop")} ended with {(ended as RpcException)?.StatusCode.ToString() ?? ended?.GetType().Name ?? "its last chunk"}");
            Assert.False(ended is RpcException { StatusCode: StatusCode.DeadlineExceeded }, "the download in flight stalled instead of failing");
        }
    }

    private static async Task<(string Id, string Sha256)> UploadAsync(ModelStore.ModelStoreClient store, string experiment, string path)
    {
        var data = RandomNumberGenerator.GetBytes(FileBytes);
        using var call = store.UploadFile();
        await call.RequestStream.WriteAsync(new UploadFileRequest
        {
            Metadata = new FileMetadata { ParentId = experiment, Path = path, FileType = FileType.Checkpoint, Checksum = Convert.ToHexStringLower(MD5.HashData(data)) },
        });
        for (var offset = 0; offset < data.Length; offset += 1024 * 1024)
        {
            await call.RequestStream.WriteAsync(new UploadFileRequest { Chunks = ByteString.CopyFrom(data, offset, Math.Min(1024 * 1024, data.Length - offset)) });
        }

        await call.RequestStream.CompleteAsync();
        return ((await call.ResponseAsync).FileId, Convert.ToHexStringLower(SHA256.HashData(data)));
    }

    /// <summary>Downloads the file whole; a kept channel's first call may meet the dead connection of the previous server
    /// (UNAVAILABLE, retried a few times). A stall ends at the download's deadline (2 minutes) and fails naming the file
    /// and with what the server logged about it.</summary>
    private static async Task AssertDownloadsAsync(ModelStore.ModelStoreClient store, (string Id, string Sha256) file, string when, ChildServer server)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var (size, sha256) = await CrashTests.DownloadAsync(store, file.Id, server);
                Assert.Equal(FileBytes, size);
                Assert.Equal(file.Sha256, sha256);
                return;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable && attempt < 3)
            {
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.DeadlineExceeded)
            {
                Assert.Fail($"{when}: {ex.Message}");
            }
        }
    }

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);
}
