using System.Collections.Frozen;
using ModelBox.Domain;
using ModelBox.Domain.Access;
using ModelBox.Domain.Operations;
using ModelBox.Server.Security;
using static ModelBox.Server.Security.AccessTarget;

namespace ModelBox.Server.Mlflow;

/// <summary>
/// Access rules of the MLflow API when auth is enforced, checked through the same <see cref="AccessGate"/> as gRPC and
/// REST calls. An MLflow experiment is a ModelBox namespace and a run an experiment in it (docs/mlflow.md), so reading
/// needs viewer on that namespace, writing editor, deleting and restoring (and model aliases) owner. Registered models
/// live in the namespace <c>default</c>. <c>experiments/search</c> answers only the experiments the caller may read;
/// <c>runs/search</c> needs viewer on every experiment it names. A test fails when an endpoint has no rule.
/// </summary>
internal static class MlflowAccess
{
    private delegate ValueTask<IEnumerable<AccessTarget>> Targets(MlflowRequest request, HttpContext context);

    /// <summary>How one endpoint is authorised: a role on targets, or (null role) any caller with some access, the answer filtered.</summary>
    private sealed record Rule(Role? Role, Targets Targets);

    private static readonly FrozenDictionary<string, Rule> s_rules = Build();

    /// <summary>The endpoints that have a rule (a test compares them with every endpoint served).</summary>
    public static IEnumerable<string> Covered => s_rules.Keys;

    /// <summary>Authenticates the caller of an MLflow request and checks the endpoint's rule; nothing when auth is off.</summary>
    public static async Task CheckAsync(HttpContext context, MlflowEndpoint endpoint, MlflowRequest request)
    {
        var gate = context.RequestServices.GetRequiredService<AccessGate>();
        if (!gate.Enforced)
        {
            return;
        }

        var operation = "mlflow " + endpoint.Name;
        if (!s_rules.TryGetValue(endpoint.Name, out var rule))
        {
            throw new ModelBoxException(ErrorKind.PermissionDenied, $"{operation} has no access rule; it is refused while auth is enforced");
        }

        var caller = (await gate.AuthenticateAsync(context, operation, context.RequestAborted)).Current;
        if (rule.Role is not { } role)
        {
            if (caller.IsAnonymous && caller.Grants.Count == 0)
            {
                throw AccessGate.NeedsToken();
            }

            return;
        }

        IEnumerable<AccessTarget> targets;
        try
        {
            targets = await rule.Targets(request, context);
        }
        catch (Exception e) when (e is ModelBoxException { Kind: ErrorKind.NotFound } || (e is MlflowException m && m.ErrorCode == MlflowErrorCodes.ResourceDoesNotExist))
        {
            if (caller.Admin)
            {
                // An admin gets the endpoint's own answer for what does not exist.
                return;
            }

            throw gate.Denied(caller, operation, "it names an experiment or run that does not exist or that the caller may not see");
        }

        await gate.RequireAsync(caller, role, targets, operation, context.RequestAborted);
    }

    /// <summary>Only the MLflow experiments (namespaces) the caller may read; all of them when auth is off.</summary>
    public static bool MayRead(HttpContext context, string @namespace) => CallerSession.Of(context)?.Current.CanRead(@namespace) ?? true;

    private static FrozenDictionary<string, Rule> Build()
    {
        var rules = new Dictionary<string, Rule>(StringComparer.Ordinal);
        void Add(string name, Role? role, Targets targets) => rules.Add(name, new Rule(role, targets));

        Add("experiments/create", Role.Editor, (r, _) => Done(InNamespace(MlflowExperimentCatalog.NamespaceFor(r.RequiredString("name")))));
        Add("experiments/get", Role.Viewer, Experiment("experiment_id"));
        Add("experiments/get-by-name", Role.Viewer, ExperimentByNameAsync);
        Add("experiments/search", null, None);
        Add("experiments/list", null, None);
        Add("experiments/update", Role.Editor, Experiment("experiment_id"));
        Add("experiments/delete", Role.Owner, Experiment("experiment_id"));
        Add("experiments/restore", Role.Owner, Experiment("experiment_id"));
        Add("experiments/set-experiment-tag", Role.Editor, Experiment("experiment_id"));
        Add("experiments/delete-experiment-tag", Role.Editor, Experiment("experiment_id"));
        Add("runs/create", Role.Editor, Experiment("experiment_id", orDefault: true));
        Add("runs/get", Role.Viewer, Run);
        Add("runs/update", Role.Editor, Run);
        Add("runs/delete", Role.Owner, Run);
        Add("runs/restore", Role.Owner, Run);
        Add("runs/search", Role.Viewer, ExperimentsAsync);
        Add("runs/log-metric", Role.Editor, Run);
        Add("runs/log-parameter", Role.Editor, Run);
        Add("runs/set-tag", Role.Editor, Run);
        Add("runs/delete-tag", Role.Editor, Run);
        Add("runs/log-batch", Role.Editor, Run);
        Add("metrics/get-history", Role.Viewer, Run);
        Add("metrics/get-history-bulk-interval", Role.Viewer, (r, _) => Done([.. r.Strings("run_ids").Select(id => Of(MlflowRunMapping.ExperimentId(id, "run_ids")))]));
        Add("runs/log-inputs", Role.Editor, Run);
        Add("runs/log-model", Role.Editor, Run);
        Add("artifacts/list", Role.Viewer, Run);
        Add("mlflow-artifacts/artifacts (PUT)", Role.Editor, ArtifactPath);
        Add("mlflow-artifacts/artifacts (GET)", Role.Viewer, ArtifactPath);
        Add("mlflow-artifacts/artifacts (DELETE)", Role.Owner, ArtifactPath);
        Add("mlflow-artifacts/artifacts (list)", Role.Viewer, (r, _) => Done(RunOfArtifactPath(r.String("path"))));
        Add("mlflow-artifacts/mpu/create", Role.Editor, ArtifactPath);
        Add("mlflow-artifacts/mpu/complete", Role.Editor, ArtifactPath);
        Add("mlflow-artifacts/mpu/abort", Role.Editor, ArtifactPath);
        Add("mlflow-artifacts/mpu/part (PUT)", Role.Editor, async (_, context) =>
            [Of(await context.RequestServices.GetRequiredService<MlflowMultipartUploads>()
                .RunOfUploadAsync(context.Request.RouteValues["upload"] as string, context.RequestAborted))]);

        // The registry's models are those of one namespace: reading needs viewer there, changing editor, deleting and
        // aliases owner (as SetModelAlias); a version made from a run also needs that run readable.
        var registry = InNamespace(MlflowRegistryApi.Namespace);
        Targets inRegistry = (_, _) => Done(registry);
        foreach (var read in new[] { "registered-models/get", "registered-models/search", "registered-models/get-latest-versions", "registered-models/alias (GET)",
                     "model-versions/get", "model-versions/search", "model-versions/get-download-uri" })
        {
            Add(read, Role.Viewer, inRegistry);
        }

        foreach (var write in new[] { "registered-models/create", "registered-models/update", "registered-models/set-tag", "registered-models/delete-tag",
                     "registered-models/rename", "model-versions/update", "model-versions/set-tag", "model-versions/delete-tag", "model-versions/transition-stage" })
        {
            Add(write, Role.Editor, inRegistry);
        }

        foreach (var owned in new[] { "registered-models/delete", "registered-models/alias (POST)", "registered-models/alias (DELETE)", "model-versions/delete" })
        {
            Add(owned, Role.Owner, inRegistry);
        }

        Add("model-versions/create", Role.Editor, (r, _) => Done(r.String("run_id") is { Length: > 0 } run ? [registry, Of(MlflowRunMapping.ExperimentId(run))] : [registry]));
        return rules.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static ValueTask<IEnumerable<AccessTarget>> Done(params AccessTarget[] targets) => ValueTask.FromResult<IEnumerable<AccessTarget>>(targets);

    private static ValueTask<IEnumerable<AccessTarget>> None(MlflowRequest request, HttpContext context) => Done();

    /// <summary>The run a request names (<c>run_id</c>, or MLflow's older <c>run_uuid</c>): the ModelBox experiment.</summary>
    private static ValueTask<IEnumerable<AccessTarget>> Run(MlflowRequest request, HttpContext context) =>
        Done(Of(MlflowTrackingApi.RunIdOf(request)));

    /// <summary>The namespace of the MLflow experiment whose id is in <paramref name="field"/>.</summary>
    private static Targets Experiment(string field, bool orDefault = false) => async (request, context) =>
    {
        var id = request.String(field) is { Length: > 0 } given ? given : orDefault ? "0" : throw MlflowException.Missing(field);
        return [await NamespaceOfAsync(id, context)];
    };

    private static async ValueTask<IEnumerable<AccessTarget>> ExperimentsAsync(MlflowRequest request, HttpContext context)
    {
        var targets = new List<AccessTarget>();
        foreach (var id in request.Strings("experiment_ids").Take(MlflowLimits.MaxExperimentIdsPerSearch))
        {
            targets.Add(await NamespaceOfAsync(id, context));
        }

        return targets;
    }

    private static async Task<AccessTarget> NamespaceOfAsync(string experimentId, HttpContext context)
    {
        var record = await context.RequestServices.GetRequiredService<MlflowExperimentCatalog>()
            .GetAsync(MlflowTrackingApi.ExperimentNumber(experimentId), context.RequestAborted);
        return InNamespace(record.Namespace);
    }

    private static async ValueTask<IEnumerable<AccessTarget>> ExperimentByNameAsync(MlflowRequest request, HttpContext context)
    {
        var name = request.RequiredString("experiment_name");
        var record = await context.RequestServices.GetRequiredService<MlflowExperimentCatalog>().GetByNameAsync(name, context.RequestAborted);
        return [InNamespace(record.Namespace)];
    }

    private static ValueTask<IEnumerable<AccessTarget>> ArtifactPath(MlflowRequest request, HttpContext context) =>
        Done(RunOfArtifactPath(context.Request.RouteValues["path"] as string));

    /// <summary><c>EXPERIMENT/RUN/artifacts/...</c> → the run; other layouts name nothing (the endpoint refuses them).</summary>
    private static AccessTarget[] RunOfArtifactPath(string? path)
    {
        var parts = (path ?? string.Empty).Trim('/').Split('/', 4);
        return parts.Length >= 2 ? [Of(MlflowRunMapping.ExperimentId(parts[1]))] : [];
    }
}
