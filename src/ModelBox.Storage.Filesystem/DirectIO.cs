using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

// Shared source: the filesystem blob store writes blobs with it, and the SDK (which references no server code) links the
// same file to write downloads.
namespace ModelBox.IO;

/// <summary>
/// Sequential writes that bypass the page cache (Linux O_DIRECT): bytes are gathered in one aligned buffer and written
/// a whole buffer at a time, straight from it to the device. Copying a blob into the page cache is the largest CPU cost
/// of an upload after its MD5 (on the machines measured, about 2 CPU seconds per GiB, more than the raw disk copy takes);
/// a direct write costs a memcpy into the buffer. The tail is padded to the block size and the file truncated to its
/// length at the end. Where the filesystem refuses O_DIRECT (tmpfs, some network filesystems) or off Linux,
/// <see cref="TryCreate"/> returns null and the caller writes through the page cache as usual.
/// </summary>
internal sealed class DirectFileWriter : IDisposable
{
    /// <summary>Large enough that each write is one efficient device request; small enough to hold one per upload.</summary>
    public const int BufferBytes = 1024 * 1024;

    private readonly SafeFileHandle _handle;
    private readonly AlignedBuffer _buffer = new(BufferBytes);
    private int _filled;
    private long _written;

    private DirectFileWriter(SafeFileHandle handle, long offset)
    {
        _handle = handle;
        _written = offset;
    }

    /// <summary>The file's length once everything handed to <see cref="Write"/> is written.</summary>
    public long Length => _written + _filled;

    /// <summary>
    /// Switches a file opened for writing to direct I/O, appending from <paramref name="offset"/> (a multiple of
    /// <see cref="DirectIO.Alignment"/>); null where that is not possible.
    /// </summary>
    public static DirectFileWriter? TryCreate(SafeFileHandle handle, long offset = 0) =>
        offset % DirectIO.Alignment == 0 && DirectIO.TryEnable(handle) ? new DirectFileWriter(handle, offset) : null;

    /// <summary>Appends bytes; writes the buffer to the file each time it fills.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        var buffer = _buffer.Span;
        while (!data.IsEmpty)
        {
            var take = Math.Min(data.Length, BufferBytes - _filled);
            data[..take].CopyTo(buffer[_filled..]);
            _filled += take;
            data = data[take..];
            if (_filled == BufferBytes)
            {
                RandomAccess.Write(_handle, buffer, _written);
                _written += BufferBytes;
                _filled = 0;
            }
        }
    }

    /// <summary>Writes what is buffered (padded to the block size) and cuts the file to the bytes written.</summary>
    public void Finish()
    {
        if (_filled == 0)
        {
            return;
        }

        var buffer = _buffer.Span;
        var padded = (int)DirectIO.AlignUp(_filled);
        buffer[_filled..padded].Clear();
        RandomAccess.Write(_handle, buffer[..padded], _written);
        _written += _filled;
        _filled = 0;
        RandomAccess.SetLength(_handle, _written);
    }

    public void Dispose() => _buffer.Dispose();
}

/// <summary>What direct I/O (O_DIRECT) needs: the flag, switched on for an open file, and block alignment.</summary>
internal static partial class DirectIO
{
    /// <summary>Offsets, lengths and buffer addresses of direct I/O are multiples of the logical block size (512 or 4096).</summary>
    public const int Alignment = 4096;

    private const int GetFlags = 3; // F_GETFL
    private const int SetFlags = 4; // F_SETFL

    /// <summary>The largest multiple of the block size not above <paramref name="value"/>.</summary>
    public static long AlignDown(long value) => value / Alignment * Alignment;

    /// <summary>The smallest multiple of the block size not below <paramref name="value"/>.</summary>
    public static long AlignUp(long value) => (value + Alignment - 1) / Alignment * Alignment;

    /// <summary>Switches an open file to direct I/O; false where the platform or the filesystem does not allow it.</summary>
    public static bool TryEnable(SafeFileHandle handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        var direct = DirectFlag();
        if (direct == 0)
        {
            return false;
        }

        var fd = (int)handle.DangerousGetHandle();
        var flags = NativeMethods.Fcntl(fd, GetFlags, 0);
        return flags >= 0 && NativeMethods.Fcntl(fd, SetFlags, flags | direct) == 0;
    }

    /// <summary>The value of O_DIRECT, which differs between architectures; 0 where it is not used.</summary>
    private static int DirectFlag()
    {
        if (!OperatingSystem.IsLinux())
        {
            return 0;
        }

        return RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 or Architecture.X86 => 0x4000,
            Architecture.Arm64 or Architecture.Arm => 0x10000,
            _ => 0,
        };
    }

    private static partial class NativeMethods
    {
        [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
        public static partial int Fcntl(int fd, int command, int argument);
    }
}

/// <summary>A buffer at a block-aligned address: a pinned array (it never moves) with room to start inside it aligned.</summary>
internal sealed class AlignedBuffer : IDisposable
{
    private readonly byte[] _array;
    private readonly int _start;
    private GCHandle _pin;

    public AlignedBuffer(int length)
    {
        Length = length;
        _array = GC.AllocateUninitializedArray<byte>(length + DirectIO.Alignment, pinned: true);
        _pin = GCHandle.Alloc(_array, GCHandleType.Pinned);
        var address = (long)_pin.AddrOfPinnedObject();
        _start = (int)((DirectIO.Alignment - (address % DirectIO.Alignment)) % DirectIO.Alignment);
    }

    public int Length { get; }

    public Span<byte> Span => _array.AsSpan(_start, Length);

    public Memory<byte> Memory => _array.AsMemory(_start, Length);

    public void Dispose()
    {
        if (_pin.IsAllocated)
        {
            _pin.Free();
        }
    }
}
