using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.Tokens;
using ModelBox.Domain.Access;
using ModelBox.Server.Configuration;

namespace ModelBox.Server.Security;

/// <summary>Registration of access control: the directory and its caches, the authenticator, the Access service, SSO.</summary>
internal static class SecurityRegistration
{
    public static IServiceCollection AddModelBoxSecurity(this IServiceCollection services, ServerConfig config)
    {
        services.AddSingleton(sp => new AccessDirectory(
            sp.GetRequiredService<Domain.Storage.IAccessStore>(),
            sp.GetRequiredService<TimeProvider>(),
            AccessDirectoryOptions.Default with { RefreshInterval = TimeSpan.FromSeconds(config.AuthRefreshSeconds) }));
        services.AddSingleton<ObjectNamespaces>();
        services.AddSingleton<BearerAuthenticator>();
        services.AddSingleton<AccessGate>();
        services.AddSingleton<AccessService>();
        if (config.OidcIssuer.Length > 0)
        {
            // The handler is only asked explicitly (BearerAuthenticator), for bearer tokens that are not ModelBox tokens.
            services.AddAuthentication().AddJwtBearer(BearerAuthenticator.OidcScheme, options =>
            {
                options.Authority = config.OidcIssuer;
                options.Audience = config.OidcAudience;
                options.RequireHttpsMetadata = config.OidcRequireHttps;
                options.MapInboundClaims = false;
                // Key rotation: a token whose key id the cached JWKS lacks makes the handler fetch discovery and JWKS again
                // (RefreshOnIssuerKeyNotFound), at most this often; the default (5 minutes) would refuse tokens of a freshly
                // rotated key for that long. The keys are also fetched again every 12 hours (AutomaticRefreshInterval).
                options.RefreshOnIssuerKeyNotFound = true;
                options.RefreshInterval = TimeSpan.FromSeconds(10);
                options.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidateIssuer = true,
                    ValidIssuer = config.OidcIssuer,
                    ValidateAudience = true,
                    ValidAudience = config.OidcAudience,
                    ValidateLifetime = true,
                    ClockSkew = TimeSpan.FromSeconds(30),
                };
            });

            // No "last known good" configuration: IdentityModel would otherwise keep validating tokens against the keys it
            // saw before a refresh (for an hour by default), so a key the provider removed after a compromise would stay
            // accepted. Runs after the handler's own post-configuration, which creates the configuration manager.
            services.PostConfigure<JwtBearerOptions>(BearerAuthenticator.OidcScheme, options =>
            {
                if (options.ConfigurationManager is BaseConfigurationManager manager)
                {
                    manager.UseLastKnownGoodConfiguration = false;
                }
            });
        }

        return services;
    }
}
