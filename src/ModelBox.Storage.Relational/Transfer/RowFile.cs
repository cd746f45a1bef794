using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;

namespace ModelBox.Storage.Relational.Transfer;

/// <summary>
/// The logical export of one table in a backup: a header (magic, table, column names), the rows with a type tag per
/// value (the normalized values of <see cref="TableRows"/>), and a trailer with the row count, so a truncated file is told
/// apart from a short table. Written and read as a stream: memory is one row.
/// </summary>
public static class RowFile
{
    private static readonly byte[] Magic = "MBXROWS1"u8.ToArray();

    private const byte RowMarker = 1;
    private const byte EndMarker = 0;

    /// <summary>Writes <paramref name="rows"/> to <paramref name="path"/>; returns the row count and the file's SHA-256.</summary>
    public static async Task<(long Rows, string Sha256, long Bytes)> WriteAsync(
        string path, string table, IReadOnlyList<string> columns, IAsyncEnumerable<object?[]> rows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(rows);
        var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var hashing = new HashingWriteStream(file, hash);
        long count = 0;
        await using (hashing.ConfigureAwait(false))
        {
            using var writer = new BinaryWriter(hashing, Encoding.UTF8, leaveOpen: true);
            writer.Write(Magic);
            writer.Write(table);
            writer.Write(columns.Count);
            foreach (var column in columns)
            {
                writer.Write(column);
            }

            await foreach (var row in rows.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                writer.Write(RowMarker);
                foreach (var value in row)
                {
                    WriteValue(writer, value);
                }

                count++;
            }

            writer.Write(EndMarker);
            writer.Write(count);
            writer.Flush();
            await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            file.Flush(flushToDisk: true);
        }

        return (count, Convert.ToHexStringLower(hash.GetHashAndReset()), new FileInfo(path).Length);
    }

    /// <summary>The table and column names in the header of <paramref name="path"/>.</summary>
    public static (string Table, IReadOnlyList<string> Columns) ReadHeader(string path)
    {
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream, Encoding.UTF8);
        return ReadHeader(reader, path);
    }

    /// <summary>The rows of <paramref name="path"/>; throws <see cref="InvalidDataException"/> on a damaged or truncated file.</summary>
    public static async IAsyncEnumerable<object?[]> ReadAsync(string path, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        await using (stream.ConfigureAwait(false))
        {
            using var reader = new BinaryReader(stream, Encoding.UTF8);
            var (_, columns) = ReadHeader(reader, path);
            long count = 0;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                byte marker;
                try
                {
                    marker = reader.ReadByte();
                }
                catch (EndOfStreamException)
                {
                    throw new InvalidDataException($"{path} is truncated after {count} rows");
                }

                if (marker == EndMarker)
                {
                    var expected = reader.ReadInt64();
                    if (expected != count)
                    {
                        throw new InvalidDataException($"{path} holds {count} rows but its trailer says {expected}");
                    }

                    yield break;
                }

                if (marker != RowMarker)
                {
                    throw new InvalidDataException($"{path} is damaged after {count} rows");
                }

                var row = new object?[columns.Count];
                for (var i = 0; i < row.Length; i++)
                {
                    row[i] = ReadValue(reader, path);
                }

                count++;
                yield return row;
            }
        }
    }

    private static (string Table, IReadOnlyList<string> Columns) ReadHeader(BinaryReader reader, string path)
    {
        try
        {
            if (!reader.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic))
            {
                throw new InvalidDataException($"{path} is not a ModelBox table export");
            }

            var table = reader.ReadString();
            var columns = new string[reader.ReadInt32()];
            for (var i = 0; i < columns.Length; i++)
            {
                columns[i] = reader.ReadString();
            }

            return (table, columns);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"{path} is truncated in its header");
        }
    }

    private static void WriteValue(BinaryWriter writer, object? value)
    {
        switch (value)
        {
            case null:
                writer.Write((byte)0);
                break;
            case long l:
                writer.Write((byte)1);
                writer.Write(l);
                break;
            case double d:
                writer.Write((byte)2);
                writer.Write(d);
                break;
            case string s:
                writer.Write((byte)3);
                writer.Write(s);
                break;
            case byte[] bytes:
                writer.Write((byte)4);
                writer.Write(bytes.Length);
                writer.Write(bytes);
                break;
            default:
                throw new ArgumentException($"not a normalized value: {value.GetType().Name}", nameof(value));
        }
    }

    private static object? ReadValue(BinaryReader reader, string path) => reader.ReadByte() switch
    {
        0 => null,
        1 => reader.ReadInt64(),
        2 => reader.ReadDouble(),
        3 => reader.ReadString(),
        4 => reader.ReadBytes(reader.ReadInt32()),
        var tag => throw new InvalidDataException($"{path} has an unknown value tag {tag}"),
    };

    /// <summary>Passes writes on to a file and into a hash.</summary>
    private sealed class HashingWriteStream(Stream inner, IncrementalHash hash) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            hash.AppendData(buffer);
            inner.Write(buffer);
        }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
