using Grpc.AspNetCore.Server.Model;
using Microsoft.Extensions.DependencyInjection.Extensions;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Operations;
using ModelBox.Server.Configuration;
using ModelBox.Server.Mlflow;
using ModelBox.Server.Observability;
using ModelBox.Server.Security;
using ModelBox.Server.Services;

namespace ModelBox.Server.Hosting;

/// <summary>Registration of the ModelBox server's parts.</summary>
public static class ServiceCollectionExtensions
{
    /// <summary>Adds the domain operations and the gRPC services; the host adds the storage backends (the storage ports).</summary>
    public static IServiceCollection AddModelBoxServer(this IServiceCollection services, ServerConfig config)
    {
        services.AddSingleton(config);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ExperimentTracker>();
        services.AddSingleton<ModelRegistry>();
        services.AddSingleton<ModelGovernance>();
        services.AddSingleton<DatasetCatalog>();
        services.AddSingleton<LineageTracker>();
        services.AddSingleton<RegistrySearch>();
        services.AddSingleton<ObjectDetails>();
        services.AddSingleton<MetricLog>();
        services.AddSingleton<MetadataEditor>();
        services.AddSingleton<EventLog>();
        services.AddSingleton<ChangeStream>();
        services.AddSingleton(sp => new ChangeFeed(
            sp.GetRequiredService<IChangeLog>(),
            sp.GetRequiredService<IChangeSignal>(),
            new ChangeFeedOptions(WatcherBufferSize: config.WatchBufferSize)));
        services.AddSingleton<StreamGuard>();
        services.AddSingleton(new ArtifactOptions
        {
            MaxUploadSizeBytes = config.MaxUploadSizeBytes,
            ResumableMaxBytes = config.ResumableUploadMaxBytes,
            ResumableMaxCount = config.ResumableUploadMaxCount,
        });
        services.AddSingleton<ArtifactStore>();
        services.AddSingleton<MlflowExperimentCatalog>();
        services.AddSingleton<MlflowTrackingApi>();
        services.AddSingleton<MlflowArtifactsApi>();
        services.AddSingleton<MlflowMultipartUploads>();
        services.AddSingleton<MlflowRegistryApi>();
        services.AddSingleton<MlflowRunInputsApi>();
        services.AddSingleton<BlobCollector>();
        services.AddHostedService<ArtifactSweeper>();
        // The service holds only singletons and no per-call state: one instance serves every call.
        services.AddSingleton<ModelStoreService>();
        services.AddGrpc(options =>
        {
            // Outermost first: telemetry sees the final status; errors map innermost.
            options.Interceptors.Add<CallTelemetryInterceptor>();
            options.Interceptors.Add<StreamGuardInterceptor>();
            options.Interceptors.Add<ErrorMappingInterceptor>();
            // Innermost: its refusals are domain errors the error mapping turns into statuses.
            options.Interceptors.Add<AccessInterceptor>();
            options.EnableDetailedErrors = false;
            options.MaxReceiveMessageSize = config.MaxMessageSizeBytes;
            options.MaxSendMessageSize = config.MaxMessageSizeBytes;
        }).AddJsonTranscoding();
        // Undecodable requests are INVALID_ARGUMENT, not UNKNOWN with a logged error (see ValidatingMethodProvider).
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IServiceMethodProvider<ModelStoreService>, ValidatingMethodProvider>());
        services.AddGrpcSwagger();
        services.AddSwaggerGen(options =>
        {
            options.SwaggerDoc("v1", new Microsoft.OpenApi.Models.OpenApiInfo
            {
                Title = "ModelBox REST/JSON API",
                Version = "v1",
                Description = "Every unary and server-streaming RPC of modelbox.ModelStore, transcoded from the gRPC contract.",
            });
            var protocolDocs = Path.Combine(AppContext.BaseDirectory, "ModelBox.Protocol.xml");
            if (File.Exists(protocolDocs))
            {
                options.IncludeGrpcXmlComments(protocolDocs, includeControllerXmlComments: true);
            }
        });
        services.AddModelBoxSecurity(config);
        services.AddGrpcReflection();
        services.AddGrpcHealthChecks(options =>
        {
            // "" and the service name report readiness (the store answers); "liveness" only that the process serves.
            options.Services.Map(string.Empty, check => check.Name == "metadata_store");
            options.Services.Map(Protocol.ModelStore.Descriptor.FullName, check => check.Name == "metadata_store");
            options.Services.Map("liveness", check => check.Name == "process");
        })
            .AddCheck<MetadataStoreHealthCheck>("metadata_store")
            .AddCheck("process", () => Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy());
        PrometheusBridge.EnsureStarted();
        return services;
    }
}
