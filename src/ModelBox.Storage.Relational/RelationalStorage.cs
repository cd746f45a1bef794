using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.Relational;

/// <summary>What every relational backend registers alike; each backend's own <c>Add...Storage</c> adds its dialect and change signal.</summary>
public static class RelationalStorage
{
    /// <summary>
    /// Registers the relational store over the <typeparamref name="TDialect"/> singleton as every storage port it implements
    /// (IMetadataStore, IObjectMetadataStore, IEventStore, IChangeLog, IFileRecordStore, IRegistryStore), the metric store
    /// (behind a <see cref="GroupCommitMetricStore"/> when <paramref name="groupMetricCommits"/>), and the in-process change
    /// signal the store raises after its own commits. The backend registers <see cref="IChangeSignal"/>.
    /// </summary>
    public static IServiceCollection AddRelationalStores<TDialect>(this IServiceCollection services, bool groupMetricCommits)
        where TDialect : SqlDialect
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<InProcessChangeSignal>();
        services.AddSingleton<SqlDialect>(sp => sp.GetRequiredService<TDialect>());
        services.AddSingleton(sp => new RelationalMetadataStore(
            sp.GetRequiredService<TDialect>(), sp.GetRequiredService<InProcessChangeSignal>(), sp.GetService<ILoggerFactory>()));
        services.AddSingleton<IMetadataStore>(sp => sp.GetRequiredService<RelationalMetadataStore>());
        services.AddSingleton<IObjectMetadataStore>(sp => sp.GetRequiredService<RelationalMetadataStore>());
        services.AddSingleton<IEventStore>(sp => sp.GetRequiredService<RelationalMetadataStore>());
        services.AddSingleton<IChangeLog>(sp => sp.GetRequiredService<RelationalMetadataStore>());
        services.AddSingleton<IFileRecordStore>(sp => sp.GetRequiredService<RelationalMetadataStore>());
        services.AddSingleton<IRegistryStore>(sp => sp.GetRequiredService<RelationalMetadataStore>());
        services.AddSingleton<IMlflowExperimentStore>(sp => sp.GetRequiredService<RelationalMetadataStore>());
        services.AddSingleton<IAccessStore>(sp => sp.GetRequiredService<RelationalMetadataStore>());
        services.AddSingleton<IMetricStore>(sp =>
        {
            var metrics = new RelationalMetricStore(sp.GetRequiredService<RelationalMetadataStore>());
            return groupMetricCommits ? new GroupCommitMetricStore(metrics, sp.GetService<ILoggerFactory>()) : metrics;
        });
        return services;
    }
}
