using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Server.Configuration;

namespace ModelBox.EndToEnd.Tests.Security;

/// <summary>
/// A server with <c>[auth] mode = "enforced"</c> and a local OIDC issuer whose JWTs it accepts (discovery over plain HTTP,
/// on loopback). Failed authentications are not rate limited: the tests make many on purpose.
/// </summary>
/// <param name="configure">More settings on top (e.g. the access refresh interval).</param>
/// <param name="configureLogging">More logging set-up (a test that reads every log line).</param>
public sealed class EnforcedOidcServer(Func<ServerConfig, ServerConfig>? configure = null, Action<ILoggingBuilder>? configureLogging = null)
    : IAsyncLifetime
{
    private ModelBoxServerFixture? _server;

    public LocalOidcIssuer Issuer { get; } = new();

    public ModelBoxServerFixture Server => _server ?? throw new InvalidOperationException("not started");

    public GrpcChannel Channel { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Issuer.StartAsync();
        _server = new ModelBoxServerFixture
        {
            Configure = config => (configure ?? (c => c))(config with
            {
                AuthMode = "enforced",
                AuthFailuresPerMinute = 1_000_000,
                OidcIssuer = Issuer.Issuer,
                OidcAudience = LocalOidcIssuer.Audience,
                OidcRequireHttps = false,
            }),
            ConfigureLogging = configureLogging,
        };
        await _server.InitializeAsync();
        Channel = GrpcChannel.ForAddress(_server.Address);
    }

    public async Task DisposeAsync()
    {
        Channel?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        await Issuer.DisposeAsync();
    }
}
