using System.Collections.Concurrent;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using ModelBox.Domain;
using ModelBox.Domain.Access;
using ModelBox.Server.Configuration;

namespace ModelBox.Server.Security;

/// <summary>
/// Turns the <c>authorization</c> header of a call (gRPC metadata or HTTP header: the same pipeline) into a
/// <see cref="CallerAccess"/>: a ModelBox API token, a JWT from the configured OpenID Connect issuer, or nothing (an
/// anonymous caller, who has the public grants only). Failures count against the client's address; past
/// <c>auth.failures_per_minute</c> its calls are refused before any token is looked at.
/// </summary>
public sealed class BearerAuthenticator : IDisposable
{
    /// <summary>The authentication scheme of OpenID Connect JWTs.</summary>
    public const string OidcScheme = "oidc";

    private readonly AccessDirectory _directory;
    private readonly ServerConfig _config;
    private readonly ILogger _logger;
    private const int MaxTrackedAddresses = 10_000;
    private static readonly TimeSpan FailureWindow = TimeSpan.FromMinutes(1);
    private readonly PartitionedRateLimiter<IPAddress> _failures;
    private readonly ConcurrentDictionary<IPAddress, long> _failedRecently = new();

    public BearerAuthenticator(AccessDirectory directory, ServerConfig config, ILogger<BearerAuthenticator> logger)
    {
        _directory = directory;
        _config = config;
        _logger = logger;
        _failures = PartitionedRateLimiter.Create<IPAddress, IPAddress>(address => RateLimitPartition.GetFixedWindowLimiter(
            address,
            _ => new FixedWindowRateLimiterOptions { PermitLimit = config.AuthFailuresPerMinute, Window = FailureWindow, QueueLimit = 0 }));
    }

    /// <summary>Authenticates the request; throws Unauthenticated (or ResourceExhausted for a throttled address).</summary>
    public async ValueTask<CallerAccess> AuthenticateAsync(HttpContext http, string method, CancellationToken cancellationToken)
    {
        var peer = http.Connection.RemoteIpAddress ?? IPAddress.None;
        // Only an address that failed within the last window can be over its limit: the others skip the limiter's locks.
        if (_failedRecently.TryGetValue(peer, out var failedAt) && TimeProvider.System.GetElapsedTime(failedAt) < FailureWindow)
        {
            using var probe = _failures.AttemptAcquire(peer, 0);
            if (!probe.IsAcquired)
            {
                throw new ModelBoxException(
                    ErrorKind.ResourceExhausted,
                    $"too many failed authentications from {peer} (auth.failures_per_minute = {_config.AuthFailuresPerMinute}); wait a minute");
            }
        }

        try
        {
            return await AuthenticateHeaderAsync(http, cancellationToken);
        }
        catch (ModelBoxException exception) when (exception.Kind == ErrorKind.Unauthenticated)
        {
            SecurityLog.AuthenticationFailed(_logger, method, peer.ToString(), exception.Message);
            if (_failedRecently.Count >= MaxTrackedAddresses)
            {
                _failedRecently.Clear();
            }

            _failedRecently[peer] = TimeProvider.System.GetTimestamp();
            using var lease = _failures.AttemptAcquire(peer);
            if (!lease.IsAcquired)
            {
                SecurityLog.AuthenticationThrottled(_logger, peer.ToString(), _config.AuthFailuresPerMinute);
            }

            throw;
        }
    }

    private async ValueTask<CallerAccess> AuthenticateHeaderAsync(HttpContext http, CancellationToken cancellationToken)
    {
        var header = http.Request.Headers.Authorization.ToString();
        if (header.Length == 0)
        {
            return await _directory.AnonymousAsync(cancellationToken);
        }

        const string Bearer = "Bearer ";
        if (!header.StartsWith(Bearer, StringComparison.OrdinalIgnoreCase))
        {
            throw Unauthenticated("the authorization header must be 'Bearer <token>'");
        }

        var token = header[Bearer.Length..].Trim();
        if (token.StartsWith(ApiTokens.Scheme, StringComparison.Ordinal) || _config.OidcIssuer.Length == 0)
        {
            return await _directory.AuthenticateTokenAsync(token, cancellationToken);
        }

        var result = await http.AuthenticateAsync(OidcScheme);
        if (!result.Succeeded || result.Principal is not { } user)
        {
            // The handler's message names what failed (signature, lifetime, audience), never the token.
            throw Unauthenticated($"the bearer token is not a valid JWT from {_config.OidcIssuer}: {result.Failure?.Message ?? "no token"}");
        }

        var name = user.FindFirst(_config.OidcUserClaim)?.Value;
        if (string.IsNullOrEmpty(name))
        {
            throw Unauthenticated($"the JWT has no '{_config.OidcUserClaim}' claim (auth.oidc_user_claim) to name the user");
        }

        var groups = user.FindAll(_config.OidcGroupsClaim).Select(claim => claim.Value).Where(value => value.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        return await _directory.AccessOfExternalAsync(Principals.Id(PrincipalKind.User, Validation.Required(name, "user claim")), groups, cancellationToken);
    }

    private static ModelBoxException Unauthenticated(string message) => new(ErrorKind.Unauthenticated, message);

    public void Dispose() => _failures.Dispose();
}
