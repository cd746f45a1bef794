using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelBox.Domain.Changes;
using ModelBox.Storage.Relational;

namespace ModelBox.Storage.Sqlite;

/// <summary>Registration of the embedded SQLite backend.</summary>
public static class SqliteStorage
{
    /// <summary>
    /// Stores metadata, the registry, metrics, file records and the change log in one SQLite file: the relational store's
    /// ports over the SQLite dialect, metric appends grouped into shared commits, and the in-process change signal (one
    /// process writes the file, so its own commits are all the wake-ups there are).
    /// </summary>
    public static IServiceCollection AddSqliteStorage(this IServiceCollection services, Action<SqliteStorageOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<SqliteStorageOptions>()
            .Configure(configure)
            .Validate(options => !string.IsNullOrWhiteSpace(options.DatabasePath), "the SQLite database path is empty")
            .Validate(options => options.BusyTimeoutMilliseconds >= 0, "the SQLite busy timeout is negative")
            .Validate(options => options.Synchronous is "normal" or "full", "the SQLite synchronous level is not \"normal\" or \"full\"")
            .ValidateOnStart();
        services.AddSingleton(sp => new SqliteDialect(sp.GetRequiredService<IOptions<SqliteStorageOptions>>().Value));
        services.AddRelationalStores<SqliteDialect>(groupMetricCommits: true);
        services.AddSingleton<IChangeSignal>(sp => sp.GetRequiredService<InProcessChangeSignal>());
        return services;
    }
}
