namespace ModelBox.Server.Configuration;

/// <summary>The server's settings, after the TOML file and the MODELBOX_* environment variables were applied.</summary>
public sealed record ServerConfig
{
    /// <summary>Address of the gRPC listener (HTTP/2 only), e.g. <c>0.0.0.0:8085</c>, <c>:8085</c>, <c>127.0.0.1:0</c>.</summary>
    public string ListenAddr { get; init; } = "0.0.0.0:8085";

    /// <summary>Folder holding the embedded database and, by default, the blobs.</summary>
    public string DataDir { get; init; } = "./modelbox-data";

    /// <summary>Metadata backend: <c>integrated</c> (SQLite).</summary>
    public string MetadataStorage { get; init; } = "integrated";

    /// <summary>Artifact backend: <c>filesystem</c> or <c>s3</c>.</summary>
    public string ArtifactStorage { get; init; } = "filesystem";

    /// <summary>Blob folder of the filesystem artifact store; empty means <c>{data_dir}/blobs</c>.</summary>
    public string FilesystemBaseDir { get; init; } = string.Empty;

    /// <summary>The largest file an upload may carry, in bytes.</summary>
    public long MaxUploadSizeBytes { get; init; } = Domain.Operations.ArtifactOptions.DefaultMaxUploadSizeBytes;

    /// <summary>Service URL of an S3-compatible server; empty means AWS S3 in <see cref="S3Region"/>.</summary>
    public string S3Endpoint { get; init; } = string.Empty;

    /// <summary>S3 region (the signing region for S3-compatible servers).</summary>
    public string S3Region { get; init; } = "us-east-1";

    /// <summary>S3 bucket of the blobs; required when <see cref="ArtifactStorage"/> is <c>s3</c>.</summary>
    public string S3Bucket { get; init; } = string.Empty;

    /// <summary>S3 access key id; empty means the standard AWS credential chain (AWS_ACCESS_KEY_ID, profiles, roles).</summary>
    public string S3AccessKeyId { get; init; } = string.Empty;

    /// <summary>S3 secret access key.</summary>
    public string S3SecretAccessKey { get; init; } = string.Empty;

    /// <summary>Path-style addressing (endpoint/bucket/key), which most S3-compatible servers need.</summary>
    public bool S3ForcePathStyle { get; init; } = true;

    /// <summary>Address of the Prometheus endpoint.</summary>
    public string PrometheusListenAddr { get; init; } = ":2112";

    /// <summary>Address of the HTTP/1.1 listener serving the REST/JSON API and its OpenAPI document.</summary>
    public string HttpListenAddr { get; init; } = ":8081";

    /// <summary>Log output: <c>text</c> (human-readable lines) or <c>json</c> (one JSON object per line).</summary>
    public string LogFormat { get; init; } = "text";

    /// <summary>How long shutdown waits for in-flight calls (uploads, watches) before it stops them.</summary>
    public int ShutdownTimeoutSeconds { get; init; } = 30;

    /// <summary>PEM certificate of the gRPC and HTTP listeners; empty means cleartext.</summary>
    public string TlsCertFile { get; init; } = string.Empty;

    /// <summary>PEM private key that goes with <see cref="TlsCertFile"/>.</summary>
    public string TlsKeyFile { get; init; } = string.Empty;

    /// <summary>Largest gRPC message the server accepts or sends.</summary>
    public int MaxMessageSizeBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>Most concurrent streams (calls) on one HTTP/2 connection.</summary>
    public int MaxConcurrentStreams { get; init; } = 100;

    /// <summary>Deadline applied to unary calls that arrive without one; 0 means none.</summary>
    public int UnaryDeadlineSeconds { get; init; } = 60;

    /// <summary>True when TLS is configured.</summary>
    public bool TlsEnabled => TlsCertFile.Length > 0;

    /// <summary>How many live changes may wait for one WatchNamespace stream before it is ended with ABORTED (the client
    /// resumes from its last sequence). Bounds the memory a slow watcher can hold.</summary>
    public int WatchBufferSize { get; init; } = 1024;

    /// <summary>The SQLite database file of the integrated store.</summary>
    public string SqliteDatabasePath => Path.Combine(Path.GetFullPath(DataDir), "modelbox.db");

    /// <summary>The effective blob folder.</summary>
    public string BlobDirectory => string.IsNullOrEmpty(FilesystemBaseDir)
        ? Path.Combine(Path.GetFullPath(DataDir), "blobs")
        : Path.GetFullPath(FilesystemBaseDir);
}
