using ModelBox.Domain.Operations;
using ModelBox.Domain.Storage;
using ModelBox.Server.Configuration;
using ModelBox.Server.Services;
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
        services.AddGrpc(options =>
        {
            options.Interceptors.Add<ErrorMappingInterceptor>();
            options.EnableDetailedErrors = false;
        });
        services.AddSingleton<Grpc.HealthCheck.HealthServiceImpl>();
        return config.MetadataStorage switch
        {
            "integrated" => services.UseSqliteMetadata(config.SqliteDatabasePath),
            _ => throw new ConfigurationException($"metadata_storage: '{config.MetadataStorage}' is not supported"),
        };
    }

    /// <summary>Stores metadata in an embedded SQLite database file.</summary>
    public static IServiceCollection UseSqliteMetadata(this IServiceCollection services, string databasePath)
    {
        services.AddSingleton<IMetadataStore>(sp => new SqliteMetadataStore(
            new SqliteStoreOptions(databasePath),
            sp.GetRequiredService<ILoggerFactory>()));
        return services;
    }
}
