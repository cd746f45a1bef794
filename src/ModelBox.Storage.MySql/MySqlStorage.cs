using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelBox.Domain.Changes;
using ModelBox.Storage.Relational;

namespace ModelBox.Storage.MySql;

/// <summary>Registration of the MySQL/MariaDB backend.</summary>
public static class MySqlStorage
{
    /// <summary>
    /// Stores metadata, the registry, metrics, file records and the change log in MySQL or MariaDB: the relational store's
    /// ports over the MySQL dialect, and an IChangeSignal that wakes this process's watchers after its own commits at once
    /// and polls the change log for the commits of other replicas.
    /// </summary>
    public static IServiceCollection AddMySqlStorage(this IServiceCollection services, Action<MySqlStorageOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<MySqlStorageOptions>()
            .Configure(configure)
            .Validate(options => !string.IsNullOrWhiteSpace(options.ConnectionString), "the MySQL connection string is empty")
            .Validate(options => options.MaxPoolSize >= 1, "the MySQL pool size must be at least 1")
            .Validate(options => options.StatementTimeoutSeconds >= 0, "the MySQL statement timeout is negative")
            .Validate(options => options.ChangePollInterval > TimeSpan.Zero, "the MySQL change poll interval must be positive")
            .ValidateOnStart();
        services.AddSingleton(sp => new MySqlDialect(sp.GetRequiredService<IOptions<MySqlStorageOptions>>().Value));
        services.AddRelationalStores<MySqlDialect>(groupMetricCommits: false);
        services.AddSingleton(sp => new PollingChangeSignal(
            sp.GetRequiredService<InProcessChangeSignal>(),
            sp.GetRequiredService<RelationalMetadataStore>(),
            sp.GetRequiredService<IOptions<MySqlStorageOptions>>().Value.ChangePollInterval,
            "mysql",
            sp.GetService<ILoggerFactory>()));
        services.AddSingleton<IChangeSignal>(sp => sp.GetRequiredService<PollingChangeSignal>());
        return services;
    }
}
