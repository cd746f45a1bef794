using System.Reflection;
using Grpc.Health.V1;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using ModelBox.Domain.Storage;
using ModelBox.Server.Configuration;
using ModelBox.Server.Services;

namespace ModelBox.Server.Hosting;

/// <summary>
/// A ModelBox server: Kestrel with an HTTP/2-only gRPC listener (stock gRPC clients send cleartext HTTP/2 with prior
/// knowledge, which an Http1AndHttp2 endpoint without TLS refuses), the ModelStore service, health, and the store.
/// </summary>
public sealed class ModelBoxServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ModelBoxServer(WebApplication app, ServerConfig config)
    {
        _app = app;
        Config = config;
    }

    /// <summary>The configuration the server runs with.</summary>
    public ServerConfig Config { get; }

    /// <summary>The application's services (for tests and benchmarks).</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>The bound gRPC address as a URL, e.g. <c>http://127.0.0.1:8085</c>; known once started.</summary>
    public string GrpcAddress =>
        _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
        ?? throw new InvalidOperationException("the server has not started");

    /// <summary>The version the server reports.</summary>
    public static string Version =>
        typeof(ModelBoxServer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>Builds a server; <paramref name="configureLogging"/> lets hosts (the CLI, tests) choose log output.</summary>
    public static ModelBoxServer Create(ServerConfig config, Action<ILoggingBuilder>? configureLogging = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var listen = ListenAddress.Parse(config.ListenAddr, "listen_addr");
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        if (configureLogging is null)
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                o.UseUtcTimestamp = true;
            });
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
            builder.Logging.AddFilter("Grpc.AspNetCore", LogLevel.Warning);
            builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        }
        else
        {
            configureLogging(builder.Logging);
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(listen.Address, listen.Port, endpoint => endpoint.Protocols = HttpProtocols.Http2);
        });
        builder.Services.AddModelBoxServer(config);

        var app = builder.Build();
        app.MapGrpcService<ModelStoreService>();
        app.MapGrpcService<Grpc.HealthCheck.HealthServiceImpl>();
        return new ModelBoxServer(app, config);
    }

    /// <summary>Migrates the store, then starts listening.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        var logger = _app.Services.GetRequiredService<ILogger<ModelBoxServer>>();
        var store = _app.Services.GetRequiredService<IMetadataStore>();
        await store.MigrateAsync(cancellationToken);
        ServerLog.SchemaReady(logger, Config.MetadataStorage, Config.SqliteDatabasePath);

        var health = _app.Services.GetRequiredService<Grpc.HealthCheck.HealthServiceImpl>();
        health.SetStatus(string.Empty, HealthCheckResponse.Types.ServingStatus.Serving);
        health.SetStatus(Protocol.ModelStore.Descriptor.FullName, HealthCheckResponse.Types.ServingStatus.Serving);

        await _app.StartAsync(cancellationToken);
        ServerLog.Listening(logger, Version, GrpcAddress);
    }

    /// <summary>Runs until <paramref name="cancellationToken"/> fires or the process gets SIGINT/SIGTERM.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        await StartAsync(cancellationToken);
        var lifetime = _app.Services.GetRequiredService<IHostApplicationLifetime>();
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onStopping = lifetime.ApplicationStopping.Register(() => stopped.TrySetResult());
        using var onCancel = cancellationToken.Register(() => stopped.TrySetResult());
        await stopped.Task;
        ServerLog.Stopping(_app.Services.GetRequiredService<ILogger<ModelBoxServer>>());
        await StopAsync(CancellationToken.None);
    }

    /// <summary>Stops accepting calls and lets in-flight calls finish.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        var health = _app.Services.GetRequiredService<Grpc.HealthCheck.HealthServiceImpl>();
        health.SetStatus(string.Empty, HealthCheckResponse.Types.ServingStatus.NotServing);
        await _app.StopAsync(cancellationToken);
    }

    /// <summary>Disposes the host; the container disposes the store it created.</summary>
    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
