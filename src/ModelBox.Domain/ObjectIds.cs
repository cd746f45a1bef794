using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace ModelBox.Domain;

/// <summary>The kinds of object an id can name.</summary>
public enum ObjectKind
{
    Experiment,
    Checkpoint,
    Model,
    ModelVersion,
    /// <summary>A logged event; its id is random (time-ordered), not derived from a natural key: logging twice is two events.</summary>
    Event,
    /// <summary>A file record (uploaded or tracked); its id is random, since every upload is its own record.</summary>
    File,
    /// <summary>A dataset: a name in a namespace; its content lives in dataset versions.</summary>
    Dataset,
    /// <summary>One version of a dataset, identified by its content digest.</summary>
    DatasetVersion,
}

/// <summary>
/// Deterministic ids: a kind prefix plus 128 bits of SHA-256 over the kind and the length-prefixed natural key.
/// The same natural key always yields the same id (so creates are idempotent); two kinds never share an id
/// (the kind is both hashed and spelled out), and any id tells its kind.
/// </summary>
public static class ObjectIds
{
    private const int HashHexLength = 32;
    private static readonly ObjectKind[] AllKinds = Enum.GetValues<ObjectKind>();

    public static string Experiment(string @namespace, string name) => Make(ObjectKind.Experiment, @namespace, name);

    public static string Model(string @namespace, string name) => Make(ObjectKind.Model, @namespace, name);

    public static string ModelVersion(string modelId, string version) => Make(ObjectKind.ModelVersion, modelId, version);

    public static string Dataset(string @namespace, string name) => Make(ObjectKind.Dataset, @namespace, name);

    public static string DatasetVersion(string datasetId, string digest) => Make(ObjectKind.DatasetVersion, datasetId, digest);

    public static string Checkpoint(string experimentId, long epoch) =>
        Make(ObjectKind.Checkpoint, experimentId, epoch.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>
    /// A new event id: <c>evt-</c>, 14 hex digits of the Unix time in microseconds, 18 random hex digits. Ids of events
    /// logged later sort later (within a microsecond the order is random), and two events never share an id.
    /// </summary>
    public static string NewEvent(DateTimeOffset now)
    {
        var micros = (now.UtcTicks - DateTimeOffset.UnixEpoch.Ticks) / 10;
        Span<byte> random = stackalloc byte[9];
        RandomNumberGenerator.Fill(random);
        return Prefix(ObjectKind.Event) + "-" + (micros & 0x00FF_FFFF_FFFF_FFFF).ToString("x14", System.Globalization.CultureInfo.InvariantCulture)
            + Convert.ToHexStringLower(random);
    }

    /// <summary>A new random file id: uploading the same bytes twice makes two records, so no natural key exists.</summary>
    public static string NewFile()
    {
        Span<byte> random = stackalloc byte[HashHexLength / 2];
        RandomNumberGenerator.Fill(random);
        return Prefix(ObjectKind.File) + "-" + Convert.ToHexStringLower(random);
    }

    /// <summary>The prefix that names a kind in its ids.</summary>
    public static string Prefix(ObjectKind kind) => kind switch
    {
        ObjectKind.Experiment => "exp",
        ObjectKind.Checkpoint => "ckpt",
        ObjectKind.Model => "mdl",
        ObjectKind.ModelVersion => "mver",
        ObjectKind.Event => "evt",
        ObjectKind.File => "file",
        ObjectKind.Dataset => "ds",
        ObjectKind.DatasetVersion => "dsv",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Reads the kind from an id; false for anything that is not a well-formed ModelBox id.</summary>
    public static bool TryGetKind(string? id, out ObjectKind kind)
    {
        kind = default;
        if (id is null)
        {
            return false;
        }

        var dash = id.IndexOf('-', StringComparison.Ordinal);
        if (dash <= 0 || id.Length - dash - 1 != HashHexLength || !IsLowerHex(id.AsSpan(dash + 1)))
        {
            return false;
        }

        foreach (var candidate in AllKinds)
        {
            if (id.AsSpan(0, dash).SequenceEqual(Prefix(candidate)))
            {
                kind = candidate;
                return true;
            }
        }

        return false;
    }

    private static string Make(ObjectKind kind, params string[] parts)
    {
        var prefix = Prefix(kind);
        var buffer = new List<byte>(128);
        Append(buffer, prefix);
        foreach (var part in parts)
        {
            Append(buffer, part);
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(buffer.ToArray(), hash);
        return prefix + "-" + Convert.ToHexStringLower(hash[..(HashHexLength / 2)]);
    }

    private static void Append(List<byte> buffer, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
        buffer.AddRange(length);
        buffer.AddRange(bytes);
    }

    private static bool IsLowerHex(ReadOnlySpan<char> value)
    {
        foreach (var c in value)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
            {
                return false;
            }
        }

        return true;
    }
}
