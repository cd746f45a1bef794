using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Storage;
using ModelBox.Storage.Relational;

namespace ModelBox.Storage.MySql;

/// <summary>Registration of the MySQL/MariaDB backend.</summary>
public static class MySqlStorage
{
    /// <summary>
    /// Stores metadata, the registry, metrics, file records and the change log in MySQL or MariaDB: registers the same ports as the
    /// SQLite backend, and an IChangeSignal that wakes this process's watchers after its own commits at once and polls
    /// the change log for the commits of other replicas.
    /// </summary>
    public static IServiceCollection AddMySqlStorage(this IServiceCollection services, MySqlStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.AddSingleton(_ => new MySqlDialect(options));
        services.AddSingleton<InProcessChangeSignal>();
        services.AddSingleton(sp => new RelationalMetadataStore(
            sp.GetRequiredService<MySqlDialect>(), sp.GetRequiredService<InProcessChangeSignal>(), sp.GetService<ILoggerFactory>()));
        services.AddSingleton(sp => new PollingChangeSignal(
            sp.GetRequiredService<InProcessChangeSignal>(),
            sp.GetRequiredService<RelationalMetadataStore>(),
            options.ChangePollInterval,
            "mysql",
            sp.GetService<ILoggerFactory>()));
        services.AddSingleton<IChangeSignal>(sp => sp.GetRequiredService<PollingChangeSignal>());
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
