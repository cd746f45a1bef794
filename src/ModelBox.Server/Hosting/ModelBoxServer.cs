using System.Net;
using System.Reflection;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Operations;
using ModelBox.Domain.Storage;
using ModelBox.Server.Configuration;
using ModelBox.Server.Mlflow;
using ModelBox.Server.Observability;
using ModelBox.Server.Security;
using ModelBox.Server.Services;
using ModelBox.Server.WebUi;
using Prometheus;

namespace ModelBox.Server.Hosting;

/// <summary>
/// A ModelBox server: Kestrel with three listeners. gRPC is HTTP/2-only (stock gRPC clients send cleartext HTTP/2 with
/// prior knowledge, which an Http1AndHttp2 endpoint without TLS refuses); the REST/JSON API and its OpenAPI document
/// are on an HTTP/1.1 listener; Prometheus has its own. Requests are routed by the listener they arrived on.
/// </summary>
public sealed class ModelBoxServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ListenOptions _grpc;
    private readonly ListenOptions _http;
    private readonly ListenOptions _prometheus;

    private ModelBoxServer(WebApplication app, ServerConfig config, ListenOptions grpc, ListenOptions http, ListenOptions prometheus)
    {
        _app = app;
        Config = config;
        _grpc = grpc;
        _http = http;
        _prometheus = prometheus;
    }

    /// <summary>The configuration the server runs with.</summary>
    public ServerConfig Config { get; }

    /// <summary>The application's services (for tests and benchmarks).</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>The bound gRPC address as a URL, e.g. <c>http://127.0.0.1:8085</c>; known once started.</summary>
    public string GrpcAddress => Url(_grpc, Config.TlsEnabled);

    /// <summary>The bound REST/JSON address, e.g. <c>http://127.0.0.1:8081</c>.</summary>
    public string HttpAddress => Url(_http, Config.TlsEnabled);

    /// <summary>The bound Prometheus address, e.g. <c>http://127.0.0.1:2112</c>.</summary>
    public string PrometheusAddress => Url(_prometheus, tls: false);

    /// <summary>The version the server reports.</summary>
    public static string Version =>
        typeof(ModelBoxServer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>When this process started (the operating system's record, not the first time anyone asked).</summary>
    public static DateTimeOffset ProcessStartedAt { get; } = ReadProcessStart();

    /// <summary>
    /// Builds a server over the storage backends <paramref name="addStorage"/> registers (the host composes them: this
    /// library knows the storage ports, not the database drivers); <paramref name="configureLogging"/> lets hosts (the CLI,
    /// tests) choose log output.
    /// </summary>
    public static ModelBoxServer Create(ServerConfig config, Action<IServiceCollection> addStorage, Action<ILoggingBuilder>? configureLogging = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(addStorage);
        _ = ProcessStartedAt;
        var grpcAddress = ListenAddress.Parse(config.ListenAddr, "listen_addr");
        var httpAddress = ListenAddress.Parse(config.HttpListenAddr, "http_listen_addr");
        var prometheusAddress = ListenAddress.Parse(config.PrometheusListenAddr, "prometheus.listen_addr");
        var certificate = config.TlsEnabled ? LoadCertificate(config) : null;

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        if (configureLogging is null)
        {
            ConfigureDefaultLogging(builder.Logging, config.LogFormat, config.LogLevel);
        }
        else
        {
            configureLogging(builder.Logging);
        }

        // The health-check service logs every unhealthy result as an error, including the NOT_SERVING a probe gets on
        // purpose while the server drains; MetadataStoreHealthCheck logs the failures that need an operator instead.
        builder.Logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService", LogLevel.None);

        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(config.ShutdownTimeoutSeconds));
        ListenOptions? grpc = null, http = null, prometheus = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Uploads stream large files over one HTTP/2 stream: windows larger than the defaults (768 KiB / 1 MiB) keep
            // the client sending while the server writes, at a bounded cost of a few MiB per connection.
            kestrel.Limits.Http2.InitialStreamWindowSize = 4 * 1024 * 1024;
            kestrel.Limits.Http2.InitialConnectionWindowSize = 8 * 1024 * 1024;
            kestrel.Limits.Http2.MaxStreamsPerConnection = config.MaxConcurrentStreams;
            // Connections beyond what the open-file limit leaves are refused at accept, not left to fail file opens.
            kestrel.Limits.MaxConcurrentConnections = DescriptorBudget.ForThisProcess().ForConnections;
            kestrel.Listen(grpcAddress.Address, grpcAddress.Port, endpoint =>
            {
                grpc = endpoint;
                endpoint.Protocols = HttpProtocols.Http2;
                if (certificate is not null)
                {
                    endpoint.UseHttps(certificate);
                }
            });
            kestrel.Listen(httpAddress.Address, httpAddress.Port, endpoint =>
            {
                http = endpoint;
                endpoint.Protocols = certificate is null ? HttpProtocols.Http1 : HttpProtocols.Http1AndHttp2;
                if (certificate is not null)
                {
                    endpoint.UseHttps(certificate);
                }
            });
            kestrel.Listen(prometheusAddress.Address, prometheusAddress.Port, endpoint =>
            {
                prometheus = endpoint;
                endpoint.Protocols = HttpProtocols.Http1;
            });
        });
        builder.Services.AddModelBoxServer(config);
        builder.Services.AddWebUi();
        addStorage(builder.Services);

        var app = builder.Build();
        var server = new ModelBoxServer(app, config, grpc!, http!, prometheus!);
        // First: a reused HTTP/2 stream must be repaired before anything writes its response.
        app.UseHttp2StreamReuseGuard();
        app.Use(server.RouteByListener);
        app.UseRouting();
        app.UseNamespaceRouteValue();
        app.UseMetricKeyRouteValue();
        app.UseDefaultUnaryDeadline(config);
        app.MapGrpcService<ModelStoreService>().Add(ValidatingMethodProvider.PreferValidatingEndpoints);
        app.MapGrpcService<AccessService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        app.MapMetrics("/metrics");
        app.MapMlflow();
        app.MapWebUi();
        app.UseSwagger(options => options.RouteTemplate = "api/{documentName}/openapi.json");
        return server;
    }

    /// <summary>
    /// Applies pending migrations without listening (`modelbox server migrate`); returns the schema version before
    /// and after. Refuses a database whose schema is newer than this build knows.
    /// </summary>
    public async Task<(SchemaStatus Before, SchemaStatus After)> MigrateAsync(CancellationToken cancellationToken = default)
    {
        var store = _app.Services.GetRequiredService<IMetadataStore>();
        var before = await store.GetSchemaStatusAsync(cancellationToken);
        RefuseNewerSchema(before);
        // Replicas starting at once may all get here: the backend serialises migrations (a database lock), and a
        // migration already applied by another replica is skipped.
        await store.MigrateAsync(cancellationToken);
        var after = await store.GetSchemaStatusAsync(cancellationToken);
        return (before, after);
    }

    /// <summary>Migrates the store (refusing a schema newer than this build knows), then starts listening.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        var logger = _app.Services.GetRequiredService<ILogger<ModelBoxServer>>();
        var (_, schema) = await MigrateAsync(cancellationToken);
        ServerLog.SchemaReady(logger, Config.MetadataStorage, Config.MetadataLocation, schema.CurrentVersion);
        if (!Http2StreamReuseGuard.IsAvailable)
        {
            ServerLog.Http2GuardUnavailable(logger);
        }

        // Uploads a previous run left half-way are invisible; free their space. (Unreferenced committed blobs take a listing
        // of the whole store: the background sweeper does them, starting now, without holding up start-up.)
        var swept = await _app.Services.GetRequiredService<BlobCollector>().CollectTemporariesAsync(
            TimeSpan.FromSeconds(Config.ArtifactSweepGraceSeconds), cancellationToken);
        ServerLog.ArtifactStoreReady(logger, Config.ArtifactStorage, swept);

        // Watch streams never end on their own: end them (UNAVAILABLE, resumable) as soon as shutdown begins, so a graceful
        // stop does not wait out the shutdown timeout for them.
        var feed = _app.Services.GetRequiredService<ChangeFeed>();
        _app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(feed.Shutdown);

        await BootstrapAccessAsync(logger, cancellationToken);
        await _app.StartAsync(cancellationToken);
        // The bound addresses as the sockets have them (0.0.0.0 is every interface, not 127.0.0.1), with the URL a
        // local client uses next to them.
        ServerLog.Listening(logger, Version, Bound(_grpc), GrpcAddress);
        ServerLog.ListeningOn(logger, "REST/JSON", Bound(_http), HttpAddress + "/api");
        ServerLog.ListeningOn(logger, "the web UI", Bound(_http), HttpAddress + "/");
        ServerLog.ListeningOn(logger, "Prometheus metrics", Bound(_prometheus), PrometheusAddress + "/metrics");
        if (!Config.AuthEnforced && _grpc.IPEndPoint is { } endpoint && !IPAddress.IsLoopback(endpoint.Address))
        {
            SecurityLog.AuthDisabledOnNetwork(_app.Services.GetRequiredService<ILogger<AccessInterceptor>>(), Bound(_grpc));
        }
    }

    /// <summary>
    /// First start with auth enforced and no admin: creates one and writes its token to standard error once, outside the
    /// logs (which may be shipped elsewhere); `modelbox server bootstrap-admin` does the same on demand.
    /// </summary>
    private async Task BootstrapAccessAsync(ILogger logger, CancellationToken cancellationToken)
    {
        if (!Config.AuthEnforced)
        {
            return;
        }

        var created = await _app.Services.GetRequiredService<Domain.Access.AccessDirectory>().BootstrapAdminAsync(null, force: false, cancellationToken);
        if (created is { } admin)
        {
            await Console.Error.WriteLineAsync($"ModelBox admin token for {admin.Listing.PrincipalId} (shown once, store it now): {admin.Token}");
            SecurityLog.AdminBootstrapped(logger, admin.Listing.PrincipalId, admin.Listing.Prefix);
        }
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

    /// <summary>Stops accepting calls and lets in-flight calls finish, up to the shutdown timeout.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(Config.ShutdownTimeoutSeconds));
        await _app.StopAsync(timeout.Token);
    }

    private void RefuseNewerSchema(SchemaStatus status)
    {
        if (status.IsNewerThanKnown)
        {
            throw new SchemaTooNewException(
                $"the {Config.MetadataStorage} database at {Config.MetadataLocation} has schema version {status.CurrentVersion}, " +
                $"newer than version {status.LatestKnownVersion}, the newest this ModelBox {Version} knows; " +
                "it was migrated by a newer ModelBox, so run that version (this one must not write to it)");
        }
    }

    /// <summary>Disposes the host; the container disposes the store it created.</summary>
    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private Task RouteByListener(HttpContext context, RequestDelegate next)
    {
        var port = context.Connection.LocalPort;
        var path = context.Request.Path;
        var allowed = port == Port(_prometheus)
            ? path.StartsWithSegments("/metrics", StringComparison.Ordinal)
            : port != Port(_http) || path.StartsWithSegments("/api", StringComparison.Ordinal)
                || path.StartsWithSegments("/ajax-api", StringComparison.Ordinal) || WebUiEndpoints.IsUiPath(path);
        if (!allowed)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }

        return next(context);
    }

    private static int Port(ListenOptions listener) => listener.IPEndPoint?.Port ?? -1;

    private static string Bound(ListenOptions listener)
    {
        var endpoint = listener.IPEndPoint ?? throw new InvalidOperationException("the listener has no IP endpoint");
        return endpoint.Address.Equals(IPAddress.Any) ? $"{endpoint} (all IPv4 interfaces)"
            : endpoint.Address.Equals(IPAddress.IPv6Any) ? $"{endpoint} (all interfaces)"
            : endpoint.ToString();
    }

    private static DateTimeOffset ReadProcessStart()
    {
        try
        {
            using var process = System.Diagnostics.Process.GetCurrentProcess();
            return new DateTimeOffset(process.StartTime.ToUniversalTime(), TimeSpan.Zero);
        }
        catch (Exception ex) when (ex is InvalidOperationException or NotSupportedException or System.ComponentModel.Win32Exception)
        {
            // Sandboxes without /proc: the moment the server was created (Create reads this property first).
            return DateTimeOffset.UtcNow;
        }
    }

    private static string Url(ListenOptions listener, bool tls)
    {
        var endpoint = listener.IPEndPoint ?? throw new InvalidOperationException("the listener has no IP endpoint");
        var host = endpoint.Address.Equals(IPAddress.Any) || endpoint.Address.Equals(IPAddress.IPv6Any)
            ? "127.0.0.1"
            : endpoint.Address.ToString();
        if (endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && host.Contains(':', StringComparison.Ordinal))
        {
            host = $"[{host}]";
        }

        return $"{(tls ? "https" : "http")}://{host}:{endpoint.Port}";
    }

    private static X509Certificate2 LoadCertificate(ServerConfig config)
    {
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(config.TlsCertFile, config.TlsKeyFile);
            // Export and re-import: SslStream on Linux needs a certificate whose key is not ephemeral.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or IOException)
        {
            throw new ConfigurationException($"tls.cert_file / tls.key_file: cannot load a certificate and key from '{config.TlsCertFile}' and '{config.TlsKeyFile}': {ex.Message}", ex);
        }
    }

    private static void ConfigureDefaultLogging(ILoggingBuilder logging, string format, string level)
    {
        logging.SetMinimumLevel(level switch
        {
            "debug" => LogLevel.Debug,
            "warning" => LogLevel.Warning,
            "error" => LogLevel.Error,
            _ => LogLevel.Information,
        });
        if (format == "json")
        {
            logging.AddJsonConsole(o =>
            {
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
        else
        {
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                o.UseUtcTimestamp = true;
            });
        }

        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        // A failed start (a port in use) is reported once, by the command, without the host's stack trace.
        logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        logging.AddFilter("Grpc.AspNetCore", LogLevel.Warning);
    }
}
