using System.Collections.Concurrent;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelBox.Domain.Access;
using ModelBox.Domain.Storage;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Security;

/// <summary>
/// A server with <c>[auth] mode = "enforced"</c>, a local OIDC issuer, and one caller of every kind the access matrix
/// needs: an admin; a viewer, an editor and an owner of the team namespace; the owner of another namespace; an SSO user
/// who owns the team namespace through a group claim; and tokens that are malformed, wrong, expired or revoked.
/// Every log line the server writes is kept (a test checks no token appears in them).
/// </summary>
public sealed class AuthServerFixture : IAsyncLifetime
{
    private readonly EnforcedOidcServer _enforced;

    public AuthServerFixture()
    {
        _enforced = new EnforcedOidcServer(
            // Every call asks the store whether access changed: revocations hold at once, so tests need no waiting.
            config => config with { AuthRefreshSeconds = 0 },
            logging =>
            {
                logging.SetMinimumLevel(LogLevel.Trace);
                logging.AddProvider(new CollectingLoggerProvider(Logs));
            });
    }

    public ConcurrentQueue<string> Logs { get; } = new();

    public ModelBoxServerFixture Server => _enforced.Server;

    public LocalOidcIssuer Issuer => _enforced.Issuer;

    public string Root { get; } = "acl-" + Guid.NewGuid().ToString("N")[..8];

    public string Team => Root + "/team";

    public string Other => Root + "/other";

    /// <summary>Caller name → the bearer token it sends (null: none).</summary>
    public Dictionary<string, string?> Tokens { get; } = new(StringComparer.Ordinal);

    /// <summary>Every token this fixture made or was shown, whole: none may appear in a log line.</summary>
    public List<string> Secrets { get; } = [];

    public GrpcChannel Channel => _enforced.Channel;

    public async Task InitializeAsync()
    {
        await _enforced.InitializeAsync();
        var directory = Server.Server.Services.GetRequiredService<AccessDirectory>();
        var admin = (await directory.BootstrapAdminAsync("root", force: true))!.Value;
        Add("admin", admin.Token);
        var root = await directory.AuthenticateTokenAsync(admin.Token);
        foreach (var (user, ns, role) in new[] { ("viewer", Team, "viewer"), ("editor", Team, "editor"), ("other-owner", Other, "owner"), ("owner", Team, "owner") })
        {
            await directory.CreatePrincipalAsync(root, PrincipalKind.User, user, admin: false);
            await directory.SetGrantAsync(root, user, ns, role);
            Add(user, (await directory.CreateTokenAsync(root, user, "matrix", null)).Token);
        }

        await directory.SetGrantAsync(root, "group:ml-owners", Team, "owner");
        Add("oidc-group-user", Issuer.Token("carol", ["ml-owners", "unrelated"]));

        Tokens["no-token"] = null;
        Add("malformed", "mbx_this-is-not-a-token");
        var viewerToken = Tokens["viewer"]!;
        Add("wrong-secret", viewerToken[..^4] + (viewerToken[^4..] == "AAAA" ? "BBBB" : "AAAA"));
        var revoked = await directory.CreateTokenAsync(root, "viewer", "to revoke", null);
        await directory.RevokeTokenAsync(root, revoked.Listing.Prefix);
        Add("revoked", revoked.Token);
        // An expired token: stored with an expiry already past, as a token made earlier would be.
        var (expired, prefix) = ApiTokens.Create();
        await Server.Server.Services.GetRequiredService<IAccessStore>().CreateTokenAsync(new StoredToken(
            new ModelBox.Domain.Access.ApiToken(prefix, "user:viewer", "expired", DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddDays(-1), null, null),
            ApiTokens.Hash(expired)));
        Add("expired", expired);
        Add("expired-jwt", Issuer.Token("carol", ["ml-owners"], lifetime: TimeSpan.FromMinutes(-2)));
        Add("forged-jwt", Issuer.Token("carol", ["ml-owners"], foreignKey: true));
    }

    public global::Grpc.Core.Metadata Headers(string caller) =>
        Tokens[caller] is { } token ? new global::Grpc.Core.Metadata { { "authorization", "Bearer " + token } } : [];

    public ModelStore.ModelStoreClient Store(string caller) =>
        new(Channel.Intercept(metadata =>
        {
            foreach (var entry in Headers(caller))
            {
                metadata.Add(entry);
            }

            return metadata;
        }));

    private void Add(string caller, string token)
    {
        Tokens[caller] = token;
        Secrets.Add(token);
    }

    public Task DisposeAsync() => _enforced.DisposeAsync();

    private sealed class CollectingLoggerProvider(ConcurrentQueue<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, lines);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
        }
    }
}

[CollectionDefinition(Name)]
public sealed class AuthServerCollection : ICollectionFixture<AuthServerFixture>
{
    public const string Name = "auth-server";
}
