using System.Data.Common;

namespace ModelBox.Server.Configuration;

/// <summary>The server's settings, after the TOML file and the MODELBOX_* environment variables were applied.</summary>
public sealed record ServerConfig
{
    /// <summary>Address of the gRPC listener (HTTP/2 only), e.g. <c>0.0.0.0:8085</c>, <c>:8085</c>, <c>127.0.0.1:0</c>.</summary>
    public string ListenAddr { get; init; } = "0.0.0.0:8085";

    /// <summary>Folder holding the embedded database and, by default, the blobs.</summary>
    public string DataDir { get; init; } = "./modelbox-data";

    /// <summary>Metadata backend: <c>integrated</c> (SQLite), <c>postgres</c> or <c>mysql</c> (MySQL or MariaDB).</summary>
    public string MetadataStorage { get; init; } = "integrated";

    /// <summary>Artifact backend: <c>filesystem</c> or <c>s3</c>.</summary>
    public string ArtifactStorage { get; init; } = "filesystem";

    /// <summary>SQLite's synchronous level for the embedded database: <c>normal</c> or <c>full</c> (docs/reliability.md).</summary>
    public string StorageSynchronous { get; init; } = "normal";

    /// <summary>Blob folder of the filesystem artifact store; empty means <c>{data_dir}/blobs</c>.</summary>
    public string FilesystemBaseDir { get; init; } = string.Empty;

    /// <summary>The largest file an upload may carry, in bytes.</summary>
    public long MaxUploadSizeBytes { get; init; } = Domain.Operations.ArtifactOptions.DefaultMaxUploadSizeBytes;

    /// <summary>Seconds between two sweeps of the artifact store (unreferenced blobs, abandoned temporaries); 0 sweeps only at start-up.</summary>
    public int ArtifactSweepIntervalSeconds { get; init; } = 3600;

    /// <summary>How old an unreferenced blob or an idle temporary upload must be before a sweep removes it, in seconds.</summary>
    public int ArtifactSweepGraceSeconds { get; init; } = 86_400;

    /// <summary>Hours a metric batch id is remembered (a retry with it is stored once); 0 remembers every id forever.</summary>
    public int MetricBatchIdRetentionHours { get; init; } = 720;

    /// <summary>Bytes of interrupted resumable uploads the server keeps together at most (the least recently written go first).</summary>
    public long ResumableUploadMaxBytes { get; init; } = Domain.Operations.ArtifactOptions.DefaultResumableMaxBytes;

    /// <summary>Interrupted resumable uploads the server keeps at most.</summary>
    public int ResumableUploadMaxCount { get; init; } = 64;

    /// <summary>How long an interrupted resumable upload is kept without being resumed, in seconds.</summary>
    public int ResumableUploadKeepSeconds { get; init; } = 86_400;

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

    /// <summary>Least severe log level written: <c>debug</c> (adds one line per call), <c>info</c>, <c>warning</c> or <c>error</c>.</summary>
    public string LogLevel { get; init; } = "info";

    /// <summary>Unary calls that take longer than this many milliseconds are logged at info level; 0 logs none as slow.</summary>
    public int SlowCallMilliseconds { get; init; } = 1000;

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

    /// <summary>Seconds a stream may wait for the client (its next message, or reading the server's) before it is ended; 0
    /// means never.</summary>
    public int StreamIdleTimeoutSeconds { get; init; } = 300;

    /// <summary>Most concurrent uploads on the server (also bounded by the open-file limit).</summary>
    public int MaxConcurrentUploads { get; init; } = 512;

    /// <summary>Most concurrent uploads on one connection.</summary>
    public int MaxConcurrentUploadsPerConnection { get; init; } = 64;

    /// <summary>Most concurrent downloads on the server (also bounded by the open-file limit).</summary>
    public int MaxConcurrentDownloads { get; init; } = 512;

    /// <summary>Most concurrent downloads on one connection.</summary>
    public int MaxConcurrentDownloadsPerConnection { get; init; } = 64;

    /// <summary>Buffer memory all downloads together may hold, in bytes.</summary>
    public long StreamMemoryBytes { get; init; } = 32L * 1024 * 1024;

    /// <summary>Buffer memory the downloads of one connection may hold, in bytes.</summary>
    public long StreamMemoryBytesPerConnection { get; init; } = 16L * 1024 * 1024;

    /// <summary>True when TLS is configured.</summary>
    public bool TlsEnabled => TlsCertFile.Length > 0;

    /// <summary>How many live changes may wait for one WatchNamespace stream before it is ended with ABORTED (the client
    /// resumes from its last sequence). Bounds the memory a slow watcher can hold.</summary>
    public int WatchBufferSize { get; init; } = 1024;

    /// <summary>Access control: <c>none</c> (anyone who reaches the server may do anything) or <c>enforced</c> (docs/security.md).</summary>
    public string AuthMode { get; init; } = "none";

    /// <summary>True when calls must authenticate and are authorised per namespace.</summary>
    public bool AuthEnforced => AuthMode == "enforced";

    /// <summary>How long validated tokens and grants are used before the store's access version is checked again.</summary>
    public int AuthRefreshSeconds { get; init; } = 2;

    /// <summary>Failed authentications one client address may make per minute before its calls are refused outright.</summary>
    public int AuthFailuresPerMinute { get; init; } = 30;

    /// <summary>The OpenID Connect issuer whose JWTs are accepted as bearer tokens; empty accepts API tokens only.</summary>
    public string OidcIssuer { get; init; } = string.Empty;

    /// <summary>The audience the JWTs must name.</summary>
    public string OidcAudience { get; init; } = string.Empty;

    /// <summary>The claim that names the user.</summary>
    public string OidcUserClaim { get; init; } = "preferred_username";

    /// <summary>The claim whose values are ModelBox group names.</summary>
    public string OidcGroupsClaim { get; init; } = "groups";

    /// <summary>Whether the issuer's discovery document must be fetched over HTTPS.</summary>
    public bool OidcRequireHttps { get; init; } = true;

    /// <summary>The PostgreSQL server of <c>metadata_storage = "postgres"</c>.</summary>
    public DatabaseServerConfig Postgres { get; init; } = new() { Port = 5432 };

    /// <summary>The MySQL or MariaDB server of <c>metadata_storage = "mysql"</c>.</summary>
    public DatabaseServerConfig MySql { get; init; } = new() { Port = 3306 };

    /// <summary>The ADO.NET connection string for PostgreSQL (Npgsql keywords) from <see cref="Postgres"/>.</summary>
    public string PostgresConnectionString => Postgres.ConnectionString.Length > 0
        ? Postgres.ConnectionString
        : Compose(("Host", Postgres.Host), ("Port", Postgres.Port), ("Username", Postgres.User), ("Password", Postgres.Password), ("Database", Postgres.Database));

    /// <summary>The ADO.NET connection string for MySQL/MariaDB (MySqlConnector keywords) from <see cref="MySql"/>.</summary>
    public string MySqlConnectionString => MySql.ConnectionString.Length > 0
        ? MySql.ConnectionString
        : Compose(("Server", MySql.Host), ("Port", MySql.Port), ("User ID", MySql.User), ("Password", MySql.Password), ("Database", MySql.Database));

    /// <summary>The SQLite database file of the integrated store.</summary>
    public string SqliteDatabasePath => Path.Combine(Path.GetFullPath(DataDir), "modelbox.db");

    /// <summary>The effective blob folder.</summary>
    public string BlobDirectory => string.IsNullOrEmpty(FilesystemBaseDir)
        ? Path.Combine(Path.GetFullPath(DataDir), "blobs")
        : Path.GetFullPath(FilesystemBaseDir);

    /// <summary>Where the metadata lives, for logs and command output: the SQLite file, or host/database without the password.</summary>
    public string MetadataLocation => MetadataStorage switch
    {
        "postgres" => Describe(PostgresConnectionString, "Host", "Database"),
        "mysql" => Describe(MySqlConnectionString, "Server", "Database"),
        _ => SqliteDatabasePath,
    };

    // The builder quotes values that hold ';', '=' or quotes, which string concatenation would get wrong.
    private static string Compose(params (string Keyword, object Value)[] parts)
    {
        var builder = new DbConnectionStringBuilder();
        foreach (var (keyword, value) in parts)
        {
            if (value is not string { Length: 0 })
            {
                builder[keyword] = value;
            }
        }

        return builder.ConnectionString;
    }

    private static string Describe(string connectionString, string hostKeyword, string databaseKeyword)
    {
        var builder = new DbConnectionStringBuilder { ConnectionString = connectionString };
        var host = builder.TryGetValue(hostKeyword, out var h) ? h : "localhost";
        var port = builder.TryGetValue("Port", out var p) ? $":{p}" : string.Empty;
        var database = builder.TryGetValue(databaseKeyword, out var d) ? d : string.Empty;
        return $"{host}{port}/{database}";
    }
}

/// <summary>A database server of the <c>postgres</c> or <c>mysql</c> backend: its address and credentials, or a whole
/// ADO.NET connection string, plus the pool and timeout the server applies either way.</summary>
public sealed record DatabaseServerConfig
{
    /// <summary>Host name or address of the database server.</summary>
    public string Host { get; init; } = "localhost";

    /// <summary>TCP port of the database server.</summary>
    public int Port { get; init; }

    /// <summary>User the server connects as.</summary>
    public string User { get; init; } = "modelbox";

    /// <summary>That user's password; empty for none (or a password file the driver finds itself).</summary>
    public string Password { get; init; } = string.Empty;

    /// <summary>The database (MySQL: schema) holding ModelBox's tables.</summary>
    public string Database { get; init; } = "modelbox";

    /// <summary>A complete ADO.NET connection string; when set it wins over host, port, user, password and database.</summary>
    public string ConnectionString { get; init; } = string.Empty;

    /// <summary>Most open connections per server process.</summary>
    public int MaxPoolSize { get; init; } = 50;

    /// <summary>How long one statement may run before the database cancels it; 0 means no limit.</summary>
    public int StatementTimeoutSeconds { get; init; } = 30;
}
