using System.Globalization;
using ModelBox.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Artifacts;

/// <summary>The server streams: an upload of 2 GiB grows the real server process's memory by less than 100 MB.</summary>
public sealed class ArtifactMemoryTests : IAsyncLifetime
{
    private const long UploadBytes = 2L * 1024 * 1024 * 1024;
    private const long MaxGrowthKb = 100 * 1024;

    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "modelbox-e2e-memory-" + Guid.NewGuid().ToString("N"));
    private ChildServer? _server;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dataDir);
        _server = await ChildServer.StartAsync(_dataDir);
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Directory.Delete(_dataDir, recursive: true);
    }

    [Fact]
    public async Task Uploading_2_GiB_grows_the_server_process_by_less_than_100_MB_and_downloading_it_too()
    {
        await using var client = new ModelBoxClient($"127.0.0.1:{_server!.Port}");
        var experiment = (await client.CreateExperimentAsync("memory", "test", "artifacts", Framework.PyTorch)).Value;
        // Warm up (JIT, connection, pools) on a small file, so the measurement sees only what the size adds.
        await client.UploadFileAsync(experiment.Id, new GeneratedStream(8 * 1024 * 1024), "warm.bin");

        var before = Status("VmRSS");
        // Reset the peak (VmHWM) to the current size; the kernel allows it for one's own processes.
        await File.WriteAllTextAsync($"/proc/{_server.ProcessId}/clear_refs", "5");
        var file = await client.UploadFileAsync(experiment.Id, new GeneratedStream(UploadBytes), "big.bin");
        var uploadGrowth = Status("VmHWM") - before;

        before = Status("VmRSS");
        await File.WriteAllTextAsync($"/proc/{_server.ProcessId}/clear_refs", "5");
        await client.DownloadFileAsync(file.Id, Stream.Null);
        var downloadGrowth = Status("VmHWM") - before;

        Assert.Equal(UploadBytes, file.SizeBytes);
        Assert.True(uploadGrowth < MaxGrowthKb, $"the server grew by {uploadGrowth / 1024} MB during a 2 GiB upload");
        Assert.True(downloadGrowth < MaxGrowthKb, $"the server grew by {downloadGrowth / 1024} MB during a 2 GiB download");
    }

    private long Status(string field)
    {
        foreach (var line in File.ReadLines($"/proc/{_server!.ProcessId}/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"/proc/{_server.ProcessId}/status has no {field}");
    }

    /// <summary>A non-seekable stream of <c>length</c> pseudo-random bytes, made as they are read (no file, no big buffer).</summary>
    private sealed class GeneratedStream(long length) : Stream
    {
        private readonly Random _random = new(42);
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var count = (int)Math.Min(buffer.Length, length - _position);
            _random.NextBytes(buffer[..count]);
            _position += count;
            return count;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
