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
        }

        return services;
    }
}
