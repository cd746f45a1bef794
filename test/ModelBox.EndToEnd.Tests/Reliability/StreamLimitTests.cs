using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;
using ModelBox.Server.Services;

namespace ModelBox.EndToEnd.Tests.Reliability;

/// <summary>
/// What a client can hold of the server through streams it stalls or does not read: uploads and downloads are capped per
/// connection and per server, download buffers come from a fixed budget, and a stream that makes no progress is ended
/// after the idle timeout with everything it held released.
/// </summary>
public sealed class StreamLimitTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_stalled_upload_is_ended_after_the_idle_timeout_and_leaves_no_temporary_file()
    {
        var fixture = new ModelBoxServerFixture { Configure = c => c with { StreamIdleTimeoutSeconds = 1 } };
        await fixture.InitializeAsync();
        try
        {
            var client = fixture.CreateGrpcClient(out var channel);
            using (channel)
            {
                var parent = (await client.CreateExperimentAsync(new CreateExperimentRequest { Name = "stalled", Namespace = "limits" })).ExperimentId;
                using var call = await StartStalledUploadAsync(client, parent, "stalled.bin");
                var tempRoot = Path.Combine(fixture.DataDir, "blobs", "tmp");
                var ended = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.WaitAsync(Patience));

                Assert.Equal(StatusCode.DeadlineExceeded, ended.StatusCode);
                Assert.Contains("limits.stream_idle_timeout_seconds", ended.Status.Detail, StringComparison.Ordinal);
                await WaitForAsync(() => Directory.GetFiles(tempRoot).Length == 0);
                Assert.Empty((await client.ListArtifactsAsync(new ListArtifactsRequest { ParentId = parent })).Files);
                // The server still takes uploads.
                Assert.NotEmpty(await UploadAsync(client, parent, RandomBytes(1000), "after.bin"));
            }
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_unread_download_is_ended_after_the_idle_timeout_and_frees_its_window_but_an_idle_watcher_is_not()
    {
        var fixture = new ModelBoxServerFixture { Configure = c => c with { StreamIdleTimeoutSeconds = 1 } };
        await fixture.InitializeAsync();
        try
        {
            var client = fixture.CreateGrpcClient(out var channel);
            using (channel)
            {
                var guard = fixture.Server.Services.GetRequiredService<StreamGuard>();
                var parent = (await client.CreateExperimentAsync(new CreateExperimentRequest { Name = "unread", Namespace = "limits" })).ExperimentId;
                var file = await UploadAsync(client, parent, RandomBytes(32 * 1024 * 1024), "big.bin");
                using var watch = client.WatchNamespace(new WatchNamespaceRequest { Namespace = "quiet" });
                var firstChange = watch.ResponseStream.MoveNext();

                using var download = client.DownloadFile(new DownloadFileRequest { FileId = file, ChunkSizeBytes = 4 * 1024 * 1024 });
                await WaitForAsync(() => guard.MemoryInUse > 0);
                // Not read: the window stays reserved until the idle timeout resets the stream.
                await WaitForAsync(() => guard.MemoryInUse == 0);

                // The watcher waited for changes all along (nothing pending to write): it is still there.
                await Task.Delay(TimeSpan.FromSeconds(1.5));
                Assert.False(firstChange.IsCompleted);
                await client.CreateExperimentAsync(new CreateExperimentRequest { Name = "wake", Namespace = "quiet" });
                Assert.True(await firstChange.WaitAsync(Patience));
            }
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    [Fact]
    public async Task Uploads_beyond_the_per_connection_cap_are_resource_exhausted_and_other_connections_still_upload()
    {
        var fixture = new ModelBoxServerFixture { Configure = c => c with { MaxConcurrentUploadsPerConnection = 2 } };
        await fixture.InitializeAsync();
        try
        {
            var greedy = fixture.CreateGrpcClient(out var greedyChannel);
            var other = fixture.CreateGrpcClient(out var otherChannel);
            using (greedyChannel)
            using (otherChannel)
            {
                var parent = (await greedy.CreateExperimentAsync(new CreateExperimentRequest { Name = "capped", Namespace = "limits" })).ExperimentId;
                var guard = fixture.Server.Services.GetRequiredService<StreamGuard>();
                using var first = await StartStalledUploadAsync(greedy, parent, "1.bin");
                using var second = await StartStalledUploadAsync(greedy, parent, "2.bin");
                // The server handles calls concurrently: the third starts only once both hold their slots.
                await WaitForAsync(() => guard.UploadsInProgress == 2);
                using var third = greedy.UploadFile();
                await WriteMetadataIgnoringResetAsync(third, parent, "3.bin");
                var refused = await Assert.ThrowsAsync<RpcException>(() => third.ResponseAsync.WaitAsync(Patience));

                Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
                Assert.Contains("limits.max_concurrent_uploads_per_connection", refused.Status.Detail, StringComparison.Ordinal);
                var data = RandomBytes(100_000);
                var stored = await UploadAsync(other, parent, data, "other.bin");
                Assert.Equal(data, await DownloadAsync(other, stored));
            }
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    [Fact]
    public async Task Downloads_share_a_fixed_buffer_budget_get_smaller_chunks_under_pressure_and_unread_ones_give_way_to_new_ones()
    {
        var fixture = new ModelBoxServerFixture
        {
            Configure = c => c with { StreamMemoryBytes = 8 * 1024 * 1024, StreamMemoryBytesPerConnection = 8 * 1024 * 1024, StreamIdleTimeoutSeconds = 0 },
        };
        await fixture.InitializeAsync();
        try
        {
            var client = fixture.CreateGrpcClient(out var channel);
            using (channel)
            {
                var guard = fixture.Server.Services.GetRequiredService<StreamGuard>();
                var parent = (await client.CreateExperimentAsync(new CreateExperimentRequest { Name = "budget", Namespace = "limits" })).ExperimentId;
                var data = RandomBytes(3 * 1024 * 1024);
                var file = await UploadAsync(client, parent, data, "data.bin");

                // Downloads that are not read, until the budget has no room for the smallest window.
                var open = new List<AsyncServerStreamingCall<DownloadFileResponse>>();
                const long Smallest = StreamGuard.MinimumDownloadWindow + StreamGuard.ReaderAllowance;
                while ((8 * 1024 * 1024) - guard.MemoryInUse >= Smallest && open.Count < 20)
                {
                    var call = client.DownloadFile(new DownloadFileRequest { FileId = file, ChunkSizeBytes = 4 * 1024 * 1024 });
                    Assert.True(await call.ResponseStream.MoveNext()); // the metadata frame: the download holds its window
                    open.Add(call);
                }

                Assert.InRange(open.Count, 3, 19);
                Assert.InRange(guard.MemoryInUse, 1, 8 * 1024 * 1024);

                // Once they have stalled, a new download that is read pre-empts the one stalled longest.
                await Task.Delay(StreamGuard.PreemptibleAfter * 2);
                Assert.Equal(data, await DownloadAsync(client, file));

                // The unread ones that were not ended still deliver the exact bytes, in chunks their smaller windows allow.
                var chunkSizes = new List<int>();
                var ended = 0;
                foreach (var call in open)
                {
                    using var received = new MemoryStream();
                    try
                    {
                        while (await call.ResponseStream.MoveNext())
                        {
                            var chunk = call.ResponseStream.Current.Chunks;
                            chunkSizes.Add(chunk.Length);
                            chunk.WriteTo(received);
                        }

                        Assert.Equal(data, received.ToArray());
                    }
                    catch (RpcException)
                    {
                        ended++;
                    }

                    call.Dispose();
                }

                Assert.InRange(ended, 1, open.Count - 1);
                Assert.True(chunkSizes.Max() <= 1024 * 1024, $"largest chunk {chunkSizes.Max()} bytes");
                await WaitForAsync(() => guard.MemoryInUse == 0);
            }
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    [Fact]
    public async Task Under_ulimit_1024_two_thousand_stalled_uploads_leave_health_checks_and_other_clients_served_and_the_server_alive()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "modelbox-e2e-fd-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDir);
        try
        {
            await using var server = await ChildServer.StartAsync(
                dataDir, new Dictionary<string, string> { ["MODELBOX_LIMITS_STREAM_IDLE_TIMEOUT_SECONDS"] = "20" }, openFileLimit: 1024);
            var address = $"http://127.0.0.1:{server.Port}";
            var setup = new ModelStore.ModelStoreClient(server.Channel);
            var parent = (await setup.CreateExperimentAsync(new CreateExperimentRequest { Name = "stalls", Namespace = "limits" })).ExperimentId;

            // 2,000 uploads over 20 connections (100 streams each), each sending its metadata and then nothing.
            var channels = Enumerable.Range(0, 20).Select(_ => GrpcChannel.ForAddress(address)).ToList();
            var calls = new List<AsyncClientStreamingCall<UploadFileRequest, UploadFileResponse>>();
            try
            {
                foreach (var channel in channels)
                {
                    var client = new ModelStore.ModelStoreClient(channel);
                    for (var i = 0; i < 100; i++)
                    {
                        var call = client.UploadFile();
                        calls.Add(call);
                        await WriteMetadataIgnoringResetAsync(call, parent, $"stall-{calls.Count}.bin");
                    }
                }

                // While they stall: health checks, reads and a real upload from another client are served.
                using var fresh = GrpcChannel.ForAddress(address);
                // The deadline only bounds a hang: on a loaded machine setting up 2,000 streams can take a while.
                var health = await new Health.HealthClient(fresh).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(60));
                Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
                var freshClient = new ModelStore.ModelStoreClient(fresh);
                Assert.Equal(parent, (await freshClient.GetExperimentAsync(new GetExperimentRequest { Id = parent })).Experiment.Id);

                var outcomes = await Task.WhenAll(calls.Select(async call =>
                {
                    try
                    {
                        await call.ResponseAsync.WaitAsync(TimeSpan.FromMinutes(3));
                        return StatusCode.OK;
                    }
                    catch (RpcException exception)
                    {
                        return exception.StatusCode;
                    }
                }));

                var refused = outcomes.Count(s => s == StatusCode.ResourceExhausted);
                var timedOut = outcomes.Count(s => s == StatusCode.DeadlineExceeded);
                Assert.True(refused + timedOut == outcomes.Length, string.Join(", ", outcomes.GroupBy(s => s).Select(g => $"{g.Key}: {g.Count()}")));
                Assert.InRange(timedOut, 1, 1000);
            }
            finally
            {
                foreach (var call in calls)
                {
                    call.Dispose();
                }

                foreach (var channel in channels)
                {
                    channel.Dispose();
                }
            }

            // Alive, nothing left behind, and serving uploads again.
            using var after = GrpcChannel.ForAddress(address);
            var afterClient = new ModelStore.ModelStoreClient(after);
            var data = RandomBytes(200_000);
            var file = await UploadAsync(afterClient, parent, data, "after.bin");
            Assert.Equal(data, await DownloadAsync(afterClient, file));
            await WaitForAsync(() => Directory.GetFiles(Path.Combine(dataDir, "blobs", "tmp")).Length == 0);
            Assert.Empty(server.ErrorLines);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task Two_hundred_unread_downloads_and_a_hundred_unread_watchers_grow_the_server_by_less_than_100_MB()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "modelbox-e2e-unread-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDir);
        try
        {
            await using var server = await ChildServer.StartAsync(dataDir);
            var address = $"http://127.0.0.1:{server.Port}";
            var setup = new ModelStore.ModelStoreClient(server.Channel);
            var parent = (await setup.CreateExperimentAsync(new CreateExperimentRequest { Name = "unread", Namespace = "backlog" })).ExperimentId;
            var file = await UploadAsync(setup, parent, RandomBytes(16 * 1024 * 1024), "big.bin");
            // A backlog of about 40 MB of change state: 2,000 metadata updates of 20 KB each.
            var value = new string('x', 20_000);
            await Parallel.ForEachAsync(Enumerable.Range(0, 2000), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
            {
                var request = new UpdateMetadataRequest { ParentId = parent, Metadata = new ModelBox.Protocol.Metadata() };
                request.Metadata.Metadata_[$"k{i % 50}"] = Google.Protobuf.WellKnownTypes.Value.ForString(value + i);
                await setup.UpdateMetadataAsync(request, cancellationToken: ct);
            });
            // Warm up (JIT, pools): one download read completely, one watch read for a while.
            Assert.Equal(16 * 1024 * 1024, (await DownloadAsync(setup, file)).Length);
            using (var warm = setup.WatchNamespace(new WatchNamespaceRequest { Namespace = "backlog" }))
            {
                for (var i = 0; i < 100; i++)
                {
                    Assert.True(await warm.ResponseStream.MoveNext());
                }
            }

            var before = Status(server, "VmRSS");
            await File.WriteAllTextAsync($"/proc/{server.ProcessId}/clear_refs", "5");
            var channels = Enumerable.Range(0, 6).Select(_ => GrpcChannel.ForAddress(address)).ToList();
            var streams = new List<IDisposable>();
            try
            {
                for (var i = 0; i < 200; i++)
                {
                    var client = new ModelStore.ModelStoreClient(channels[i % 4]);
                    streams.Add(client.DownloadFile(new DownloadFileRequest { FileId = file, ChunkSizeBytes = 4 * 1024 * 1024 - 1024 }));
                }

                for (var i = 0; i < 100; i++)
                {
                    var client = new ModelStore.ModelStoreClient(channels[4 + (i % 2)]);
                    streams.Add(client.WatchNamespace(new WatchNamespaceRequest { Namespace = "backlog" }));
                }

                // Give the server time to fill every stream's transport and buffers.
                await Task.Delay(TimeSpan.FromSeconds(5));
                var growth = Status(server, "VmHWM") - before;
                Assert.True(growth < 100 * 1024, $"the server grew by {growth / 1024} MB with 200 unread downloads and 100 unread watchers");

                var health = await new Health.HealthClient(server.Channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
                Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
            }
            finally
            {
                foreach (var stream in streams)
                {
                    stream.Dispose();
                }

                foreach (var channel in channels)
                {
                    channel.Dispose();
                }
            }

            Assert.Empty(server.ErrorLines);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static long Status(ChildServer server, string field)
    {
        foreach (var line in File.ReadLines($"/proc/{server.ProcessId}/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"no {field} in /proc/{server.ProcessId}/status");
    }

    private static async Task<AsyncClientStreamingCall<UploadFileRequest, UploadFileResponse>> StartStalledUploadAsync(
        ModelStore.ModelStoreClient client, string parent, string path)
    {
        var call = client.UploadFile();
        await WriteMetadataIgnoringResetAsync(call, parent, path);
        return call;
    }

    /// <summary>Sends the metadata frame; a server that refused the call at once may have reset the stream already.</summary>
    private static async Task WriteMetadataIgnoringResetAsync(AsyncClientStreamingCall<UploadFileRequest, UploadFileResponse> call, string parent, string path)
    {
        try
        {
            await call.RequestStream.WriteAsync(new UploadFileRequest { Metadata = new FileMetadata { ParentId = parent, Path = path, FileType = FileType.Model } });
        }
        catch (RpcException)
        {
            // The answer is in ResponseAsync.
        }
        catch (InvalidOperationException)
        {
            // "the call is complete": likewise.
        }
    }

    private static async Task<string> UploadAsync(ModelStore.ModelStoreClient client, string parent, byte[] data, string path)
    {
        using var call = client.UploadFile();
        await call.RequestStream.WriteAsync(new UploadFileRequest { Metadata = new FileMetadata { ParentId = parent, Path = path, FileType = FileType.Model } });
        for (var offset = 0; offset < data.Length; offset += 1024 * 1024)
        {
            await call.RequestStream.WriteAsync(new UploadFileRequest { Chunks = ByteString.CopyFrom(data, offset, Math.Min(1024 * 1024, data.Length - offset)) });
        }

        await call.RequestStream.CompleteAsync();
        return (await call.ResponseAsync).FileId;
    }

    private static async Task<byte[]> DownloadAsync(ModelStore.ModelStoreClient client, string fileId)
    {
        using var call = client.DownloadFile(new DownloadFileRequest { FileId = fileId });
        using var received = new MemoryStream();
        while (await call.ResponseStream.MoveNext())
        {
            call.ResponseStream.Current.Chunks.WriteTo(received);
        }

        return received.ToArray();
    }

    private static byte[] RandomBytes(int count) => RandomNumberGenerator.GetBytes(count);

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the condition did not hold within the patience");
            }

            await Task.Delay(50);
        }
    }
}
