using System.Collections.Concurrent;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using ModelBox.Server.Configuration;
using ModelBox.Server.Hosting;
using ModelBox.Cli.Hosting;

namespace ModelBox.EndToEnd.Tests.Infrastructure;

/// <summary>
/// A real ModelBox server (Kestrel, HTTP/2 cleartext) on a random loopback port with its own temporary data folder.
/// Errors the server logs are collected; the fixture fails when any was logged (grpc-dotnet's VerifyNoErrorsScope idea).
/// </summary>
public sealed class ModelBoxServerFixture : IAsyncLifetime
{
    private readonly ErrorCollector _errors = new();
    private ModelBoxServer? _server;

    /// <summary>Changes the settings; for a server of its own that a test starts and disposes itself.</summary>
    public Func<ServerConfig, ServerConfig> Configure { get; init; } = config => config;

    /// <summary>More logging set-up (a test that reads every log line adds a provider and lowers the level).</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }

    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), "modelbox-e2e-" + Guid.NewGuid().ToString("N"));

    /// <summary>The server's URL, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public string Address { get; private set; } = string.Empty;

    /// <summary>The REST/JSON listener's URL.</summary>
    public string HttpAddress { get; private set; } = string.Empty;

    /// <summary>The Prometheus listener's URL.</summary>
    public string PrometheusAddress { get; private set; } = string.Empty;

    /// <summary>The running server (for tests that need its services).</summary>
    public ModelBoxServer Server => _server ?? throw new InvalidOperationException("not started");

    /// <summary>The server's <c>host:port</c>, as the CLI and non-.NET clients take it.</summary>
    public string HostPort => new Uri(Address).Authority;

    /// <summary>Errors the server logged so far.</summary>
    public IReadOnlyCollection<string> LoggedErrors => _errors.Errors;

    public ModelBox.Protocol.ModelStore.ModelStoreClient CreateGrpcClient(out GrpcChannel channel)
    {
        channel = GrpcChannel.ForAddress(Address);
        return new ModelBox.Protocol.ModelStore.ModelStoreClient(channel);
    }

    public async Task InitializeAsync()
    {
        var config = Configure(new ServerConfig
        {
            ListenAddr = "127.0.0.1:0",
            HttpListenAddr = "127.0.0.1:0",
            PrometheusListenAddr = "127.0.0.1:0",
            DataDir = DataDir,
        });
        _server = ServerStorage.CreateServer(config, logging =>
        {
            logging.SetMinimumLevel(LogLevel.Warning);
            logging.AddProvider(_errors);
            ConfigureLogging?.Invoke(logging);
        });
        await _server.StartAsync();
        Address = _server.GrpcAddress;
        HttpAddress = _server.HttpAddress;
        PrometheusAddress = _server.PrometheusAddress;
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.StopAsync();
            await _server.DisposeAsync();
        }

        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }

        if (!_errors.Errors.IsEmpty)
        {
            throw new InvalidOperationException("the server logged errors:\n" + string.Join("\n", _errors.Errors));
        }
    }

    private sealed class ErrorCollector : ILoggerProvider
    {
        public ConcurrentQueue<string> Errors { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Errors);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<string> errors) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (logLevel >= LogLevel.Error)
                {
                    errors.Enqueue($"{category}: {formatter(state, exception)} {exception}");
                }
            }
        }
    }
}

/// <summary>Tests in this collection share one server.</summary>
[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<ModelBoxServerFixture>
{
    public const string Name = "server";
}
