using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ModelBox.Domain;
using ModelBox.Domain.Operations;
using ModelBox.Domain.Search;
using ModelBox.Domain.Storage;

namespace ModelBox.Server.Mlflow;

/// <summary>
/// MLflow's tracking API (experiments, runs, metrics) over ModelBox's domain operations: maps requests, checks MLflow's
/// limits, delegates. The mapping is in <see cref="MlflowRunMapping"/> and docs/mlflow.md.
/// </summary>
public sealed class MlflowTrackingApi(
    MlflowExperimentCatalog experiments,
    ExperimentTracker runs,
    MetricLog metrics,
    MetadataEditor metadata,
    RegistrySearch search)
{
    public const int MaxBulkRuns = 100;
    public const int DefaultBulkPoints = 320;
    public const int MaxBulkPoints = 2500;

    private static readonly string[] Adjectives = ["able", "bold", "calm", "eager", "fair", "glad", "keen", "lucid", "merry", "neat", "proud", "quick", "sly", "tidy", "vast", "wise"];
    private static readonly string[] Animals = ["ant", "bat", "carp", "doe", "eel", "fox", "gnu", "hen", "ibis", "jay", "koi", "lynx", "mole", "newt", "owl", "pug"];

    // ---------------------------------------------------------------- experiments

    public async Task CreateExperimentAsync(HttpContext context, MlflowRequest request)
    {
        var name = request.RequiredString("name");
        var tags = ExperimentTags(request.KeyValues("tags"));
        var created = await experiments.CreateAsync(name, request.String("artifact_location"), tags, context.RequestAborted);
        if (created.Existed)
        {
            throw new MlflowException(MlflowErrorCodes.ResourceAlreadyExists, $"Experiment(name={name}) already exists.");
        }

        await MlflowJson.WriteAsync(context, w => w.WriteString("experiment_id", Number(created.Value.Number)));
    }

    public async Task GetExperimentAsync(HttpContext context, MlflowRequest request)
    {
        var record = await experiments.GetAsync(ExperimentNumber(request.RequiredString("experiment_id")), context.RequestAborted);
        await MlflowJson.WriteAsync(context, w =>
        {
            w.WritePropertyName("experiment");
            MlflowJson.WriteExperiment(w, record);
        });
    }

    public async Task GetExperimentByNameAsync(HttpContext context, MlflowRequest request)
    {
        var name = request.RequiredString("experiment_name");
        MlflowExperimentRecord record;
        try
        {
            record = await experiments.GetByNameAsync(name, context.RequestAborted);
        }
        catch (ModelBoxException e) when (e.Kind == ErrorKind.NotFound)
        {
            throw MlflowException.NotFound($"Could not find experiment with name '{name}'");
        }

        await MlflowJson.WriteAsync(context, w =>
        {
            w.WritePropertyName("experiment");
            MlflowJson.WriteExperiment(w, record);
        });
    }

    public async Task SearchExperimentsAsync(HttpContext context, MlflowRequest request)
    {
        var maxResults = MlflowLimits.MaxResults(request.Long("max_results"), MlflowLimits.DefaultSearchExperiments);
        var viewType = ViewType(request.String("view_type"));
        var filter = MlflowExperimentFilter.Parse(request.String("filter"));
        var order = MlflowExperimentFilter.Order(request.Strings("order_by"));
        var offset = Offset(request.String("page_token"));

        var all = new List<MlflowExperimentRecord>();
        string? token = null;
        do
        {
            var page = await experiments.ListAsync(new PageRequest(PageRequest.MaxPageSize, token), context.RequestAborted);
            all.AddRange(page.Items);
            token = page.NextPageToken;
        }
        while (token is not null);

        // With auth enforced, only the experiments (namespaces) the caller may read.
        var matching = order(all.Where(r => MlflowAccess.MayRead(context, r.Namespace)).Where(r => viewType switch
        {
            "ACTIVE_ONLY" => r.DeletedAt is null,
            "DELETED_ONLY" => r.DeletedAt is not null,
            _ => true,
        }).Where(filter)).ToList();
        var pageItems = matching.Skip(offset).Take(maxResults).ToList();
        var next = offset + pageItems.Count < matching.Count ? NextOffset(offset + pageItems.Count) : null;
        await MlflowJson.WriteAsync(context, w =>
        {
            w.WriteStartArray("experiments");
            foreach (var record in pageItems)
            {
                MlflowJson.WriteExperiment(w, record);
            }

            w.WriteEndArray();
            if (next is not null)
            {
                w.WriteString("next_page_token", next);
            }
        });
    }

    public async Task UpdateExperimentAsync(HttpContext context, MlflowRequest request)
    {
        var number = ExperimentNumber(request.RequiredString("experiment_id"));
        var newName = request.String("new_name");
        if (!string.IsNullOrEmpty(newName))
        {
            await experiments.RenameAsync(number, newName, context.RequestAborted);
        }

        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task DeleteExperimentAsync(HttpContext context, MlflowRequest request)
    {
        await experiments.DeleteAsync(ExperimentNumber(request.RequiredString("experiment_id")), context.RequestAborted);
        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task RestoreExperimentAsync(HttpContext context, MlflowRequest request)
    {
        await experiments.RestoreAsync(ExperimentNumber(request.RequiredString("experiment_id")), context.RequestAborted);
        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task SetExperimentTagAsync(HttpContext context, MlflowRequest request)
    {
        var number = ExperimentNumber(request.RequiredString("experiment_id"));
        var key = MlflowLimits.Key(request.String("key"), "key");
        var value = MlflowLimits.Value(request.String("value"), "Tag value", key, MlflowLimits.MaxTagValueLength);
        await experiments.SetTagAsync(number, key, value, context.RequestAborted);
        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task DeleteExperimentTagAsync(HttpContext context, MlflowRequest request)
    {
        var number = ExperimentNumber(request.RequiredString("experiment_id"));
        await experiments.DeleteTagAsync(number, MlflowLimits.Key(request.String("key"), "key"), context.RequestAborted);
        await MlflowJson.WriteEmptyAsync(context);
    }

    // ---------------------------------------------------------------- runs

    public async Task CreateRunAsync(HttpContext context, MlflowRequest request)
    {
        var cancellationToken = context.RequestAborted;
        var number = ExperimentNumber(request.String("experiment_id") is { Length: > 0 } id ? id : "0");
        var experiment = await experiments.GetAsync(number, cancellationToken);
        if (experiment.DeletedAt is not null)
        {
            throw MlflowException.Invalid($"The experiment {number} must be in the 'active' state. Current state is deleted.");
        }

        var tags = RunTags(request.KeyValues("tags"));
        var runName = request.String("run_name");
        if (string.IsNullOrEmpty(runName))
        {
            runName = tags.TryGetValue(MlflowRunMapping.RunNameTag, out var tagged) && tagged.Length > 0 ? tagged : GeneratedRunName();
        }
        else if (tags.TryGetValue(MlflowRunMapping.RunNameTag, out var tagged) && !string.Equals(tagged, runName, StringComparison.Ordinal))
        {
            throw MlflowException.Invalid($"Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='{runName}', mlflow.runName='{tagged}').");
        }

        if (runName.Length > MlflowLimits.MaxRunNameLength)
        {
            throw MlflowException.Invalid($"run_name had length {runName.Length}, which exceeded length limit of {MlflowLimits.MaxRunNameLength}");
        }

        tags[MlflowRunMapping.RunNameTag] = runName;
        var userId = request.String("user_id") ?? string.Empty;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in tags)
        {
            values[MlflowRunMapping.TagPrefix + key] = MlflowRunMapping.Json(value);
        }

        if (request.Long("start_time") is { } startTime)
        {
            values[MlflowRunMapping.StartTimeKey] = MlflowRunMapping.Json(startTime);
        }

        // MLflow allows two runs of one name; a ModelBox experiment's id comes from its name, so a taken name gets a suffix.
        var name = runName;
        for (var attempt = 0; ; attempt++)
        {
            var created = await runs.CreateExperimentAsync(
                new NewExperiment(experiment.Namespace, name, userId, Framework.Unknown, null, null, null, values), cancellationToken);
            if (!created.Existed)
            {
                await WriteRunAsync(context, created.Value);
                return;
            }

            if (attempt == 8)
            {
                throw new MlflowException(MlflowErrorCodes.InternalError, $"could not find a free name for run '{runName}'");
            }

            name = $"{runName}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
        }
    }

    /// <summary>runs/get: a deleted run answers with lifecycle_stage "deleted", as MLflow's does (its metrics are hidden with it).</summary>
    public async Task GetRunAsync(HttpContext context, MlflowRequest request)
    {
        var id = RunIdOf(request);
        Experiment run;
        try
        {
            run = await runs.GetExperimentOrDeletedAsync(id, context.RequestAborted);
        }
        catch (ModelBoxException e) when (e.Kind == ErrorKind.NotFound)
        {
            throw MlflowException.NotFound($"Run with id={MlflowRunMapping.RunId(id)} not found");
        }

        if (run.DeletedAt is null)
        {
            await WriteRunAsync(context, run);
            return;
        }

        await MlflowJson.WriteAsync(context, w =>
        {
            w.WritePropertyName("run");
            MlflowJson.WriteRun(w, run, []);
        });
    }

    public async Task UpdateRunAsync(HttpContext context, MlflowRequest request)
    {
        var cancellationToken = context.RequestAborted;
        var id = RunIdOf(request);
        var run = await GetRunAsync(id, cancellationToken);
        var status = request.String("status") is { Length: > 0 } text ? MlflowRunMapping.ParseStatus(text) : (ExperimentStatus?)null;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (request.Long("end_time") is { } endTime)
        {
            values[MlflowRunMapping.EndTimeKey] = MlflowRunMapping.Json(endTime);
        }

        if (request.String("run_name") is { Length: > 0 } runName)
        {
            values[MlflowRunMapping.TagPrefix + MlflowRunMapping.RunNameTag] = MlflowRunMapping.Json(MlflowLimits.Value(runName, "run_name", "run_name", MlflowLimits.MaxRunNameLength));
        }

        if (values.Count > 0)
        {
            await metadata.UpdateMetadataAsync(id, values, cancellationToken);
        }

        if (status is not null && status != run.Status)
        {
            await runs.UpdateExperimentAsync(id, new ExperimentChanges(status, null, null), cancellationToken);
        }

        run = await GetRunAsync(id, cancellationToken);
        await MlflowJson.WriteAsync(context, w => MlflowJson.WriteRunInfo(w, "run_info", run));
    }

    public async Task DeleteRunAsync(HttpContext context, MlflowRequest request)
    {
        await runs.DeleteExperimentAsync(RunIdOf(request), context.RequestAborted);
        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task RestoreRunAsync(HttpContext context, MlflowRequest request)
    {
        await runs.RestoreExperimentAsync(RunIdOf(request), context.RequestAborted);
        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task SearchRunsAsync(HttpContext context, MlflowRequest request)
    {
        var cancellationToken = context.RequestAborted;
        var experimentIds = request.Strings("experiment_ids");
        if (experimentIds.Count == 0)
        {
            throw MlflowException.Invalid("experiment_ids must name at least one experiment");
        }

        if (experimentIds.Count > MlflowLimits.MaxExperimentIdsPerSearch)
        {
            throw MlflowException.Invalid($"experiment_ids names {experimentIds.Count} experiments; the limit is {MlflowLimits.MaxExperimentIdsPerSearch}");
        }

        var maxResults = MlflowLimits.MaxResults(request.Long("max_results"), MlflowLimits.DefaultSearchRuns);
        var viewType = ViewType(request.String("run_view_type"));
        var ordering = RunOrder(request.Strings("order_by"));
        var orderBy = ordering.Database;
        var query = MlflowRunFilter.Parse(request.String("filter"));
        var filter = query.Where;

        FilterNode? scope = null;
        foreach (var experimentId in experimentIds.Distinct(StringComparer.Ordinal))
        {
            var record = await experiments.GetAsync(ExperimentNumber(experimentId), cancellationToken);
            var inNamespace = new ComparisonNode(
                new FieldRef(FieldSource.Attribute, SearchAttribute.Namespace, "namespace", 0), ComparisonOperator.Equal, new FilterValue(record.Namespace, 0));
            scope = scope is null ? inNamespace : new OrNode(scope, inNamespace);
        }

        var found = new List<Experiment>();
        string? next = null;
        // Deleted runs are hidden from ModelBox's search: DELETED_ONLY finds none (docs/mlflow.md).
        if (viewType != "DELETED_ONLY")
        {
            var where = filter is null ? scope! : new AndNode(scope!, filter);
            var fingerprint = string.Join('\u001f', experimentIds) + '\u001f' + request.String("filter") + '\u001f' + string.Join('\u001f', request.Strings("order_by"));
            if (query.Matches.Count == 0 && ordering.Source is null)
            {
                var page = await search.SearchExperimentsAsync(
                    where, orderBy, fingerprint, new PageRequest(MlflowLimits.PageSize(maxResults), NullIfEmpty(request.String("page_token"))), cancellationToken);
                found.AddRange(page.Items);
                next = page.NextPageToken;
            }
            else
            {
                var all = await SearchInMemoryAsync(where, query.Matches, ordering, fingerprint, cancellationToken);
                var offset = Offset(request.String("page_token"));
                found.AddRange(all.Skip(offset).Take(MlflowLimits.PageSize(maxResults)));
                next = offset + found.Count < all.Count ? NextOffset(offset + found.Count) : null;
            }
        }

        var latest = new List<IReadOnlyList<MetricSeries>>(found.Count);
        foreach (var run in found)
        {
            latest.Add(await metrics.GetLatestAsync(run.Id, cancellationToken));
        }

        await MlflowJson.WriteAsync(context, w =>
        {
            w.WriteStartArray("runs");
            for (var i = 0; i < found.Count; i++)
            {
                MlflowJson.WriteRun(w, found[i], latest[i]);
            }

            w.WriteEndArray();
            if (next is not null)
            {
                w.WriteString("next_page_token", next);
            }
        });
    }

    public async Task LogMetricAsync(HttpContext context, MlflowRequest request)
    {
        var id = RunIdOf(request);
        var point = MetricOf(request, "");
        await GetRunAsync(id, context.RequestAborted);
        await metrics.LogBatchOnceAsync([new MetricSeriesPoints(id, point.Key, [point.Point])], ContentId(id, [point]), context.RequestAborted);
        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task LogParameterAsync(HttpContext context, MlflowRequest request)
    {
        var id = RunIdOf(request);
        var key = MlflowLimits.Key(request.String("key"), "key");
        var value = MlflowLimits.Value(request.String("value"), "Param value", key, MlflowLimits.MaxParamValueLength);
        await WriteParamsAndTagsAsync(id, [new(key, value)], [], context.RequestAborted);
        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task SetTagAsync(HttpContext context, MlflowRequest request)
    {
        var id = RunIdOf(request);
        var key = MlflowLimits.Key(request.String("key"), "key");
        var value = MlflowLimits.Value(request.String("value"), "Tag value", key, MlflowLimits.MaxTagValueLength);
        await WriteParamsAndTagsAsync(id, [], [new(key, value)], context.RequestAborted);
        await MlflowJson.WriteEmptyAsync(context);
    }

    public async Task DeleteTagAsync(HttpContext context, MlflowRequest request)
    {
        var id = RunIdOf(request);
        var key = MlflowLimits.Key(request.String("key"), "key");
        var run = await GetRunAsync(id, context.RequestAborted);
        if (!run.Metadata.ContainsKey(MlflowRunMapping.TagPrefix + key))
        {
            throw MlflowException.NotFound($"No tag with name: {key} in run with id {MlflowRunMapping.RunId(id)}");
        }

        await metadata.DeleteMetadataAsync(id, [MlflowRunMapping.TagPrefix + key], context.RequestAborted);
        await MlflowJson.WriteEmptyAsync(context);
    }

    /// <summary>
    /// log-batch: MLflow's limits first (1,000 metrics, 100 params, 100 tags, 1,000 entries, 1 MB), then params, metrics and
    /// tags. Points already stored (a retry) are not stored again.
    /// </summary>
    public async Task LogBatchAsync(HttpContext context, MlflowRequest request)
    {
        var cancellationToken = context.RequestAborted;
        var id = RunIdOf(request);
        var metricMessages = request.Messages("metrics");
        var paramMessages = request.KeyValues("params");
        var tagMessages = request.KeyValues("tags");
        if (metricMessages.Count > MlflowLimits.MaxBatchMetrics)
        {
            throw MlflowException.Invalid($"A batch logging request can contain at most {MlflowLimits.MaxBatchMetrics} metrics. Got {metricMessages.Count} metrics.");
        }

        if (paramMessages.Count > MlflowLimits.MaxBatchParams)
        {
            throw MlflowException.Invalid($"A batch logging request can contain at most {MlflowLimits.MaxBatchParams} params. Got {paramMessages.Count} params.");
        }

        if (tagMessages.Count > MlflowLimits.MaxBatchTags)
        {
            throw MlflowException.Invalid($"A batch logging request can contain at most {MlflowLimits.MaxBatchTags} tags. Got {tagMessages.Count} tags.");
        }

        var total = metricMessages.Count + paramMessages.Count + tagMessages.Count;
        if (total > MlflowLimits.MaxBatchEntries)
        {
            throw MlflowException.Invalid($"A batch logging request can contain at most {MlflowLimits.MaxBatchEntries} total metrics, params and tags. Got {total}.");
        }

        var parameters = new List<KeyValuePair<string, string>>(paramMessages.Count);
        for (var i = 0; i < paramMessages.Count; i++)
        {
            var key = MlflowLimits.Key(paramMessages[i].Key, $"params[{i}].key");
            parameters.Add(new(key, MlflowLimits.Value(paramMessages[i].Value, "Param value", key, MlflowLimits.MaxParamValueLength)));
        }

        var tags = new List<KeyValuePair<string, string>>(tagMessages.Count);
        for (var i = 0; i < tagMessages.Count; i++)
        {
            var key = MlflowLimits.Key(tagMessages[i].Key, $"tags[{i}].key");
            tags.Add(new(key, MlflowLimits.Value(tagMessages[i].Value, "Tag value", key, MlflowLimits.MaxTagValueLength)));
        }

        var series = new Dictionary<string, List<MetricPoint>>(StringComparer.Ordinal);
        var logged = new List<(string Key, MetricPoint Point)>(metricMessages.Count);
        for (var i = 0; i < metricMessages.Count; i++)
        {
            var (key, point) = MetricOf(metricMessages[i], $"metrics[{i}].");
            logged.Add((key, point));
            if (!series.TryGetValue(key, out var points))
            {
                series[key] = points = [];
            }

            points.Add(point);
        }

        if (parameters.Count > 0 || tags.Count > 0)
        {
            await WriteParamsAndTagsAsync(id, parameters, tags, cancellationToken);
        }
        else
        {
            await GetRunAsync(id, cancellationToken);
        }

        if (series.Count > 0)
        {
            await metrics.LogBatchOnceAsync(series.Select(s => new MetricSeriesPoints(id, s.Key, s.Value)).ToList(), ContentId(id, logged), cancellationToken);
        }

        await MlflowJson.WriteEmptyAsync(context);
    }

    /// <summary>
    /// metrics/get-history: one page of a series, oldest first. max_results is capped at ModelBox's export page
    /// (<see cref="MetricLog.MaxExportPageSize"/>); the client follows next_page_token.
    /// </summary>
    public async Task GetMetricHistoryAsync(HttpContext context, MlflowRequest request)
    {
        var id = RunIdOf(request);
        var key = MlflowLimits.Key(request.String("metric_key"), "metric_key");
        var maxResults = request.Long("max_results") is { } max and > 0 ? (int)Math.Min(max, MetricLog.MaxExportPageSize) : MetricLog.MaxExportPageSize;
        await GetRunAsync(id, context.RequestAborted);
        var page = await metrics.ExportAsync(id, key, maxResults, NullIfEmpty(request.String("page_token")), context.RequestAborted);
        await MlflowJson.WriteAsync(context, w =>
        {
            w.WriteStartArray("metrics");
            foreach (var point in page.Items.Where(p => p.IsNumeric))
            {
                MlflowJson.WriteMetric(w, key, point);
            }

            w.WriteEndArray();
            if (page.NextPageToken is not null)
            {
                w.WriteString("next_page_token", page.NextPageToken);
            }
        });
    }

    /// <summary>
    /// metrics/get-history-bulk-interval: one metric of up to 100 runs over a step range, each series sampled to at most
    /// max_results points (default 320, at most 2,500), the first and last step always kept, from ModelBox's downsampled read.
    /// </summary>
    public async Task GetMetricHistoryBulkIntervalAsync(HttpContext context, MlflowRequest request)
    {
        var runIds = request.Strings("run_ids");
        if (runIds.Count == 0)
        {
            throw MlflowException.Missing("run_ids");
        }

        if (runIds.Count > MaxBulkRuns)
        {
            throw MlflowException.Invalid($"GetMetricHistoryBulkInterval request cannot specify more than {MaxBulkRuns} run_ids. Received {runIds.Count} run_ids.");
        }

        var key = MlflowLimits.Key(request.String("metric_key"), "metric_key");
        var start = request.Long("start_step");
        var end = request.Long("end_step");
        if (start is < 0 || end is < 0 || (start is { } s && end is { } e && e < s))
        {
            throw MlflowException.Invalid("start_step and end_step must be 0 or more, with end_step not before start_step");
        }

        var maxResults = request.Long("max_results") ?? DefaultBulkPoints;
        if (maxResults is < 1 or > MaxBulkPoints)
        {
            throw MlflowException.Invalid($"max_results must be between 1 and {MaxBulkPoints}; got {maxResults}");
        }

        var ids = runIds.Distinct(StringComparer.Ordinal).Select(runId => MlflowRunMapping.ExperimentId(runId, "run_ids")).ToList();
        foreach (var id in ids)
        {
            await GetRunAsync(id, context.RequestAborted);
        }

        var sampled = await ReadSampledSeriesAsync(ids, key, (ulong)(start ?? 0), (ulong?)end, (int)maxResults, context.RequestAborted);
        await MlflowJson.WriteAsync(context, w =>
        {
            w.WriteStartArray("metrics");
            foreach (var (id, points) in sampled)
            {
                foreach (var point in points.Where(p => p.IsNumeric))
                {
                    w.WriteStartObject();
                    w.WriteString("key", key);
                    MlflowJson.WriteDouble(w, "value", point.Number);
                    w.WriteNumber("timestamp", point.WallclockMillis);
                    w.WriteNumber("step", point.Step);
                    w.WriteString("run_id", MlflowRunMapping.RunId(id));
                    w.WriteEndObject();
                }
            }

            w.WriteEndArray();
        });
    }

    /// <summary>
    /// The sampled series of several runs in one batch read (<see cref="MetricLog.GetSeriesBatchAsync"/>, what
    /// GetMetricSeriesBatch serves): every series from its stored summaries, a few read at a time.
    /// </summary>
    private async Task<List<(string RunId, IReadOnlyList<MetricPoint> Points)>> ReadSampledSeriesAsync(
        IReadOnlyList<string> experimentIds, string key, ulong startStep, ulong? endStep, int maxPoints, CancellationToken cancellationToken)
    {
        // ModelBox keeps the first and last points, so it samples to 2 or more.
        var reads = await metrics.GetSeriesBatchAsync(
            experimentIds.Select(id => ((string?)id, (string?)key)).ToList(), MetricAxis.Step, startStep, endStep, Math.Max(maxPoints, 2), cancellationToken);
        return reads.Select(read => (read.ParentId, maxPoints == 1 ? read.View.Points.Take(1).ToList() : read.View.Points)).ToList();
    }

    // ---------------------------------------------------------------- shared

    /// <summary>A live run; a deleted run answers as MLflow's server answers a write to one (INVALID_PARAMETER_VALUE).</summary>
    internal async Task<Experiment> GetRunAsync(string experimentId, CancellationToken cancellationToken)
    {
        Experiment run;
        try
        {
            run = await runs.GetExperimentOrDeletedAsync(experimentId, cancellationToken);
        }
        catch (ModelBoxException e) when (e.Kind == ErrorKind.NotFound)
        {
            throw MlflowException.NotFound($"Run with id={MlflowRunMapping.RunId(experimentId)} not found");
        }

        return run.DeletedAt is null
            ? run
            : throw MlflowException.Invalid($"The run {MlflowRunMapping.RunId(experimentId)} must be in the 'active' state. Current state is deleted.");
    }

    internal static string RunIdOf(MlflowRequest request) =>
        MlflowRunMapping.ExperimentId(request.String("run_id") is { Length: > 0 } runId ? runId : request.String("run_uuid"));

    private async Task WriteRunAsync(HttpContext context, Experiment run)
    {
        var latest = await metrics.GetLatestAsync(run.Id, context.RequestAborted);
        await MlflowJson.WriteAsync(context, w =>
        {
            w.WritePropertyName("run");
            MlflowJson.WriteRun(w, run, latest);
        });
    }

    /// <summary>Params are immutable in MLflow: logging one again with the same value is fine, another value is refused.</summary>
    private async Task WriteParamsAndTagsAsync(
        string id, IReadOnlyList<KeyValuePair<string, string>> parameters, IReadOnlyList<KeyValuePair<string, string>> tags, CancellationToken cancellationToken)
    {
        var run = await GetRunAsync(id, cancellationToken);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in parameters)
        {
            var metadataKey = MlflowRunMapping.ParamPrefix + key;
            var earlier = run.Metadata.TryGetValue(metadataKey, out var stored) ? stored : values.GetValueOrDefault(metadataKey);
            if (earlier is not null && MlflowRunMapping.Text(earlier) != value)
            {
                throw MlflowException.Invalid(
                    $"Changing param values is not allowed. Param with key='{key}' was already logged with value='{MlflowRunMapping.Text(earlier)}' for run ID='{MlflowRunMapping.RunId(id)}'. Attempted logging new value '{value}'.");
            }

            values[metadataKey] = MlflowRunMapping.Json(value);
        }

        foreach (var (key, value) in tags)
        {
            values[MlflowRunMapping.TagPrefix + key] = MlflowRunMapping.Json(value);
        }

        if (values.Count > 0)
        {
            await metadata.UpdateMetadataAsync(id, values, cancellationToken);
        }
    }

    private static (string Key, MetricPoint Point) MetricOf(MlflowRequest message, string field)
    {
        var key = MlflowLimits.Key(message.String("key"), field + "key");
        var value = message.Double("value") ?? throw MlflowException.Missing(field + "value");
        var timestamp = message.Long("timestamp") ?? throw MlflowException.Missing(field + "timestamp");
        var step = message.Long("step") ?? 0;
        if (step < 0)
        {
            throw MlflowException.Invalid($"{field}step is {step}; this server keeps steps of 0 or more");
        }

        if (timestamp < 0)
        {
            throw MlflowException.Invalid($"{field}timestamp is {timestamp}; it must not be negative");
        }

        return (key, MetricPoint.OfDoubleAtMillis(step, timestamp, value));
    }

    /// <summary>
    /// The batch id of a request's metrics: a digest of the run and every (key, value, timestamp, step) in request order.
    /// MLflow's store keeps a metric once per (key, value, timestamp, step), so a request with the same content adds
    /// nothing there either; the id makes two copies racing each other (a retry sent before the original was answered)
    /// store once on every backend (<see cref="MetricLog.LogBatchOnceAsync(IReadOnlyList{MetricSeriesPoints}, string, CancellationToken)"/>).
    /// </summary>
    internal static string ContentId(string experimentId, IReadOnlyList<(string Key, MetricPoint Point)> metrics)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> number = stackalloc byte[8];
        hash.AppendData(Encoding.UTF8.GetBytes(experimentId));
        foreach (var (key, point) in metrics)
        {
            var keyBytes = Encoding.UTF8.GetBytes(key);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(number, keyBytes.Length);
            hash.AppendData(number[..4]);
            hash.AppendData(keyBytes);
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(number, BitConverter.DoubleToInt64Bits(double.IsNaN(point.Number) ? double.NaN : point.Number));
            hash.AppendData(number);
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(number, point.WallclockMillis);
            hash.AppendData(number);
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(number, point.Step);
            hash.AppendData(number);
        }

        // 160 bits: no accidental collision among the batches a deployment will ever see.
        return "mlflow:" + Convert.ToHexStringLower(hash.GetHashAndReset().AsSpan(0, 20));
    }

    private static Dictionary<string, string> RunTags(IReadOnlyList<KeyValuePair<string, string>> entries)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < entries.Count; i++)
        {
            var key = MlflowLimits.Key(entries[i].Key, $"tags[{i}].key");
            tags[key] = MlflowLimits.Value(entries[i].Value, "Tag value", key, MlflowLimits.MaxTagValueLength);
        }

        return tags;
    }

    private static Dictionary<string, string> ExperimentTags(IReadOnlyList<KeyValuePair<string, string>> entries) => RunTags(entries);

    internal static long ExperimentNumber(string text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            ? number
            : throw MlflowException.Invalid($"Invalid experiment ID: '{text}'; MLflow experiment ids are numbers");

    private static string Number(long number) => number.ToString(CultureInfo.InvariantCulture);

    private static string ViewType(string? text) => (text ?? "ACTIVE_ONLY").ToUpperInvariant() switch
    {
        "" or "ACTIVE_ONLY" or "1" => "ACTIVE_ONLY",
        "DELETED_ONLY" or "2" => "DELETED_ONLY",
        "ALL" or "3" => "ALL",
        _ => throw MlflowException.Invalid($"Invalid view type '{text}'; one of ACTIVE_ONLY, DELETED_ONLY, ALL"),
    };

    /// <summary>
    /// Runs/search with conditions the database cannot answer (LIKE, ILIKE) or an order by a metric, param or tag: every run
    /// the database finds (at most <see cref="MlflowLimits.MaxRunsCheckedInMemory"/>, in the database's order) is checked and sorted
    /// here. A metric orders by its last value, read from the stored whole-series summaries; runs without the field come
    /// last in either direction, ties by start time (newest first), then run id.
    /// </summary>
    private async Task<List<Experiment>> SearchInMemoryAsync(
        FilterNode where, IReadOnlyList<Func<Experiment, bool>> matches, RunOrdering ordering, string fingerprint, CancellationToken cancellationToken)
    {
        var found = new List<Experiment>();
        var scanned = 0;
        string? token = null;
        do
        {
            var page = await search.SearchExperimentsAsync(where, ordering.Database, fingerprint, new PageRequest(1000, token), cancellationToken);
            scanned += page.Items.Count;
            if (scanned > MlflowLimits.MaxRunsCheckedInMemory)
            {
                throw MlflowException.Invalid(
                    $"this search checks LIKE/ILIKE or orders by a metric, param or tag on the server, for at most {MlflowLimits.MaxRunsCheckedInMemory} runs; narrow the filter with = != < > IN conditions");
            }

            found.AddRange(page.Items.Where(run => matches.All(match => match(run))));
            token = page.NextPageToken;
        }
        while (token is not null);

        if (ordering.Source is not { } source || found.Count == 0)
        {
            return found;
        }

        Func<Experiment, IComparable?> value;
        if (source == FieldSource.Metric)
        {
            var last = (await metrics.GetSummariesAsync(found.ConvertAll(r => (string?)r.Id), [ordering.Key], cancellationToken))
                .Where(s => s.Summary.Last.IsNumeric)
                .ToDictionary(s => s.ParentId, s => s.Summary.Last.Number, StringComparer.Ordinal);
            // NaN sorts above every number, as in MLflow.
            value = run => last.TryGetValue(run.Id, out var number) ? (double.IsNaN(number) ? double.MaxValue : number) : null;
        }
        else
        {
            var key = ordering.Key!;
            value = run => run.Metadata.TryGetValue(key, out var json) ? new OrdinalText(MlflowRunMapping.Text(json)) : null;
        }

        var keyed = found.Select(run => (Run: run, Value: value(run))).ToList();
        keyed.Sort((a, b) =>
        {
            if (a.Value is null != b.Value is null)
            {
                return a.Value is null ? 1 : -1;
            }

            var byValue = a.Value is null ? 0 : a.Value.CompareTo(b.Value) * (ordering.Descending ? -1 : 1);
            return byValue != 0 ? byValue
                : MlflowRunMapping.StartTime(b.Run).CompareTo(MlflowRunMapping.StartTime(a.Run)) is var byStart and not 0 ? byStart
                : string.CompareOrdinal(a.Run.Id, b.Run.Id);
        });
        return keyed.ConvertAll(k => k.Run);
    }

    private readonly record struct OrdinalText(string Text) : IComparable
    {
        public int CompareTo(object? obj) => string.CompareOrdinal(Text, ((OrdinalText)obj!).Text);
    }

    /// <summary>An order: one ModelBox's search has (start_time as created_at, run name), or a metric, param or tag sorted here.</summary>
    private sealed record RunOrdering(string Database, FieldSource? Source = null, string? Key = null, bool Descending = false);

    /// <summary>The orders ModelBox's search has: start_time (created_at) and run name (the ModelBox name); default start_time DESC.
    /// A metric, param or tag is ordered in memory (<see cref="SearchInMemoryAsync"/>).</summary>
    private static RunOrdering RunOrder(IReadOnlyList<string> orderBy)
    {
        if (orderBy.Count == 0)
        {
            return new RunOrdering("created_at desc");
        }

        if (orderBy.Count > 1)
        {
            throw MlflowException.Invalid("this server orders runs by one field; order_by has " + orderBy.Count);
        }

        var parts = orderBy[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var direction = parts.Length == 2 ? parts[1].ToUpperInvariant() : "ASC";
        if (parts.Length is 0 or > 2 || direction is not ("ASC" or "DESC"))
        {
            throw MlflowException.Invalid($"Invalid order_by clause '{orderBy[0]}'");
        }

        var dot = parts[0].IndexOf('.', StringComparison.Ordinal);
        var entity = dot < 0 ? string.Empty : parts[0][..dot].ToLowerInvariant();
        var entityKey = dot < 0 ? string.Empty : parts[0][(dot + 1)..].Trim('`', '"');
        if (entity is "metrics" or "metric" or "params" or "param" or "tags" or "tag")
        {
            if (entityKey.Length == 0)
            {
                throw MlflowException.Invalid($"Invalid order_by clause '{orderBy[0]}': no key after '{entity}.'");
            }

            return entity.StartsWith("metric", StringComparison.Ordinal)
                ? new RunOrdering("created_at desc", FieldSource.Metric, MlflowLimits.Key(entityKey, "order_by"), direction == "DESC")
                : new RunOrdering(
                    "created_at desc", FieldSource.Metadata,
                    (entity.StartsWith("param", StringComparison.Ordinal) ? MlflowRunMapping.ParamPrefix : MlflowRunMapping.TagPrefix) + entityKey,
                    direction == "DESC");
        }

        var field = parts[0].ToLowerInvariant() switch
        {
            "start_time" or "attributes.start_time" or "attribute.start_time" or "attr.start_time" => "created_at",
            "run_name" or "attributes.run_name" or "attribute.run_name" or "attr.run_name" => "name",
            _ => throw MlflowException.Invalid($"Invalid order_by clause '{orderBy[0]}': this server orders runs by start_time, run_name, or a metric, param or tag"),
        };
        return new RunOrdering($"{field} {direction.ToLowerInvariant()}");
    }

    private static int Offset(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return 0;
        }

        try
        {
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(token));
            return text.StartsWith("offset:", StringComparison.Ordinal) && int.TryParse(text[7..], NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
                ? offset
                : throw MlflowException.Invalid("Invalid page token");
        }
        catch (FormatException)
        {
            throw MlflowException.Invalid("Invalid page token");
        }
    }

    private static string NextOffset(int offset) => Convert.ToBase64String(Encoding.UTF8.GetBytes("offset:" + offset.ToString(CultureInfo.InvariantCulture)));

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;

    private static string GeneratedRunName() =>
        $"{Adjectives[RandomNumberGenerator.GetInt32(Adjectives.Length)]}-{Animals[RandomNumberGenerator.GetInt32(Animals.Length)]}-{RandomNumberGenerator.GetInt32(1000)}";
}
