using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelBox.Server.Configuration;
using ModelBox.Server.Hosting;
using ModelBox.Storage.Filesystem;
using ModelBox.Storage.MySql;
using ModelBox.Storage.Postgres;
using ModelBox.Storage.S3;
using ModelBox.Storage.Sqlite;

namespace ModelBox.Cli.Hosting;

/// <summary>
/// The executable composes the server: the server library knows the storage ports, and this class picks the backends
/// (each registers itself) from the configuration.
/// </summary>
public static class ServerStorage
{
    /// <summary>A server over the storage <paramref name="config"/> names.</summary>
    public static ModelBoxServer CreateServer(ServerConfig config, Action<ILoggingBuilder>? configureLogging = null) =>
        ModelBoxServer.Create(config, services => services.AddServerStorage(config), configureLogging);

    /// <summary>Registers the metadata backend and the blob store <paramref name="config"/> names.</summary>
    /// <remarks>With <paramref name="readOnlyMetadata"/> the embedded database is opened read-only (tools beside a running server).</remarks>
    public static IServiceCollection AddServerStorage(this IServiceCollection services, ServerConfig config, bool readOnlyMetadata = false)
    {
        ArgumentNullException.ThrowIfNull(config);
        _ = config.ArtifactStorage switch
        {
            "filesystem" => services.AddFilesystemBlobs(options => options.BaseDirectory = config.BlobDirectory),
            "s3" => services.AddS3Blobs(options =>
            {
                options.Endpoint = config.S3Endpoint;
                options.Region = config.S3Region;
                options.Bucket = config.S3Bucket;
                options.AccessKeyId = config.S3AccessKeyId;
                options.SecretAccessKey = config.S3SecretAccessKey;
                options.ForcePathStyle = config.S3ForcePathStyle;
            }),
            _ => throw new ConfigurationException($"artifact_storage: '{config.ArtifactStorage}' is not supported"),
        };
        return config.MetadataStorage switch
        {
            "integrated" => services.AddSqliteStorage(options =>
            {
                options.DatabasePath = config.SqliteDatabasePath;
                options.Synchronous = config.StorageSynchronous;
                options.ReadOnly = readOnlyMetadata;
            }),
            "postgres" => services.AddPostgresStorage(options =>
            {
                options.ConnectionString = config.PostgresConnectionString;
                options.MaxPoolSize = config.Postgres.MaxPoolSize;
                options.StatementTimeoutSeconds = config.Postgres.StatementTimeoutSeconds;
            }),
            "mysql" => services.AddMySqlStorage(options =>
            {
                options.ConnectionString = config.MySqlConnectionString;
                options.MaxPoolSize = config.MySql.MaxPoolSize;
                options.StatementTimeoutSeconds = config.MySql.StatementTimeoutSeconds;
            }),
            _ => throw new ConfigurationException($"metadata_storage: '{config.MetadataStorage}' is not supported"),
        };
    }
}
