namespace ModelBox.Domain.Operations;

/// <summary>Checks of the files a client describes (uploads, tracked files, files given with a create).</summary>
internal static class FileValidation
{
    /// <summary>
    /// Validates the files given with a create (checkpoint, model, model version) before the object is created, so a
    /// bad file fails the create. Their parent is the new object, whatever parent they name.
    /// </summary>
    public static IReadOnlyList<NewFile> OfNewObject(IReadOnlyList<NewFile> requested)
    {
        ArgumentNullException.ThrowIfNull(requested);
        return requested.Select((f, i) => Validate(f with { ParentId = null }, requireParent: false, Files[i])).ToList();
    }

    /// <summary>The records of files validated by <see cref="OfNewObject"/>, as tracked files of the new object.</summary>
    public static List<FileRecord> RecordsOfNewObject(IReadOnlyList<NewFile> validated, string objectId, DateTimeOffset now) =>
        TrackedRecords(validated.Select(f => f with { ParentId = objectId }), now);

    /// <summary>Records of tracked files (no bytes here) for validated files that name their parent.</summary>
    public static List<FileRecord> TrackedRecords(IEnumerable<NewFile> validated, DateTimeOffset now) =>
        validated.Select(f => new FileRecord(
            ObjectIds.NewFile(),
            f.ParentId!,
            f.Type,
            f.Path ?? string.Empty,
            f.Uri ?? string.Empty,
            checked((long)f.SizeBytes),
            f.Checksum ?? string.Empty,
            f.Sha256 ?? string.Empty,
            Stored: false,
            now,
            now)).ToList();

    /// <summary>The files of a request that names many (TrackArtifacts, or a create with files).</summary>
    public static InputName Files { get; } = "files";

    /// <summary>The file of an upload.</summary>
    public static InputName UploadedFile { get; } = "file";

    /// <summary>Checks a file's description; <paramref name="input"/> names it in messages (<c>files[2]</c>).</summary>
    public static NewFile Validate(NewFile file, bool requireParent, InputName input)
    {
        var parentId = requireParent ? ParentId(file.ParentId, input / "parent id") : file.ParentId;
        if (!Enum.IsDefined(file.Type))
        {
            throw ModelBoxException.InvalidArgument($"{input / "file type"} {(int)file.Type} is not a known file type");
        }

        if (file.SizeBytes > long.MaxValue)
        {
            throw ModelBoxException.InvalidArgument($"{input / "size"} {file.SizeBytes} is too large");
        }

        return file with
        {
            ParentId = parentId,
            Path = Name(file.Path, input / "path"),
            Uri = Name(file.Uri, input / "uri"),
            Checksum = Hex(file.Checksum, 32, input / "checksum", "an MD5"),
            Sha256 = Hex(file.Sha256, 64, input / "sha256", "a SHA-256"),
        };
    }

    /// <summary>The id of an object files can belong to (any kind but a file).</summary>
    public static string ParentId(string? parentId, InputName field)
    {
        if (string.IsNullOrEmpty(parentId))
        {
            throw ModelBoxException.InvalidArgument($"{field} is required");
        }

        if (!ObjectIds.TryGetKind(parentId, out var kind))
        {
            throw ModelBoxException.InvalidArgument($"{field} '{(parentId.Length <= 80 ? parentId : parentId[..80] + "...")}' is not a ModelBox id");
        }

        return kind == ObjectKind.File
            ? throw ModelBoxException.InvalidArgument($"{field} '{parentId}' is a file; files belong to experiments, checkpoints, models and model versions")
            : parentId;
    }

    /// <summary>A file's original name or URI: any text (it is never a storage path) but no control characters.</summary>
    private static string Name(string? value, InputName field)
    {
        value ??= string.Empty;
        if (value.Length > ArtifactStore.MaxPathLength)
        {
            throw ModelBoxException.InvalidArgument($"{field} is {value.Length} characters long; the limit is {ArtifactStore.MaxPathLength}");
        }

        foreach (var c in value)
        {
            if (char.IsControl(c))
            {
                throw ModelBoxException.InvalidArgument($"{field} must not contain control characters (such as NUL)");
            }
        }

        return value;
    }

    /// <summary>An optional checksum in hex, lowercased; empty when not given.</summary>
    public static string Hex(string? value, int length, InputName field, string what)
    {
        if (string.IsNullOrEmpty(value))
        {
            return string.Empty;
        }

        var lower = value.ToLowerInvariant();
        if (lower.Length != length || !lower.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f'))
        {
            throw ModelBoxException.InvalidArgument($"{field} '{(value.Length <= 80 ? value : value[..80] + "...")}' is not {what} in hex ({length} hex digits)");
        }

        return lower;
    }
}
