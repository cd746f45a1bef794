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

    /// <summary>Artifact backend: <c>filesystem</c>.</summary>
    public string ArtifactStorage { get; init; } = "filesystem";

    /// <summary>Blob folder of the filesystem artifact store; empty means <c>{data_dir}/blobs</c>.</summary>
    public string FilesystemBaseDir { get; init; } = string.Empty;

    /// <summary>Address of the Prometheus endpoint.</summary>
    public string PrometheusListenAddr { get; init; } = ":2112";

    /// <summary>The SQLite database file of the integrated store.</summary>
    public string SqliteDatabasePath => Path.Combine(Path.GetFullPath(DataDir), "modelbox.db");

    /// <summary>The effective blob folder.</summary>
    public string BlobDirectory => string.IsNullOrEmpty(FilesystemBaseDir)
        ? Path.Combine(Path.GetFullPath(DataDir), "blobs")
        : Path.GetFullPath(FilesystemBaseDir);
}
