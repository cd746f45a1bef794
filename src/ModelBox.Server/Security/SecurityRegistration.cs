using Grpc.AspNetCore.Server;
using Microsoft.IdentityModel.Tokens;
using ModelBox.Domain;
using ModelBox.Domain.Access;
using ModelBox.Server.Configuration;
using ModelBox.Server.Mlflow;

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

    /// <summary>
    /// The HTTP routes that are not transcoded RPCs (the MLflow API) have no per-namespace rules yet: with auth enforced
    /// they need an admin's token. Transcoded routes are authorised by the <see cref="AccessInterceptor"/> like gRPC calls.
    /// </summary>
    public static IApplicationBuilder UseMlflowAdminGuard(this IApplicationBuilder app, ServerConfig config)
    {
        if (!config.AuthEnforced)
        {
            return app;
        }

        return app.Use(async (context, next) =>
        {
            var path = context.Request.Path;
            if (!MlflowEndpoints.Prefixes.Any(prefix => path.StartsWithSegments(prefix, StringComparison.Ordinal))
                || context.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>() is not null)
            {
                await next(context);
                return;
            }

            var authenticator = context.RequestServices.GetRequiredService<BearerAuthenticator>();
            CallerAccess caller;
            try
            {
                caller = await authenticator.AuthenticateAsync(context, path.Value ?? string.Empty, context.RequestAborted);
            }
            catch (ModelBoxException exception)
            {
                await MlflowJson.WriteErrorAsync(context, MlflowErrorCodes.Of(exception.Kind), exception.Message);
                return;
            }

            if (caller.IsAnonymous)
            {
                await MlflowJson.WriteErrorAsync(context, MlflowErrorCodes.Unauthenticated, "the MLflow API needs an admin's token while auth is enforced: send 'Authorization: Bearer <token>'");
                return;
            }

            if (!caller.Admin)
            {
                await MlflowJson.WriteErrorAsync(context, MlflowErrorCodes.PermissionDenied, $"{caller.PrincipalId} is not an admin; the MLflow API needs one while auth is enforced");
                return;
            }

            await next(context);
        });
    }
}
