using ModelBox.Domain;

namespace ModelBox.Server.Mlflow;

/// <summary>
/// One MLflow REST endpoint this server answers. <paramref name="Name"/> is how docs/mlflow.md and the tests call it (the
/// path below <c>/api/2.0/mlflow/</c> for the tracking API); <paramref name="Route"/> is the route below <c>/api/2.0/</c>.
/// A <paramref name="RawBody"/> endpoint reads its body itself (artifact uploads); the others get it parsed.
/// </summary>
public sealed record MlflowEndpoint(string Name, string Route, string[] Methods, bool RawBody, Func<HttpContext, MlflowRequest, Task> Handler)
{
    public MlflowEndpoint(string path, string[] methods, Func<MlflowTrackingApi, HttpContext, MlflowRequest, Task> handler)
        : this(path, "mlflow/" + path, methods, RawBody: false, (context, request) => handler(context.RequestServices.GetRequiredService<MlflowTrackingApi>(), context, request))
    {
    }
}

/// <summary>
/// MLflow's REST API on the HTTP listener, under <c>/api/2.0/mlflow/</c> and <c>/ajax-api/2.0/mlflow/</c> (the web UI's
/// prefix). Every failure answers in MLflow's shape; an unknown path under the prefixes is ENDPOINT_NOT_FOUND.
/// </summary>
public static class MlflowEndpoints
{
    /// <summary>Where MLflow's APIs live: the client's prefix and the web UI's.</summary>
    public static readonly string[] Prefixes = ["/api/2.0", "/ajax-api/2.0"];

    /// <summary>The APIs below a prefix; an unknown path below one of them is ENDPOINT_NOT_FOUND.</summary>
    private static readonly string[] Apis = ["mlflow", "mlflow-artifacts"];

    private static readonly string[] Read = ["GET", "POST"];
    private static readonly string[] Write = ["POST"];

    /// <summary>Every endpoint served (the coverage test and docs/mlflow.md list the same).</summary>
    public static IReadOnlyList<MlflowEndpoint> All { get; } =
    [
        new("experiments/create", Write, (api, c, r) => api.CreateExperimentAsync(c, r)),
        new("experiments/get", Read, (api, c, r) => api.GetExperimentAsync(c, r)),
        new("experiments/get-by-name", Read, (api, c, r) => api.GetExperimentByNameAsync(c, r)),
        new("experiments/search", Read, (api, c, r) => api.SearchExperimentsAsync(c, r)),
        new("experiments/list", Read, (api, c, r) => api.SearchExperimentsAsync(c, r)),
        new("experiments/update", Write, (api, c, r) => api.UpdateExperimentAsync(c, r)),
        new("experiments/delete", Write, (api, c, r) => api.DeleteExperimentAsync(c, r)),
        new("experiments/restore", Write, (api, c, r) => api.RestoreExperimentAsync(c, r)),
        new("experiments/set-experiment-tag", Write, (api, c, r) => api.SetExperimentTagAsync(c, r)),
        new("experiments/delete-experiment-tag", Write, (api, c, r) => api.DeleteExperimentTagAsync(c, r)),
        new("runs/create", Write, (api, c, r) => api.CreateRunAsync(c, r)),
        new("runs/get", Read, (api, c, r) => api.GetRunAsync(c, r)),
        new("runs/update", Write, (api, c, r) => api.UpdateRunAsync(c, r)),
        new("runs/delete", Write, (api, c, r) => api.DeleteRunAsync(c, r)),
        new("runs/restore", Write, (api, c, r) => api.RestoreRunAsync(c, r)),
        new("runs/search", Read, (api, c, r) => api.SearchRunsAsync(c, r)),
        new("runs/log-metric", Write, (api, c, r) => api.LogMetricAsync(c, r)),
        new("runs/log-parameter", Write, (api, c, r) => api.LogParameterAsync(c, r)),
        new("runs/set-tag", Write, (api, c, r) => api.SetTagAsync(c, r)),
        new("runs/delete-tag", Write, (api, c, r) => api.DeleteTagAsync(c, r)),
        new("runs/log-batch", Write, (api, c, r) => api.LogBatchAsync(c, r)),
        new("metrics/get-history", Read, (api, c, r) => api.GetMetricHistoryAsync(c, r)),
        new("metrics/get-history-bulk-interval", Read, (api, c, r) => api.GetMetricHistoryBulkIntervalAsync(c, r)),
        new("runs/log-inputs", "mlflow/runs/log-inputs", Write, RawBody: false, (c, r) => Inputs(c).LogInputsAsync(c, r)),
        new("runs/log-model", "mlflow/runs/log-model", Write, RawBody: false, (c, r) => Inputs(c).LogModelAsync(c, r)),
        new("artifacts/list", "mlflow/artifacts/list", Read, RawBody: false, (c, r) => Artifacts(c).ListRunArtifactsAsync(c, r)),
        new("mlflow-artifacts/artifacts (PUT)", "mlflow-artifacts/artifacts/{**path}", ["PUT"], RawBody: true, (c, _) => Artifacts(c).UploadAsync(c)),
        new("mlflow-artifacts/artifacts (GET)", "mlflow-artifacts/artifacts/{**path}", ["GET"], RawBody: false, (c, _) => Artifacts(c).DownloadAsync(c)),
        new("mlflow-artifacts/artifacts (DELETE)", "mlflow-artifacts/artifacts/{**path}", ["DELETE"], RawBody: true, (c, _) => Artifacts(c).DeleteAsync(c)),
        new("mlflow-artifacts/artifacts (list)", "mlflow-artifacts/artifacts", ["GET"], RawBody: false, (c, r) => Artifacts(c).ListAsync(c, r)),
        new("mlflow-artifacts/mpu/create", "mlflow-artifacts/mpu/create/{**path}", Write, RawBody: false, (c, r) => Multipart(c).CreateAsync(c, r)),
        new("mlflow-artifacts/mpu/part (PUT)", "mlflow-artifacts/mpu/part/{upload}/{part}", ["PUT"], RawBody: true, (c, _) => Multipart(c).UploadPartAsync(c)),
        new("mlflow-artifacts/mpu/complete", "mlflow-artifacts/mpu/complete/{**path}", Write, RawBody: false, (c, r) => Multipart(c).CompleteAsync(c, r)),
        new("mlflow-artifacts/mpu/abort", "mlflow-artifacts/mpu/abort/{**path}", Write, RawBody: false, (c, r) => Multipart(c).AbortAsync(c, r)),
        Registry("registered-models/create", Write, (api, c, r) => api.CreateModelAsync(c, r)),
        Registry("registered-models/get", Read, (api, c, r) => api.GetModelAsync(c, r)),
        Registry("registered-models/update", ["PATCH"], (api, c, r) => api.UpdateModelAsync(c, r)),
        Registry("registered-models/rename", Write, (api, c, r) => api.RenameModelAsync(c, r)),
        Registry("registered-models/delete", ["DELETE"], (api, c, r) => api.DeleteModelAsync(c, r)),
        Registry("registered-models/search", Read, (api, c, r) => api.SearchModelsAsync(c, r)),
        Registry("registered-models/get-latest-versions", Read, (api, c, r) => api.GetLatestVersionsAsync(c, r)),
        Registry("registered-models/set-tag", Write, (api, c, r) => api.SetModelTagAsync(c, r)),
        Registry("registered-models/delete-tag", ["DELETE"], (api, c, r) => api.DeleteModelTagAsync(c, r)),
        Registry("registered-models/alias", ["POST"], (api, c, r) => api.SetAliasAsync(c, r), "registered-models/alias (POST)"),
        Registry("registered-models/alias", ["DELETE"], (api, c, r) => api.DeleteAliasAsync(c, r), "registered-models/alias (DELETE)"),
        Registry("registered-models/alias", ["GET"], (api, c, r) => api.GetVersionByAliasAsync(c, r), "registered-models/alias (GET)"),
        Registry("model-versions/create", Write, (api, c, r) => api.CreateVersionAsync(c, r)),
        Registry("model-versions/get", Read, (api, c, r) => api.GetVersionAsync(c, r)),
        Registry("model-versions/update", ["PATCH"], (api, c, r) => api.UpdateVersionAsync(c, r)),
        Registry("model-versions/delete", ["DELETE"], (api, c, r) => api.DeleteVersionAsync(c, r)),
        Registry("model-versions/search", Read, (api, c, r) => api.SearchVersionsAsync(c, r)),
        Registry("model-versions/set-tag", Write, (api, c, r) => api.SetVersionTagAsync(c, r)),
        Registry("model-versions/delete-tag", ["DELETE"], (api, c, r) => api.DeleteVersionTagAsync(c, r)),
        Registry("model-versions/get-download-uri", Read, (api, c, r) => api.GetDownloadUriAsync(c, r)),
        Registry("model-versions/transition-stage", Write, (api, c, r) => api.TransitionStageAsync(c, r)),
    ];

    private static MlflowEndpoint Registry(string path, string[] methods, Func<MlflowRegistryApi, HttpContext, MlflowRequest, Task> handler, string? name = null) =>
        new(name ?? path, "mlflow/" + path, methods, RawBody: false, (c, r) => handler(c.RequestServices.GetRequiredService<MlflowRegistryApi>(), c, r));

    private static MlflowRunInputsApi Inputs(HttpContext context) => context.RequestServices.GetRequiredService<MlflowRunInputsApi>();

    private static MlflowArtifactsApi Artifacts(HttpContext context) => context.RequestServices.GetRequiredService<MlflowArtifactsApi>();

    private static MlflowMultipartUploads Multipart(HttpContext context) => context.RequestServices.GetRequiredService<MlflowMultipartUploads>();

    public static IEndpointRouteBuilder MapMlflow(this IEndpointRouteBuilder routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        foreach (var prefix in Prefixes)
        {
            foreach (var endpoint in All)
            {
                routes.MapMethods($"{prefix}/{endpoint.Route}", endpoint.Methods, context => HandleAsync(context, endpoint));
            }

            foreach (var api in Apis)
            {
                routes.Map($"{prefix}/{api}/{{**rest}}", context => MlflowJson.WriteErrorAsync(
                    context, MlflowErrorCodes.EndpointNotFound, $"{context.Request.Method} {context.Request.Path} is not an endpoint of this server's MLflow API"));
            }
        }

        return routes;
    }

    private static async Task HandleAsync(HttpContext context, MlflowEndpoint endpoint)
    {
        try
        {
            var request = endpoint.RawBody ? MlflowRequest.Of(context.Request.Query) : await MlflowRequest.ReadAsync(context.Request, context.RequestAborted);
            await MlflowAccess.CheckAsync(context, endpoint, request);
            await endpoint.Handler(context, request);
        }
        catch (MlflowException e) when (!context.Response.HasStarted)
        {
            await MlflowJson.WriteErrorAsync(context, e.ErrorCode, e.Message);
        }
        catch (ModelBoxException e) when (!context.Response.HasStarted)
        {
            await MlflowJson.WriteErrorAsync(context, MlflowErrorCodes.Of(e.Kind), e.Message);
        }
    }
}
