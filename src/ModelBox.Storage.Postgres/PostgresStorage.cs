using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelBox.Domain.Changes;
using ModelBox.Storage.Relational;

namespace ModelBox.Storage.Postgres;

/// <summary>Registration of the PostgreSQL backend.</summary>
public static class PostgresStorage
{
    /// <summary>
    /// Stores metadata, the registry, metrics, file records and the change log in PostgreSQL: the relational store's ports
    /// over the PostgreSQL dialect, and an IChangeSignal that wakes this process's watchers after its own commits and,
    /// through LISTEN/NOTIFY, after the commits of other replicas.
    /// </summary>
    public static IServiceCollection AddPostgresStorage(this IServiceCollection services, Action<PostgresStorageOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<PostgresStorageOptions>()
            .Configure(configure)
            .Validate(options => !string.IsNullOrWhiteSpace(options.ConnectionString), "the PostgreSQL connection string is empty")
            .Validate(options => options.MaxPoolSize >= 1, "the PostgreSQL pool size must be at least 1")
            .Validate(options => options.StatementTimeoutSeconds >= 0, "the PostgreSQL statement timeout is negative")
            .ValidateOnStart();
        services.AddSingleton(sp => new PostgresDialect(sp.GetRequiredService<IOptions<PostgresStorageOptions>>().Value));
        // Appends to one series take turns on its row lock, so grouping them only queues them behind each other.
        services.AddRelationalStores<PostgresDialect>(groupMetricCommits: false);
        services.AddSingleton(sp => new PostgresChangeSignal(
            sp.GetRequiredService<InProcessChangeSignal>(), sp.GetRequiredService<PostgresDialect>(), sp.GetService<ILoggerFactory>()));
        services.AddSingleton<IChangeSignal>(sp => sp.GetRequiredService<PostgresChangeSignal>());
        return services;
    }
}
