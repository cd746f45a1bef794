using System.Collections;
using System.Globalization;
using System.Text;
using Tomlyn;
using Tomlyn.Model;

namespace ModelBox.Server.Configuration;

/// <summary>
/// Reads <see cref="ServerConfig"/> from TOML and MODELBOX_* variables, and writes the commented default file.
/// One table of keys drives all three, so a key cannot be documented but unknown, or known but undocumented.
/// </summary>
public static class ServerConfigLoader
{
    private sealed record Key(
        string Path,
        string Comment,
        Func<ServerConfig, string> Get,
        Func<ServerConfig, string, ServerConfig> Set,
        string[]? Allowed = null,
        bool IsInteger = false)
    {
        public string EnvironmentVariable => "MODELBOX_" + Path.Replace('.', '_').ToUpperInvariant();
    }

    private static readonly Key[] Keys =
    [
        new("listen_addr", "Address of the gRPC listener (HTTP/2 cleartext). \":8085\" means every interface.",
            c => c.ListenAddr, (c, v) => c with { ListenAddr = v }),
        new("data_dir", "Folder for the embedded database and, by default, the artifact blobs.",
            c => c.DataDir, (c, v) => c with { DataDir = v }),
        new("metadata_storage", "Metadata backend: \"integrated\" (embedded SQLite under data_dir), \"postgres\" ([postgres]) or \"mysql\" (MySQL or MariaDB, [mysql]).",
            c => c.MetadataStorage, (c, v) => c with { MetadataStorage = v }, ["integrated", "postgres", "mysql"]),
        new("artifact_storage", "Artifact backend: \"filesystem\" (blobs under [filesystem] base_dir) or \"s3\" (an S3-compatible bucket, see [s3]).",
            c => c.ArtifactStorage, (c, v) => c with { ArtifactStorage = v }, ["filesystem", "s3"]),
        new("max_upload_size_bytes", "Largest file an upload may carry, in bytes; a bigger one is refused with RESOURCE_EXHAUSTED.",
            c => c.MaxUploadSizeBytes.ToString(CultureInfo.InvariantCulture), (c, v) => c with { MaxUploadSizeBytes = ParsePositive(v, "max_upload_size_bytes") }, IsInteger: true),
        new("artifacts.sweep_interval_seconds", "Seconds between sweeps of the artifact store, which remove blobs no file record uses (a crash between storing and recording leaves them), abandoned temporary uploads and MLflow multipart uploads untouched for 7 days; every replica sweeps, and 0 sweeps only at start-up.",
            c => Text(c.ArtifactSweepIntervalSeconds), (c, v) => c with { ArtifactSweepIntervalSeconds = Integer(v, "artifacts.sweep_interval_seconds", 0, 7 * 86_400) }, IsInteger: true),
        new("artifacts.sweep_grace_seconds", "How old (in seconds) an unreferenced blob or an idle temporary upload must be before a sweep removes it; keep it longer than any upload takes.",
            c => Text(c.ArtifactSweepGraceSeconds), (c, v) => c with { ArtifactSweepGraceSeconds = Integer(v, "artifacts.sweep_grace_seconds", 60, 30 * 86_400) }, IsInteger: true),
        new("artifacts.resumable_max_bytes", "Bytes of interrupted resumable uploads (UploadFile with an upload id, filesystem artifact store) kept together for their clients to resume; when a new one would exceed it, the least recently written are dropped (those clients start over). 0 keeps none.",
            c => Text(c.ResumableUploadMaxBytes), (c, v) => c with { ResumableUploadMaxBytes = Integer(v, "artifacts.resumable_max_bytes", 0, long.MaxValue) }, IsInteger: true),
        new("artifacts.resumable_max_count", "Interrupted resumable uploads kept at most; the least recently written are dropped first.",
            c => Text(c.ResumableUploadMaxCount), (c, v) => c with { ResumableUploadMaxCount = Integer(v, "artifacts.resumable_max_count", 0, 1_000_000) }, IsInteger: true),
        new("artifacts.resumable_keep_seconds", "How long (in seconds) an interrupted resumable upload is kept without being resumed before a sweep removes it.",
            c => Text(c.ResumableUploadKeepSeconds), (c, v) => c with { ResumableUploadKeepSeconds = Integer(v, "artifacts.resumable_keep_seconds", 60, 30 * 86_400) }, IsInteger: true),
        new("metrics.batch_id_retention_hours", "Hours a metric batch id (LogMetricsBatch's batch_id, and the id of every MLflow metrics request) is remembered, so that a retry of the batch is stored once; each sweep (artifacts.sweep_interval_seconds) forgets older ones. 0 remembers them forever (a row of about 100 bytes per batch).",
            c => Text(c.MetricBatchIdRetentionHours), (c, v) => c with { MetricBatchIdRetentionHours = Integer(v, "metrics.batch_id_retention_hours", 0, 10 * 366 * 24) }, IsInteger: true),
        new("storage.synchronous", "Durability of the embedded database (integrated): \"normal\" (a commit survives a crash of the server process; the last commits before a power loss or OS crash may be lost) or \"full\" (every commit is synced to disk before it is acknowledged, at one fsync per group commit).",
            c => c.StorageSynchronous, (c, v) => c with { StorageSynchronous = v }, ["normal", "full"]),
        new("filesystem.base_dir", "Blob folder of the filesystem artifact store; empty means \"<data_dir>/blobs\".",
            c => c.FilesystemBaseDir, (c, v) => c with { FilesystemBaseDir = v }),
        new("s3.endpoint", "Service URL of an S3-compatible server (e.g. \"http://127.0.0.1:9000\"); empty means AWS S3 in [s3] region.",
            c => c.S3Endpoint, (c, v) => c with { S3Endpoint = v }),
        new("s3.region", "S3 region (also the signing region of S3-compatible servers).",
            c => c.S3Region, (c, v) => c with { S3Region = v }),
        new("s3.bucket", "Bucket holding the blobs (it must exist); required when artifact_storage is \"s3\".",
            c => c.S3Bucket, (c, v) => c with { S3Bucket = v }),
        new("s3.access_key_id", "Access key id; empty means the standard AWS chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, roles).",
            c => c.S3AccessKeyId, (c, v) => c with { S3AccessKeyId = v }),
        new("s3.secret_access_key", "Secret access key (prefer the environment variable to writing it here).",
            c => c.S3SecretAccessKey, (c, v) => c with { S3SecretAccessKey = v }),
        new("s3.force_path_style", "Path-style addressing (endpoint/bucket/key): \"true\" for most S3-compatible servers, \"false\" for virtual-hosted AWS buckets.",
            c => c.S3ForcePathStyle ? "true" : "false", (c, v) => c with { S3ForcePathStyle = ParseBool(v, "s3.force_path_style") }),
        new("prometheus.listen_addr", "Address of the Prometheus /metrics endpoint.",
            c => c.PrometheusListenAddr, (c, v) => c with { PrometheusListenAddr = v }),
        new("http_listen_addr", "Address of the HTTP/1.1 listener: REST/JSON API under /api/v1, OpenAPI at /api/v1/openapi.json.",
            c => c.HttpListenAddr, (c, v) => c with { HttpListenAddr = v }),
        new("log_format", "Log output: \"text\" (human-readable) or \"json\" (one JSON object per line).",
            c => c.LogFormat, (c, v) => c with { LogFormat = v }, ["text", "json"]),
        new("log_level", "Least severe log level written: \"debug\" (adds one line per call), \"info\" (start-up, slow and failed calls, errors), \"warning\" or \"error\".",
            c => c.LogLevel, (c, v) => c with { LogLevel = v }, ["debug", "info", "warning", "error"]),
        new("slow_call_ms", "A unary call that takes longer than this many milliseconds is logged at info level; 0 logs no call as slow.",
            c => Text(c.SlowCallMilliseconds), (c, v) => c with { SlowCallMilliseconds = Integer(v, "slow_call_ms", 0, 86_400_000) }, IsInteger: true),
        new("shutdown_timeout_seconds", "On SIGINT/SIGTERM, how long in-flight calls may finish before they are stopped.",
            c => Text(c.ShutdownTimeoutSeconds), (c, v) => c with { ShutdownTimeoutSeconds = Integer(v, "shutdown_timeout_seconds", 0, 3600) }, IsInteger: true),
        new("tls.cert_file", "PEM certificate for the gRPC and HTTP listeners; empty means cleartext.",
            c => c.TlsCertFile, (c, v) => c with { TlsCertFile = v }),
        new("tls.key_file", "PEM private key of the certificate.",
            c => c.TlsKeyFile, (c, v) => c with { TlsKeyFile = v }),
        new("limits.max_message_size_bytes", "Largest gRPC message accepted or sent (uploads stream in chunks below it).",
            c => Text(c.MaxMessageSizeBytes), (c, v) => c with { MaxMessageSizeBytes = Integer(v, "limits.max_message_size_bytes", 64 * 1024, int.MaxValue) }, IsInteger: true),
        new("limits.max_concurrent_streams", "Most concurrent calls on one HTTP/2 connection.",
            c => Text(c.MaxConcurrentStreams), (c, v) => c with { MaxConcurrentStreams = Integer(v, "limits.max_concurrent_streams", 1, 100_000) }, IsInteger: true),
        new("limits.unary_deadline_seconds", "Deadline given to unary calls that arrive without one; 0 means none.",
            c => Text(c.UnaryDeadlineSeconds), (c, v) => c with { UnaryDeadlineSeconds = Integer(v, "limits.unary_deadline_seconds", 0, 86_400) }, IsInteger: true),
        new("limits.stream_idle_timeout_seconds", "A stream whose client sends nothing (an upload) or reads nothing (a download, a watch with changes to deliver) for this long is ended with DEADLINE_EXCEEDED and what it held is freed; 0 means never.",
            c => Text(c.StreamIdleTimeoutSeconds), (c, v) => c with { StreamIdleTimeoutSeconds = Integer(v, "limits.stream_idle_timeout_seconds", 0, 86_400) }, IsInteger: true),
        new("limits.max_concurrent_uploads", "Most uploads in progress on the server; more are refused with RESOURCE_EXHAUSTED. Lowered automatically to fit the process's open-file limit.",
            c => Text(c.MaxConcurrentUploads), (c, v) => c with { MaxConcurrentUploads = Integer(v, "limits.max_concurrent_uploads", 1, 1_000_000) }, IsInteger: true),
        new("limits.max_concurrent_uploads_per_connection", "Most uploads in progress on one client connection.",
            c => Text(c.MaxConcurrentUploadsPerConnection), (c, v) => c with { MaxConcurrentUploadsPerConnection = Integer(v, "limits.max_concurrent_uploads_per_connection", 1, 1_000_000) }, IsInteger: true),
        new("limits.max_concurrent_downloads", "Most downloads in progress on the server; more are refused with RESOURCE_EXHAUSTED. Lowered automatically to fit the process's open-file limit.",
            c => Text(c.MaxConcurrentDownloads), (c, v) => c with { MaxConcurrentDownloads = Integer(v, "limits.max_concurrent_downloads", 1, 1_000_000) }, IsInteger: true),
        new("limits.max_concurrent_downloads_per_connection", "Most downloads in progress on one client connection.",
            c => Text(c.MaxConcurrentDownloadsPerConnection), (c, v) => c with { MaxConcurrentDownloadsPerConnection = Integer(v, "limits.max_concurrent_downloads_per_connection", 1, 1_000_000) }, IsInteger: true),
        new("limits.stream_memory_bytes", "Buffer memory all downloads together may hold; under pressure downloads get smaller chunks, then RESOURCE_EXHAUSTED.",
            c => Text(c.StreamMemoryBytes), (c, v) => c with { StreamMemoryBytes = Integer(v, "limits.stream_memory_bytes", 1024 * 1024, long.MaxValue) }, IsInteger: true),
        new("limits.stream_memory_bytes_per_connection", "Buffer memory the downloads of one client connection may hold.",
            c => Text(c.StreamMemoryBytesPerConnection), (c, v) => c with { StreamMemoryBytesPerConnection = Integer(v, "limits.stream_memory_bytes_per_connection", 256 * 1024, long.MaxValue) }, IsInteger: true),
        new("watch.buffer_size", "Live changes buffered per WatchNamespace stream; a watcher that falls further behind is ended with ABORTED and resumes from its last sequence.",
            c => Text(c.WatchBufferSize), (c, v) => c with { WatchBufferSize = Integer(v, "watch.buffer_size", 1, 1_000_000) }, IsInteger: true),
        new("auth.mode", "Access control: \"none\" (anyone who reaches the server may read and change everything; keep the listeners on loopback) or \"enforced\" (every call needs a token or SSO login and a grant; see docs/security.md).",
            c => c.AuthMode, (c, v) => c with { AuthMode = v }, ["none", "enforced"]),
        new("auth.refresh_seconds", "How long validated tokens and grants are trusted before the database is asked whether any changed; a revocation through any replica holds everywhere within this time.",
            c => Text(c.AuthRefreshSeconds), (c, v) => c with { AuthRefreshSeconds = Integer(v, "auth.refresh_seconds", 0, 300) }, IsInteger: true),
        new("auth.failures_per_minute", "Failed authentications one client address may make per minute; further calls from it are refused with RESOURCE_EXHAUSTED (HTTP 429 on REST) until the minute is over.",
            c => Text(c.AuthFailuresPerMinute), (c, v) => c with { AuthFailuresPerMinute = Integer(v, "auth.failures_per_minute", 1, 1_000_000) }, IsInteger: true),
        new("auth.oidc_issuer", "OpenID Connect issuer URL whose JWT bearer tokens are accepted (keys from its discovery document, rotated automatically); empty accepts API tokens only.",
            c => c.OidcIssuer, (c, v) => c with { OidcIssuer = v }),
        new("auth.oidc_audience", "The audience (aud) the JWTs must carry; required with an issuer.",
            c => c.OidcAudience, (c, v) => c with { OidcAudience = v }),
        new("auth.oidc_user_claim", "The claim naming the user (user:<value>).",
            c => c.OidcUserClaim, (c, v) => c with { OidcUserClaim = v }),
        new("auth.oidc_groups_claim", "The claim whose values are ModelBox groups (group:<value>), for grants to groups.",
            c => c.OidcGroupsClaim, (c, v) => c with { OidcGroupsClaim = v }),
        new("auth.oidc_require_https", "Fetch the issuer's discovery document and keys over HTTPS only; \"false\" only for a test issuer on loopback.",
            c => c.OidcRequireHttps ? "true" : "false", (c, v) => c with { OidcRequireHttps = ParseBool(v, "auth.oidc_require_https") }),
        .. DatabaseKeys("postgres", "PostgreSQL", c => c.Postgres, (c, d) => c with { Postgres = d }),
        .. DatabaseKeys("mysql", "MySQL/MariaDB", c => c.MySql, (c, d) => c with { MySql = d }),
    ];

    /// <summary>The same keys for each database server backend, under its own table.</summary>
    private static Key[] DatabaseKeys(
        string table, string product, Func<ServerConfig, DatabaseServerConfig> get, Func<ServerConfig, DatabaseServerConfig, ServerConfig> set) =>
    [
        new($"{table}.host", $"{product} host (metadata_storage = \"{table}\").",
            c => get(c).Host, (c, v) => set(c, get(c) with { Host = v })),
        new($"{table}.port", $"{product} port.",
            c => Text(get(c).Port), (c, v) => set(c, get(c) with { Port = Integer(v, $"{table}.port", 1, 65535) }), IsInteger: true),
        new($"{table}.user", $"{product} user.",
            c => get(c).User, (c, v) => set(c, get(c) with { User = v })),
        new($"{table}.password", $"{product} password; prefer the environment variable to a password in a file.",
            c => get(c).Password, (c, v) => set(c, get(c) with { Password = v })),
        new($"{table}.database", $"{product} database holding ModelBox's tables (create it, empty, before the first start).",
            c => get(c).Database, (c, v) => set(c, get(c) with { Database = v })),
        new($"{table}.connection_string", $"A complete ADO.NET connection string for {product}; when set it wins over host, port, user, password and database.",
            c => get(c).ConnectionString, (c, v) => set(c, get(c) with { ConnectionString = v })),
        new($"{table}.max_pool_size", "Most open database connections per server process (also applied over a connection string).",
            c => Text(get(c).MaxPoolSize), (c, v) => set(c, get(c) with { MaxPoolSize = Integer(v, $"{table}.max_pool_size", 1, 10_000) }), IsInteger: true),
        new($"{table}.statement_timeout_seconds", "How long one statement may run before it is cancelled and the call fails; 0 means no limit.",
            c => Text(get(c).StatementTimeoutSeconds), (c, v) => set(c, get(c) with { StatementTimeoutSeconds = Integer(v, $"{table}.statement_timeout_seconds", 0, 86_400) }), IsInteger: true),
    ];

    /// <summary>The environment variable that overrides each key, for docs and tests.</summary>
    public static IReadOnlyDictionary<string, string> EnvironmentVariables =>
        Keys.ToDictionary(k => k.Path, k => k.EnvironmentVariable, StringComparer.Ordinal);

    /// <summary>Loads the configuration: defaults, then the file (when given), then the environment.</summary>
    public static ServerConfig Load(string? path, IDictionary? environment = null)
    {
        var config = new ServerConfig();
        if (path is not null)
        {
            if (!File.Exists(path))
            {
                throw new ConfigurationException($"config file '{path}' does not exist (create one with `modelbox server init-config`)");
            }

            config = ApplyToml(config, File.ReadAllText(path), path);
        }

        environment ??= Environment.GetEnvironmentVariables();
        foreach (var key in Keys)
        {
            if (environment[key.EnvironmentVariable] is string value)
            {
                config = key.Set(config, value);
            }
        }

        Validate(config);
        return config;
    }

    /// <summary>Applies the keys of a TOML document; unknown keys and values of the wrong type are errors naming the key.</summary>
    public static ServerConfig ApplyToml(ServerConfig config, string toml, string source = "config")
    {
        TomlTable table;
        try
        {
            table = TomlSerializer.Deserialize<TomlTable>(toml) ?? new TomlTable();
        }
        catch (TomlException ex)
        {
            throw new ConfigurationException($"{source}: not valid TOML: {ex.Message}", ex);
        }

        foreach (var (name, value) in Flatten(table, prefix: string.Empty))
        {
            var key = Array.Find(Keys, k => k.Path == name)
                ?? throw new ConfigurationException($"{source}: unknown key '{name}' (known keys: {string.Join(", ", Keys.Select(k => k.Path))})");
            var text = (value, key.IsInteger) switch
            {
                (string s, false) => s,
                (long n, true) => Text(n),
                // A TOML boolean for the keys that hold one (s3.force_path_style); their parser checks the value.
                (bool flag, false) => flag ? "true" : "false",
                (_, true) => throw new ConfigurationException($"{source}: key '{name}' must be an integer"),
                _ => throw new ConfigurationException($"{source}: key '{name}' must be a string"),
            };
            config = key.Set(config, text);
        }

        return config;
    }

    /// <summary>The default configuration as TOML, with a comment on every key.</summary>
    public static string DefaultToml()
    {
        var defaults = new ServerConfig();
        var text = new StringBuilder();
        text.AppendLine("# ModelBox server configuration.");
        text.AppendLine("# Every key can be overridden by an environment variable: MODELBOX_ + the key path in upper snake case");
        text.AppendLine("# (listen_addr -> MODELBOX_LISTEN_ADDR, [filesystem] base_dir -> MODELBOX_FILESYSTEM_BASE_DIR).");
        string? table = null;
        foreach (var key in Keys.OrderBy(k => k.Path.Contains('.', StringComparison.Ordinal)))
        {
            var dot = key.Path.IndexOf('.', StringComparison.Ordinal);
            var keyTable = dot < 0 ? null : key.Path[..dot];
            if (keyTable != table)
            {
                text.AppendLine().Append('[').Append(keyTable).AppendLine("]");
                table = keyTable;
            }
            else
            {
                text.AppendLine();
            }

            text.Append("# ").AppendLine(key.Comment);
            text.Append("# Environment: ").AppendLine(key.EnvironmentVariable);
            var leaf = dot < 0 ? key.Path : key.Path[(dot + 1)..];
            var value = key.IsInteger ? key.Get(defaults) : "\"" + Escape(key.Get(defaults)) + "\"";
            text.Append(leaf).Append(" = ").AppendLine(value);
        }

        return text.ToString();
    }

    /// <summary>The configuration reference as a Markdown table (docs/operations.md embeds it; a test keeps them equal).</summary>
    public static string ReferenceMarkdown()
    {
        var defaults = new ServerConfig();
        var text = new StringBuilder();
        text.AppendLine("| key | default | environment variable | meaning |");
        text.AppendLine("| --- | --- | --- | --- |");
        foreach (var key in Keys)
        {
            var dot = key.Path.IndexOf('.', StringComparison.Ordinal);
            var name = dot < 0 ? key.Path : $"[{key.Path[..dot]}] {key.Path[(dot + 1)..]}";
            var value = key.Get(defaults);
            var shown = key.IsInteger ? value : $"\"{value}\"";
            text.Append("| `").Append(name).Append("` | `").Append(shown).Append("` | `").Append(key.EnvironmentVariable)
                .Append("` | ").Append(key.Comment.Replace("|", "\\|", StringComparison.Ordinal)).AppendLine(" |");
        }

        return text.ToString();
    }

    private static void Validate(ServerConfig config)
    {
        foreach (var key in Keys)
        {
            var value = key.Get(config);
            if (key.Allowed is { } allowed && !allowed.Contains(value, StringComparer.Ordinal))
            {
                throw new ConfigurationException($"{key.Path}: '{value}' is not supported; expected {string.Join(" or ", allowed.Select(a => $"\"{a}\""))}");
            }
        }

        ListenAddress.Parse(config.ListenAddr, "listen_addr");
        ListenAddress.Parse(config.PrometheusListenAddr, "prometheus.listen_addr");
        if (config.ArtifactStorage == "s3" && string.IsNullOrWhiteSpace(config.S3Bucket))
        {
            throw new ConfigurationException("s3.bucket: must be set when artifact_storage is \"s3\"");
        }

        ListenAddress.Parse(config.HttpListenAddr, "http_listen_addr");
        if (config.TlsCertFile.Length > 0 != config.TlsKeyFile.Length > 0)
        {
            throw new ConfigurationException("tls.cert_file and tls.key_file: give both, or neither");
        }

        foreach (var (file, key) in new[] { (config.TlsCertFile, "tls.cert_file"), (config.TlsKeyFile, "tls.key_file") })
        {
            if (file.Length > 0 && !File.Exists(file))
            {
                throw new ConfigurationException($"{key}: '{file}' does not exist");
            }
        }
        if (string.IsNullOrWhiteSpace(config.DataDir))
        {
            throw new ConfigurationException("data_dir: must not be empty");
        }

        if (config.OidcIssuer.Length > 0 && config.OidcAudience.Length == 0)
        {
            throw new ConfigurationException("auth.oidc_audience: must be set with auth.oidc_issuer");
        }

        switch (config.MetadataStorage)
        {
            case "postgres":
                ValidateDatabase("postgres", config.Postgres);
                break;
            case "mysql":
                ValidateDatabase("mysql", config.MySql);
                break;
        }
    }

    private static void ValidateDatabase(string table, DatabaseServerConfig database)
    {
        if (database.ConnectionString.Length > 0)
        {
            try
            {
                _ = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = database.ConnectionString };
            }
            catch (ArgumentException ex)
            {
                // The message names the key, never the string: it may hold a password.
                throw new ConfigurationException($"{table}.connection_string: not a valid connection string ({ex.Message.Split('\n')[0]})", ex);
            }

            return;
        }

        if (string.IsNullOrWhiteSpace(database.Host))
        {
            throw new ConfigurationException($"{table}.host: must not be empty (or set {table}.connection_string)");
        }

        if (string.IsNullOrWhiteSpace(database.Database))
        {
            throw new ConfigurationException($"{table}.database: must not be empty (or set {table}.connection_string)");
        }
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static long Integer(string value, string key, long min, long max) =>
        long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed) && parsed >= min && parsed <= max
            ? parsed
            : throw new ConfigurationException($"{key}: '{value}' is not an integer between {min} and {max}");

    private static int Integer(string value, string key, int min, int max) =>
        long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed) && parsed >= min && parsed <= max
            ? (int)parsed
            : throw new ConfigurationException($"{key}: '{value}' is not an integer between {min} and {max}");

    private static IEnumerable<(string Path, object? Value)> Flatten(TomlTable table, string prefix)
    {
        foreach (var (name, value) in table)
        {
            var path = prefix + name;
            if (value is TomlTable nested)
            {
                foreach (var entry in Flatten(nested, path + "."))
                {
                    yield return entry;
                }
            }
            else
            {
                yield return (path, value);
            }
        }
    }

    private static long ParsePositive(string value, string key) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number > 0
            ? number
            : throw new ConfigurationException($"{key}: '{value}' is not a positive whole number of bytes");

    private static bool ParseBool(string value, string key) => value switch
    {
        "true" => true,
        "false" => false,
        _ => throw new ConfigurationException($"{key}: '{value}' is not \"true\" or \"false\""),
    };

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
}
