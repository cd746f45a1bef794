using ModelBox.Domain;

namespace ModelBox.Server.Mlflow;

/// <summary>One MLflow REST endpoint this server answers: its path below the API prefix, the methods MLflow's client uses, its handler.</summary>
public sealed record MlflowEndpoint(string Path, string[] Methods, Func<MlflowTrackingApi, HttpContext, MlflowRequest, Task> Handler);

/// <summary>
/// MLflow's REST API on the HTTP listener, under <c>/api/2.0/mlflow/</c> and <c>/ajax-api/2.0/mlflow/</c> (the web UI's
/// prefix). Every failure answers in MLflow's shape; an unknown path under the prefixes is ENDPOINT_NOT_FOUND.
/// </summary>
public static class MlflowEndpoints
{
    public static readonly string[] Prefixes = ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"];

    private static readonly string[] Read = ["GET", "POST"];
    private static readonly string[] Write = ["POST"];

    /// <summary>Every endpoint served (the coverage test and docs/mlflow.md list the same).</summary>
    public static IReadOnlyList<MlflowEndpoint> All { get; } =
    [
        new("experiments/create", Write, (api, c, r) => api.CreateExperimentAsync(c, r)),
        new("experiments/get", Read, (api, c, r) => api.GetExperimentAsync(c, r)),
        new("experiments/get-by-name", Read, (api, c, r) => api.GetExperimentByNameAsync(c, r)),
        new("experiments/search", Read, (api, c, r) => api.SearchExperimentsAsync(c, r)),
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
    ];

    public static IEndpointRouteBuilder MapMlflow(this IEndpointRouteBuilder routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        foreach (var prefix in Prefixes)
        {
            foreach (var endpoint in All)
            {
                routes.MapMethods($"{prefix}/{endpoint.Path}", endpoint.Methods, context => HandleAsync(context, endpoint.Handler));
            }

            routes.Map(prefix + "/{**rest}", context => MlflowJson.WriteErrorAsync(
                context, MlflowErrorCodes.EndpointNotFound, $"{context.Request.Method} {context.Request.Path} is not an endpoint of this server's MLflow API"));
        }

        return routes;
    }

    private static async Task HandleAsync(HttpContext context, Func<MlflowTrackingApi, HttpContext, MlflowRequest, Task> handler)
    {
        var api = context.RequestServices.GetRequiredService<MlflowTrackingApi>();
        try
        {
            var request = await MlflowRequest.ReadAsync(context.Request, context.RequestAborted);
            await handler(api, context, request);
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
