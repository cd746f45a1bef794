using Google.Protobuf.Collections;
using ModelBox.Domain;
using ModelBox.Domain.Operations;
using Proto = ModelBox.Protocol;

namespace ModelBox.Server.Services;

/// <summary>Wire ↔ domain mapping of files.</summary>
internal static class ArtifactMapping
{
    public static NewFile ToNewFile(this Proto.FileMetadata file) => new(
        file.ParentId,
        (FileType)file.FileType,
        file.Path,
        file.Checksum,
        file.Sha256,
        file.Uri,
        file.SizeBytes);

    public static List<NewFile> ToNewFiles(this RepeatedField<Proto.FileMetadata> files) => files.Select(f => f.ToNewFile()).ToList();

    public static Proto.FileMetadata ToProto(this FileRecord file) => new()
    {
        Id = file.Id,
        ParentId = file.ParentId,
        FileType = (Proto.FileType)file.Type,
        Checksum = file.Md5,
        Path = file.Path,
        SizeBytes = (ulong)file.SizeBytes,
        Sha256 = file.Sha256,
        Uri = file.Uri,
        CreatedAt = file.CreatedAt.ToTimestamp(),
        UpdatedAt = file.UpdatedAt.ToTimestamp(),
    };
}
