using ModelBox.IO;

namespace ModelBox.Storage.Filesystem;

/// <summary>
/// A read-only view of <c>[offset, offset + length)</c> of a file opened for direct I/O: whole aligned blocks are read
/// from the device into one aligned buffer (no page-cache copy, which costs more CPU than the rest of a download on a
/// cold blob) and handed out from there. Blobs are written with direct I/O too, so they are not in the page cache to
/// begin with. Disposing it disposes the file.
/// </summary>
internal sealed class DirectRangeStream(FileStream file, long start, long length) : Stream
{
    private const int BufferBytes = 1024 * 1024;

    private readonly AlignedBuffer _buffer = new(BufferBytes);
    private readonly long _start = start;
    private readonly long _end = start + length;
    private long _position = start;
    private long _bufferOffset = -1;
    private int _bufferCount;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => length;

    public override long Position
    {
        get => _position - _start;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (!Buffered())
        {
            if (_position >= _end)
            {
                return 0;
            }

            Fill(RandomAccess.Read(file.SafeFileHandle, _buffer.Span, DirectIO.AlignDown(_position)));
        }

        return CopyOut(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!Buffered())
        {
            if (_position >= _end)
            {
                return 0;
            }

            Fill(await RandomAccess.ReadAsync(file.SafeFileHandle, _buffer.Memory, DirectIO.AlignDown(_position), cancellationToken).ConfigureAwait(false));
        }

        return CopyOut(buffer.Span);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            file.Dispose();
            _buffer.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await file.DisposeAsync().ConfigureAwait(false);
        _buffer.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Whether the buffer holds the byte at the position.</summary>
    private bool Buffered() => _bufferOffset >= 0 && _position >= _bufferOffset && _position < _bufferOffset + _bufferCount;

    private void Fill(int read)
    {
        _bufferOffset = DirectIO.AlignDown(_position);
        _bufferCount = read;
        if (!Buffered())
        {
            // The file ended before the range did (the caller reports a short blob).
            _position = _end;
        }
    }

    private int CopyOut(Span<byte> destination)
    {
        if (_position >= _end)
        {
            return 0;
        }

        var start = (int)(_position - _bufferOffset);
        var count = (int)Math.Min(Math.Min(destination.Length, _bufferCount - start), _end - _position);
        _buffer.Span.Slice(start, count).CopyTo(destination);
        _position += count;
        return count;
    }
}
