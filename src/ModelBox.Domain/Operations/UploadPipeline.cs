using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Threading.Channels;
using ModelBox.Domain.Storage;

namespace ModelBox.Domain.Operations;

/// <summary>
/// The receiving side of an upload. Each chunk goes to two workers: one computes the MD5, the other the SHA-256 and
/// writes the chunk to the temporary blob. MD5 cannot use more than one core and is the upload's largest cost, so it
/// runs beside everything else (receiving the next chunks, SHA-256, the write) instead of after it. Chunks are the
/// immutable buffers the transport produced (no copies); at most <see cref="MaxBytesInFlight"/> bytes wait for the
/// workers, so memory stays bounded whatever the chunk size or the speed of the disk.
/// </summary>
internal sealed class UploadPipeline : IAsyncDisposable
{
    /// <summary>Bytes received but not yet hashed and written, per upload.</summary>
    public const int MaxBytesInFlight = 8 * 1024 * 1024;

    private readonly Channel<Chunk> _md5Queue = Channel.CreateUnbounded<Chunk>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly Channel<Chunk> _writeQueue = Channel.CreateUnbounded<Chunk>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly IncrementalHash _md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
    private readonly IncrementalHash _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly Task _md5Worker;
    private readonly Task _writeWorker;
    private long _inFlight;
    private TaskCompletionSource? _space;
    private Exception? _failure;

    public UploadPipeline(IBlobWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        _md5Worker = Task.Run(() => RunAsync(_md5Queue.Reader, chunk =>
        {
            _md5.AppendData(chunk.Span);
            return ValueTask.CompletedTask;
        }));
        _writeWorker = Task.Run(() => RunAsync(_writeQueue.Reader, async chunk =>
        {
            // The write goes to the page cache; hash first so the bytes are still in the CPU cache for it.
            _sha256.AppendData(chunk.Span);
            await writer.WriteAsync(chunk, _stop.Token).ConfigureAwait(false);
        }));
    }

    /// <summary>
    /// Hashes bytes that are stored already (the kept start of a resumed upload) without writing them; only before the
    /// first <see cref="AddAsync"/>, while the workers have nothing to do.
    /// </summary>
    public void HashOnly(ReadOnlySpan<byte> data)
    {
        _md5.AppendData(data);
        _sha256.AppendData(data);
    }

    /// <summary>Hands a chunk to the workers; waits while too many bytes are in flight. Throws a worker's failure.</summary>
    public async ValueTask AddAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (data.IsEmpty)
        {
            return;
        }

        await ReserveAsync(data.Length, cancellationToken).ConfigureAwait(false);
        var chunk = new Chunk(data);
        _md5Queue.Writer.TryWrite(chunk);
        _writeQueue.Writer.TryWrite(chunk);
    }

    /// <summary>Waits until every chunk is hashed and written; returns the MD5 and SHA-256 as lowercase hex.</summary>
    public async Task<(string Md5, string Sha256)> CompleteAsync()
    {
        _md5Queue.Writer.TryComplete();
        _writeQueue.Writer.TryComplete();
        try
        {
            await Task.WhenAll(_md5Worker, _writeWorker).ConfigureAwait(false);
        }
        catch
        {
            ThrowFailure();
            throw;
        }

        return (Convert.ToHexStringLower(_md5.GetHashAndReset()), Convert.ToHexStringLower(_sha256.GetHashAndReset()));
    }

    /// <summary>
    /// Lets the workers hash and write every chunk handed over so far, then stops them: a resumable upload whose stream
    /// broke keeps all it received. A worker's failure is not thrown (the broken stream is what the caller reports).
    /// </summary>
    public async Task DrainAsync()
    {
        _md5Queue.Writer.TryComplete();
        _writeQueue.Writer.TryComplete();
        try
        {
            await Task.WhenAll(_md5Worker, _writeWorker).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is OperationCanceledException || _failure is not null)
        {
            // What was written stays; the next attempt's checksums decide whether it is good.
        }
    }

    /// <summary>Stops the workers (when the upload failed) and waits for them, so the blob writer is free to be disposed.</summary>
    public async ValueTask DisposeAsync()
    {
        _md5Queue.Writer.TryComplete();
        _writeQueue.Writer.TryComplete();
        if (!_md5Worker.IsCompleted || !_writeWorker.IsCompleted)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }

        try
        {
            await Task.WhenAll(_md5Worker, _writeWorker).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is OperationCanceledException || _failure is not null)
        {
            // The upload failed already; the caller reports that failure.
        }

        _md5.Dispose();
        _sha256.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync(ChannelReader<Chunk> queue, Func<ReadOnlyMemory<byte>, ValueTask> work)
    {
        try
        {
            while (await queue.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
            {
                while (queue.TryRead(out var chunk))
                {
                    await work(chunk.Data).ConfigureAwait(false);
                    Release(chunk);
                }
            }
        }
        catch (Exception exception)
        {
            Fail(exception);
            throw;
        }
    }

    private async ValueTask ReserveAsync(int bytes, CancellationToken cancellationToken)
    {
        while (true)
        {
            TaskCompletionSource space;
            lock (_gate)
            {
                ThrowFailure();

                // A chunk larger than the whole budget still goes, alone.
                if (_inFlight == 0 || _inFlight + bytes <= MaxBytesInFlight)
                {
                    _inFlight += bytes;
                    return;
                }

                space = _space ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            await space.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void Release(Chunk chunk)
    {
        if (Interlocked.Decrement(ref chunk.Pending) != 0)
        {
            return;
        }

        TaskCompletionSource? space;
        lock (_gate)
        {
            _inFlight -= chunk.Data.Length;
            space = _space;
            _space = null;
        }

        space?.TrySetResult();
    }

    private void Fail(Exception exception)
    {
        TaskCompletionSource? space;
        lock (_gate)
        {
            // The first failure is the cause; the other worker then only sees the stop.
            if (_failure is null && exception is not OperationCanceledException)
            {
                _failure = exception;
            }

            space = _space;
            _space = null;
        }

        space?.TrySetResult();
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Disposed already: everything is stopping anyway.
        }
    }

    private void ThrowFailure()
    {
        if (_failure is { } failure)
        {
            ExceptionDispatchInfo.Capture(failure).Throw();
        }
    }

    private sealed class Chunk(ReadOnlyMemory<byte> data)
    {
        public int Pending = 2;

        public ReadOnlyMemory<byte> Data { get; } = data;
    }
}
