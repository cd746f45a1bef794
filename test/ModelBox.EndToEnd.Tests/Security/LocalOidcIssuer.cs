using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ModelBox.EndToEnd.Tests.Security;

/// <summary>
/// A minimal OpenID Connect issuer on loopback: a discovery document and a JWKS with a key made here, and JWTs signed
/// with it. Enough for ASP.NET Core's JWT bearer handler to discover and validate tokens, with no internet.
/// </summary>
public sealed class LocalOidcIssuer : IAsyncDisposable
{
    private readonly List<RSA> _retired = [];
    private RSA _rsa = RSA.Create(2048);
    private RsaSecurityKey _key;
    private WebApplication? _app;

    public LocalOidcIssuer() => _key = NewKey(_rsa);

    /// <summary>The key id new tokens are signed with (the only key the JWKS publishes).</summary>
    public string KeyId => _key.KeyId;

    /// <summary>
    /// Rotates the signing key: a new key with a new id signs new tokens and replaces the old one in the JWKS. Returns the
    /// old key, to sign tokens an attacker might still hold.
    /// </summary>
    public SecurityKey RotateKey()
    {
        var old = _key;
        _retired.Add(_rsa);
        _rsa = RSA.Create(2048);
        _key = NewKey(_rsa);
        return old;
    }

    private static RsaSecurityKey NewKey(RSA rsa) => new(rsa) { KeyId = "test-key-" + Guid.NewGuid().ToString("N")[..8] };

    /// <summary>The issuer URL (also its <c>iss</c> claim).</summary>
    public string Issuer { get; private set; } = string.Empty;

    public const string Audience = "modelbox-test";

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = Issuer,
            ["jwks_uri"] = Issuer + "/jwks",
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        }));
        _app.MapGet("/jwks", () =>
        {
            var (rsa, key) = (_rsa, _key);
            var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(rsa.ExportParameters(false)) { KeyId = key.KeyId });
            return Results.Text(
                JsonSerializer.Serialize(new { keys = new[] { new { kty = jwk.Kty, kid = jwk.Kid, use = "sig", alg = "RS256", n = jwk.N, e = jwk.E } } }),
                "application/json");
        });
        await _app.StartAsync();
        Issuer = _app.Urls.Single().TrimEnd('/');
    }

    /// <summary>A JWT for <paramref name="user"/> in <paramref name="groups"/>, signed by this issuer (or by a stranger's key).</summary>
    public string Token(
        string user, string[] groups, TimeSpan? lifetime = null, bool foreignKey = false, string audience = Audience, SecurityKey? signingKey = null)
    {
        var now = DateTime.UtcNow;
        using var stranger = RSA.Create(2048);
        var key = signingKey ?? (foreignKey ? new RsaSecurityKey(stranger) { KeyId = _key.KeyId } : _key);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = audience,
            IssuedAt = now.AddMinutes(-5),
            NotBefore = now.AddMinutes(-5),
            Expires = now + (lifetime ?? TimeSpan.FromMinutes(30)),
            Subject = new ClaimsIdentity([new Claim("sub", "sub-" + user), new Claim("preferred_username", user)]),
            Claims = new Dictionary<string, object> { ["groups"] = groups },
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        _rsa.Dispose();
        foreach (var retired in _retired)
        {
            retired.Dispose();
        }
    }
}
