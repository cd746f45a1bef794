using Grpc.AspNetCore.Server.Model;
using Microsoft.Extensions.DependencyInjection.Extensions;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Operations;
using ModelBox.Domain.Storage;
using ModelBox.Server.Configuration;
using ModelBox.Server.Observability;
using ModelBox.Server.Services;
using ModelBox.Storage.Filesystem;
using ModelBox.Storage.S3;
using ModelBox.Storage.MySql;
using ModelBox.Storage.Postgres;
using ModelBox.Storage.Sqlite;

namespace ModelBox.Server.Hosting;

/// <summary>Registration of the ModelBox server's parts.</summary>
public static class ServiceCollectionExtensions
{
    /// <summary>Adds the domain operations, the gRPC services and the storage chosen by <paramref name="config"/>.</summary>
    public static IServiceCollection AddModelBoxServer(this IServiceCollection services, ServerConfig config)
    {
        services.AddSingleton(config);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ExperimentTracker>();
        services.AddSingleton<ModelRegistry>();
        services.AddSingleton<ModelGovernance>();
        services.AddSingleton<DatasetCatalog>();
        services.AddSingleton<LineageTracker>();
        services.AddSingleton<RegistrySearch>();
        services.AddSingleton<ObjectDetails>();
        services.AddSingleton<MetricLog>();
        services.AddSingleton<MetadataEditor>();
        services.AddSingleton<EventLog>();
        services.AddSingleton<ChangeStream>();
        services.AddSingleton(sp => new ChangeFeed(
            sp.GetRequiredService<IChangeLog>(),
            sp.GetRequiredService<IChangeSignal>(),
            new ChangeFeedOptions(WatcherBufferSize: config.WatchBufferSize)));
        services.AddSingleton(new ArtifactOptions { MaxUploadSizeBytes = config.MaxUploadSizeBytes });
        services.AddSingleton<ArtifactStore>();
        services.AddSingleton<BlobCollector>();
        services.AddHostedService<ArtifactSweeper>();
        // The service holds only singletons and no per-call state: one instance serves every call.
        services.AddSingleton<ModelStoreService>();
        services.AddGrpc(options =>
        {
            // Outermost first: telemetry sees the final status; errors map innermost.
            options.Interceptors.Add<CallTelemetryInterceptor>();
            options.Interceptors.Add<ErrorMappingInterceptor>();
            options.EnableDetailedErrors = false;
            options.MaxReceiveMessageSize = config.MaxMessageSizeBytes;
            options.MaxSendMessageSize = config.MaxMessageSizeBytes;
        }).AddJsonTranscoding();
        // Undecodable requests are INVALID_ARGUMENT, not UNKNOWN with a logged error (see ValidatingMethodProvider).
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IServiceMethodProvider<ModelStoreService>, ValidatingMethodProvider>());
        services.AddGrpcSwagger();
        services.AddSwaggerGen(options =>
        {
            options.SwaggerDoc("v1", new Microsoft.OpenApi.Models.OpenApiInfo
            {
                Title = "ModelBox REST/JSON API",
                Version = "v1",
                Description = "Every unary and server-streaming RPC of modelbox.ModelStore, transcoded from the gRPC contract.",
            });
            var protocolDocs = Path.Combine(AppContext.BaseDirectory, "ModelBox.Protocol.xml");
            if (File.Exists(protocolDocs))
            {
                options.IncludeGrpcXmlComments(protocolDocs, includeControllerXmlComments: true);
            }
        });
        services.AddGrpcReflection();
        services.AddGrpcHealthChecks(options =>
        {
            // "" and the service name report readiness (the store answers); "liveness" only that the process serves.
            options.Services.Map(string.Empty, check => check.Name == "metadata_store");
            options.Services.Map(Protocol.ModelStore.Descriptor.FullName, check => check.Name == "metadata_store");
            options.Services.Map("liveness", check => check.Name == "process");
        })
            .AddCheck<MetadataStoreHealthCheck>("metadata_store")
            .AddCheck("process", () => Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy());
        PrometheusBridge.EnsureStarted();
        _ = config.ArtifactStorage switch
        {
            "filesystem" => services.UseFilesystemBlobs(config.BlobDirectory),
            "s3" => services.UseS3Blobs(new S3BlobStoreOptions
            {
                Endpoint = config.S3Endpoint,
                Region = config.S3Region,
                Bucket = config.S3Bucket,
                AccessKeyId = config.S3AccessKeyId,
                SecretAccessKey = config.S3SecretAccessKey,
                ForcePathStyle = config.S3ForcePathStyle,
            }),
            _ => throw new ConfigurationException($"artifact_storage: '{config.ArtifactStorage}' is not supported"),
        };
        return config.MetadataStorage switch
        {
            "integrated" => services.UseSqliteMetadata(config.SqliteDatabasePath),
            "postgres" => services.AddPostgresStorage(new PostgresStorageOptions
            {
                ConnectionString = config.PostgresConnectionString,
                MaxPoolSize = config.Postgres.MaxPoolSize,
                StatementTimeoutSeconds = config.Postgres.StatementTimeoutSeconds,
            }),
            "mysql" => services.AddMySqlStorage(new MySqlStorageOptions
            {
                ConnectionString = config.MySqlConnectionString,
                MaxPoolSize = config.MySql.MaxPoolSize,
                StatementTimeoutSeconds = config.MySql.StatementTimeoutSeconds,
            }),
            _ => throw new ConfigurationException($"metadata_storage: '{config.MetadataStorage}' is not supported"),
        };
    }

    /// <summary>Stores blobs as files under <paramref name="baseDirectory"/>.</summary>
    public static IServiceCollection UseFilesystemBlobs(this IServiceCollection services, string baseDirectory)
    {
        services.AddSingleton<IBlobStore>(_ => new FilesystemBlobStore(baseDirectory));
        return services;
    }

    /// <summary>Stores blobs in an S3-compatible bucket.</summary>
    public static IServiceCollection UseS3Blobs(this IServiceCollection services, S3BlobStoreOptions options)
    {
        services.AddSingleton<IBlobStore>(_ => new S3BlobStore(options));
        return services;
    }

    /// <summary>Stores metadata in an embedded SQLite database file.</summary>
    public static IServiceCollection UseSqliteMetadata(this IServiceCollection services, string databasePath)
    {
        // One signal for the process: the store raises it after commits, the change feed listens.
        services.AddSingleton<InProcessChangeSignal>();
        services.AddSingleton<IChangeSignal>(sp => sp.GetRequiredService<InProcessChangeSignal>());
        services.AddSingleton(sp => new SqliteMetadataStore(
            new SqliteStoreOptions(databasePath),
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<InProcessChangeSignal>()));
        services.AddSingleton<IMetadataStore>(sp => sp.GetRequiredService<SqliteMetadataStore>());
        services.AddSingleton<IObjectMetadataStore>(sp => sp.GetRequiredService<SqliteMetadataStore>());
        services.AddSingleton<IEventStore>(sp => sp.GetRequiredService<SqliteMetadataStore>());
        services.AddSingleton<IRegistryStore>(sp => sp.GetRequiredService<SqliteMetadataStore>());
        services.AddSingleton<IChangeLog>(sp => sp.GetRequiredService<SqliteMetadataStore>());
        services.AddSingleton<IFileRecordStore>(sp => sp.GetRequiredService<SqliteMetadataStore>());
        // Metrics share the database file, its connections and its single writer lock with the metadata.
        services.AddSingleton<IMetricStore>(sp => new SqliteMetricStore(
            sp.GetRequiredService<SqliteMetadataStore>(),
            sp.GetRequiredService<ILoggerFactory>()));
        return services;
    }
}
