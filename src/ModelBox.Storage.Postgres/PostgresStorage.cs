using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Storage;
using ModelBox.Storage.Relational;

namespace ModelBox.Storage.Postgres;

/// <summary>Registration of the PostgreSQL backend.</summary>
public static class PostgresStorage
{
    /// <summary>
    /// Stores metadata, the registry, metrics, file records and the change log in PostgreSQL: registers the same ports as the
    /// SQLite backend (IMetadataStore, IObjectMetadataStore, IEventStore, IChangeLog, IFileRecordStore, IRegistryStore,
    /// IMetricStore) and an IChangeSignal that wakes this process's watchers after its own commits and, through
    /// LISTEN/NOTIFY, after the commits of other replicas.
    /// </summary>
    public static IServiceCollection AddPostgresStorage(this IServiceCollection services, PostgresStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.AddSingleton(_ => new PostgresDialect(options));
        services.AddSingleton<InProcessChangeSignal>();
        services.AddSingleton(sp => new PostgresChangeSignal(
            sp.GetRequiredService<InProcessChangeSignal>(), sp.GetRequiredService<PostgresDialect>(), sp.GetService<ILoggerFactory>()));
        services.AddSingleton<IChangeSignal>(sp => sp.GetRequiredService<PostgresChangeSignal>());
        services.AddSingleton(sp => new RelationalMetadataStore(
            sp.GetRequiredService<PostgresDialect>(), sp.GetRequiredService<InProcessChangeSignal>(), sp.GetService<ILoggerFactory>()));
        services.AddSingleton<IMetadataStore>(sp => sp.GetRequiredService<RelationalMetadataStore>());
        services.AddSingleton<IObjectMetadataStore>(sp => sp.GetRequiredService<RelationalMetadataStore>());
        services.AddSingleton<IEventStore>(sp => sp.GetRequiredService<RelationalMetadataStore>());
        services.AddSingleton<IChangeLog>(sp => sp.GetRequiredService<RelationalMetadataStore>());
        services.AddSingleton<IFileRecordStore>(sp => sp.GetRequiredService<RelationalMetadataStore>());
        services.AddSingleton<IRegistryStore>(sp => sp.GetRequiredService<RelationalMetadataStore>());
        services.AddSingleton<IMetricStore>(sp => new RelationalMetricStore(sp.GetRequiredService<RelationalMetadataStore>()));
        return services;
    }
}
