using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelBox.Cli.Hosting;
using ModelBox.Domain.Storage;
using ModelBox.Server.Configuration;
using ModelBox.Storage.Relational;
using ModelBox.Storage.Sqlite;

namespace ModelBox.Cli.ServerCommands;

/// <summary>
/// The storage of one configuration, opened by a maintenance command (verify, backup, restore, copy-data) without
/// starting a server: the metadata database (its dialect and store) and the blob store, as the server would compose them.
/// </summary>
internal sealed class Deployment : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private Deployment(ServerConfig config, ServiceProvider services)
    {
        Config = config;
        _services = services;
    }

    public ServerConfig Config { get; }

    public SqlDialect Dialect => _services.GetRequiredService<SqlDialect>();

    public IMetadataStore Store => _services.GetRequiredService<IMetadataStore>();

    public IFileRecordStore Files => _services.GetRequiredService<IFileRecordStore>();

    public IBlobStore Blobs => _services.GetRequiredService<IBlobStore>();

    /// <summary>Where the metadata lives, for messages.</summary>
    public string Describe => $"{Config.MetadataStorage} at {Config.MetadataLocation} with {Config.ArtifactStorage} blobs";

    /// <summary>
    /// Opens the storage of <paramref name="config"/>. <paramref name="readOnly"/> opens the embedded database read-only,
    /// beside a server that may be running on it (it must exist then).
    /// </summary>
    public static Deployment Open(ServerConfig config, bool readOnly)
    {
        if (readOnly && config.MetadataStorage == "integrated" && !File.Exists(config.SqliteDatabasePath))
        {
            throw new ConfigurationException($"data_dir: there is no ModelBox database at {config.SqliteDatabasePath}");
        }

        var services = new ServiceCollection()
            .AddLogging(logging => logging.AddSimpleConsole(o => o.SingleLine = true)
                .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
                .SetMinimumLevel(LogLevel.Warning))
            .AddSingleton(TimeProvider.System)
            .AddServerStorage(config, readOnly)
            .BuildServiceProvider();
        return new Deployment(config, services);
    }

    /// <summary>The embedded database's dialect when the metadata is in SQLite, else null.</summary>
    public SqliteDialect? Sqlite => Dialect as SqliteDialect;

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}
