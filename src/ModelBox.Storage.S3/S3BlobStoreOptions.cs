namespace ModelBox.Storage.S3;

/// <summary>Where and how the S3 blob store connects.</summary>
/// <remarks>
/// Empty credentials mean the standard AWS chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, instance roles).
/// An empty endpoint means AWS itself in <see cref="Region"/>.
/// </remarks>
public sealed class S3BlobStoreOptions
{
    /// <summary>The smallest part S3 accepts (except the last one).</summary>
    public const int MinimumPartSizeBytes = 5 * 1024 * 1024;

    /// <summary>Service URL of an S3-compatible server, e.g. <c>http://127.0.0.1:9000</c>; empty for AWS.</summary>
    public string Endpoint { get; set; } = string.Empty;

    /// <summary>Region (also the signing region of S3-compatible servers).</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>The bucket; it must exist.</summary>
    public string Bucket { get; set; } = string.Empty;

    /// <summary>Access key id; empty for the standard AWS credential chain.</summary>
    public string AccessKeyId { get; set; } = string.Empty;

    /// <summary>Secret access key; empty for the standard AWS credential chain.</summary>
    public string SecretAccessKey { get; set; } = string.Empty;

    /// <summary>Path-style addressing (<c>endpoint/bucket/key</c>), which most S3-compatible servers need.</summary>
    public bool ForcePathStyle { get; set; } = true;

    /// <summary>Size of one multipart part, and so the memory one upload holds; at least 5 MiB.</summary>
    public int PartSizeBytes { get; set; } = 8 * 1024 * 1024;
}
