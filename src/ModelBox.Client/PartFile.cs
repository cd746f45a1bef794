using ModelBox.IO;

namespace ModelBox.Client;

/// <summary>
/// The <c>.part</c> file a download to a path appends to. Once <see cref="StartAppending"/> ran, writes go straight to the
/// device (<see cref="DirectFileWriter"/>, no page-cache copy) where the filesystem allows it, else through the file as
/// usual. A direct write runs on the thread pool, so the caller hashes the same bytes meanwhile.
/// </summary>
internal sealed class PartFile(FileStream file) : Stream
{
    private DirectFileWriter? _direct;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => _direct?.Length ?? file.Length;

    public override long Position
    {
        get => Length;
        set => throw new NotSupportedException();
    }

    /// <summary>Appends from <paramref name="offset"/> on (the bytes before it are kept); direct writes need an aligned offset.</summary>
    public void StartAppending(long offset)
    {
        _direct = DirectFileWriter.TryCreate(file.SafeFileHandle, offset);
        if (_direct is null)
        {
            file.Position = offset;
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_direct is not null)
        {
            _direct.Write(buffer);
        }
        else
        {
            file.Write(buffer);
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_direct is null)
        {
            return file.WriteAsync(buffer, cancellationToken);
        }

        var direct = _direct;
        return new ValueTask(Task.Run(() => direct.Write(buffer.Span), cancellationToken));
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
        _direct?.Finish();
        file.Flush();
    }

    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        _direct?.Finish();
        return file.FlushAsync(cancellationToken);
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _direct?.Dispose();
            _direct = null;
        }

        base.Dispose(disposing);
    }
}
