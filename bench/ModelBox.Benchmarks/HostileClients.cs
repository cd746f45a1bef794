using System.Collections.Concurrent;
using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using ModelBox.Protocol;

namespace ModelBox.Benchmarks;

/// <summary>
/// The soak's hostile share (<c>soak --hostile</c>): on connections of their own, every two seconds, clients that stall
/// uploads after the metadata frame, open downloads and watches they never read, and send metadata nested too deep and
/// label selectors too large. Their calls are refused, time out or are reset; what matters is that the normal clients see
/// no error, memory stays flat, and no hostile call gets INTERNAL or UNKNOWN.
/// </summary>
internal sealed class HostileClients(string address, string parentId, string fileId, string @namespace) : IAsyncDisposable
{
    private readonly List<GrpcChannel> _channels = [.. Enumerable.Range(0, 4).Select(_ => GrpcChannel.ForAddress(address))];
    private readonly ConcurrentQueue<IDisposable> _open = new();
    private readonly ConcurrentDictionary<StatusCode, long> _outcomes = new();
    private int _round;

    /// <summary>How the hostile calls ended, by status.</summary>
    public IReadOnlyDictionary<StatusCode, long> Outcomes => _outcomes;

    /// <summary>Hostile calls answered INTERNAL or UNKNOWN: each is a server bug.</summary>
    public long Internal => _outcomes.GetValueOrDefault(StatusCode.Internal) + _outcomes.GetValueOrDefault(StatusCode.Unknown);

    public static async Task<string> UploadTargetAsync(ModelStore.ModelStoreClient client, string parentId)
    {
        using var call = client.UploadFile();
        await call.RequestStream.WriteAsync(new UploadFileRequest { Metadata = new FileMetadata { ParentId = parentId, Path = "hostile-target.bin", FileType = FileType.Model } });
        var data = RandomNumberGenerator.GetBytes(4 * 1024 * 1024);
        for (var offset = 0; offset < data.Length; offset += 1024 * 1024)
        {
            await call.RequestStream.WriteAsync(new UploadFileRequest { Chunks = ByteString.CopyFrom(data, offset, 1024 * 1024) });
        }

        await call.RequestStream.CompleteAsync();
        return (await call.ResponseAsync).FileId;
    }

    public async Task RunAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(2));
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                var client = new ModelStore.ModelStoreClient(_channels[_round++ % _channels.Count]);
                for (var i = 0; i < 16; i++)
                {
                    var upload = client.UploadFile();
                    _open.Enqueue(upload);
                    Observe(upload.ResponseAsync);
                    try
                    {
                        await upload.RequestStream.WriteAsync(new UploadFileRequest { Metadata = new FileMetadata { ParentId = parentId, Path = "stalled.bin", FileType = FileType.Model } });
                    }
                    catch (Exception exception) when (exception is RpcException or InvalidOperationException)
                    {
                        // Refused at once (a cap): the status is observed above.
                    }
                }

                for (var i = 0; i < 8; i++)
                {
                    var download = client.DownloadFile(new DownloadFileRequest { FileId = fileId, ChunkSizeBytes = 4 * 1024 * 1024 - 1024 });
                    _open.Enqueue(download);
                    Observe(download.ResponseHeadersAsync);
                }

                for (var i = 0; i < 4; i++)
                {
                    var watch = client.WatchNamespace(new WatchNamespaceRequest { Namespace = @namespace });
                    _open.Enqueue(watch);
                    Observe(watch.ResponseHeadersAsync);
                }

                var deep = new UpdateMetadataRequest { ParentId = parentId, Metadata = new Protocol.Metadata() };
                var value = Value.ForString("bottom");
                for (var level = 0; level < 40; level++)
                {
                    value = Value.ForList(value);
                }

                deep.Metadata.Metadata_["deep"] = value;
                Observe(client.UpdateMetadataAsync(deep).ResponseAsync);
                var selector = string.Join(",", Enumerable.Range(0, 65).Select(i => $"k{i}=v"));
                Observe(client.ListExperimentsAsync(new ListExperimentsRequest { Namespace = @namespace, LabelSelector = selector }).ResponseAsync);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    public ValueTask DisposeAsync()
    {
        while (_open.TryDequeue(out var call))
        {
            call.Dispose();
        }

        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    private void Observe(Task call) => _ = ObserveAsync(call);

    private async Task ObserveAsync(Task call)
    {
        StatusCode status;
        try
        {
            await call.ConfigureAwait(false);
            status = StatusCode.OK;
        }
        catch (RpcException exception)
        {
            status = exception.StatusCode;
        }
        catch (Exception)
        {
            status = StatusCode.Unknown;
        }

        _outcomes.AddOrUpdate(status, 1, (_, n) => n + 1);
    }
}
