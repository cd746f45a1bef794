using System.Runtime.CompilerServices;
using Google.Protobuf;
using ModelBox.Protocol;
using Proto = ModelBox.Protocol;

namespace ModelBox.Client;

// Metric series: logging (one point, batches, the buffered logger), reading, downsampled reads and exports.
public sealed partial class ModelBoxClient
{
    /// <summary>Logs one metric point. For training loops use <see cref="CreateMetricLogger"/>, which batches.</summary>
    /// <param name="parentId">The object: an experiment, checkpoint, model or model version id.</param>
    /// <param name="key">The metric key (1 to 250 characters).</param>
    /// <param name="value">The value; a float or double converts implicitly.</param>
    /// <param name="step">The training step.</param>
    /// <param name="time">The wall-clock time; null is now.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ModelBoxNotFoundException">No object has this id.</exception>
    public async Task LogMetricAsync(
        string parentId, string key, MetricValue value, long step = 0, DateTimeOffset? time = null, CancellationToken cancellationToken = default)
    {
        var request = new LogMetricsRequest { ParentId = parentId ?? "", Key = key ?? "", Value = ToProto(new MetricPoint(step, time ?? DateTimeOffset.UtcNow, value)) };
        await InvokeAsync(o => _store.LogMetricsAsync(request, o), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Logs many points of many series (of one or many objects) in one call, stored in one commit.</summary>
    /// <param name="series">The series and their points.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>How many points were stored.</returns>
    public async Task<long> LogMetricsBatchAsync(IEnumerable<MetricSeriesPoints> series, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(series);
        var request = new LogMetricsBatchRequest();
        foreach (var s in series)
        {
            var proto = new Proto.MetricSeriesPoints { ParentId = s.ParentId ?? "", Key = s.Key ?? "" };
            foreach (var point in s.Points)
            {
                proto.Values.Add(ToProto(point));
            }

            request.Series.Add(proto);
        }

        return await SendMetricsBatchAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Returns every metric series of an object with every point.</summary>
    /// <param name="parentId">The object id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<IReadOnlyList<MetricSeries>> GetMetricsAsync(string parentId, CancellationToken cancellationToken = default)
    {
        var request = new GetMetricsRequest { ParentId = parentId ?? "" };
        var response = await InvokeAsync(o => _store.GetMetricsAsync(request, o), cancellationToken).ConfigureAwait(false);
        return response.Metrics.Select(m => new MetricSeries(m.Key, m.Values.Select(ToSdk).ToArray())).ToArray();
    }

    /// <summary>Returns one series over a step range, downsampled on the server (min and max per bucket, first and last kept).</summary>
    /// <param name="parentId">The object id.</param>
    /// <param name="key">The metric key.</param>
    /// <param name="startStep">The first step (inclusive).</param>
    /// <param name="endStep">The last step (inclusive); null is the end of the series.</param>
    /// <param name="maxPoints">At most this many points (0 = every point; otherwise at least 2).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<MetricSeriesView> GetMetricSeriesAsync(
        string parentId, string key, long startStep = 0, long? endStep = null, int maxPoints = 1000, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(startStep);
        ArgumentOutOfRangeException.ThrowIfNegative(maxPoints);
        var request = new GetMetricSeriesRequest { ParentId = parentId ?? "", Key = key ?? "", StartStep = (ulong)startStep, MaxPoints = (uint)maxPoints };
        if (endStep is { } end)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(end, nameof(endStep));
            request.EndStep = (ulong)end;
        }

        var response = await InvokeAsync(o => _store.GetMetricSeriesAsync(request, o), cancellationToken).ConfigureAwait(false);
        return new MetricSeriesView(response.Key, response.Values.Select(ToSdk).ToArray(), (long)response.TotalPoints, response.Downsampled);
    }

    /// <summary>
    /// Reads many series (up to 1,000 object/key pairs) over one range in one call, each downsampled on the server;
    /// what comparison charts need. Answers in the order asked.
    /// </summary>
    /// <param name="series">The (object id, metric key) pairs.</param>
    /// <param name="query">The range, its axis and the points per series; null reads every step, 1,000 points each.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ModelBoxNotFoundException">An object does not exist.</exception>
    public async Task<IReadOnlyList<MetricSeriesData>> GetMetricSeriesBatchAsync(
        IEnumerable<(string ParentId, string Key)> series, MetricSeriesQuery? query = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(series);
        query ??= new MetricSeriesQuery();
        ArgumentOutOfRangeException.ThrowIfNegative(query.Start, nameof(query));
        ArgumentOutOfRangeException.ThrowIfNegative(query.MaxPoints, nameof(query));
        var request = new GetMetricSeriesBatchRequest
        {
            XAxis = (Proto.MetricAxis)query.Axis,
            Start = (ulong)query.Start,
            MaxPoints = (uint)query.MaxPoints,
        };
        if (query.End is { } end)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(end, nameof(query));
            request.End = (ulong)end;
        }

        request.Series.Add(series.Select(s => new MetricSeriesRef { ParentId = s.ParentId ?? "", Key = s.Key ?? "" }));
        var response = await InvokeAsync(o => _store.GetMetricSeriesBatchAsync(request, o), cancellationToken).ConfigureAwait(false);
        return response.Series.Select(s => new MetricSeriesData(
            s.ParentId,
            s.Key,
            s.Values.Select(ToSdk).ToArray(),
            (long)s.TotalPoints,
            s.Downsampled,
            s.StartTime == 0 ? null : DateTimeOffset.FromUnixTimeSeconds((long)s.StartTime))).ToArray();
    }

    /// <summary>
    /// Count, first, last, min and max of the series of many objects (up to 10,000), read without their points; by
    /// object id, then key. Unknown or deleted objects and series without points are left out.
    /// </summary>
    /// <param name="parentIds">The object ids.</param>
    /// <param name="keys">Only these keys; null or empty is every key.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<IReadOnlyList<MetricSummary>> GetMetricSummariesAsync(
        IEnumerable<string> parentIds, IEnumerable<string>? keys = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parentIds);
        var request = new GetMetricSummariesRequest();
        request.ParentIds.Add(parentIds.Select(id => id ?? ""));
        request.Keys.Add((keys ?? []).Select(key => key ?? ""));
        var response = await InvokeAsync(o => _store.GetMetricSummariesAsync(request, o), cancellationToken).ConfigureAwait(false);
        return response.Summaries.Select(s => new MetricSummary(
            s.ParentId,
            s.Key,
            (long)s.Count,
            (long)s.NumericCount,
            (long)s.NanCount,
            s.Sum,
            ToSdk(s.First),
            ToSdk(s.Last),
            s.Min is null ? null : ToSdk(s.Min),
            s.Max is null ? null : ToSdk(s.Max))).ToArray();
    }

    /// <summary>Reads every raw point of a series in order, a page at a time as the caller enumerates.</summary>
    /// <param name="parentId">The object id.</param>
    /// <param name="key">The metric key.</param>
    /// <param name="pageSize">Points per round trip (1 to 100,000).</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public async IAsyncEnumerable<MetricPoint> ExportMetricPointsAsync(
        string parentId, string key, int pageSize = 10_000, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageSize, 100_000);
        var token = "";
        do
        {
            var request = new ExportMetricPointsRequest { ParentId = parentId ?? "", Key = key ?? "", PageSize = pageSize, PageToken = token };
            var page = await InvokeAsync(o => _store.ExportMetricPointsAsync(request, o), cancellationToken).ConfigureAwait(false);
            foreach (var value in page.Values)
            {
                yield return ToSdk(value);
            }

            token = page.NextPageToken;
        }
        while (token.Length > 0);
    }

    /// <summary>
    /// A buffered logger for one object's metrics: <see cref="MetricLogger.LogAsync"/> returns at once, batches go out
    /// in the background by size and by time. Dispose it (or call <see cref="MetricLogger.FlushAsync"/>) to know the
    /// points are stored; a failed send surfaces as an exception from the next call.
    /// </summary>
    /// <param name="parentId">The object: an experiment, checkpoint, model or model version id.</param>
    /// <param name="options">Batching settings; null uses the defaults.</param>
    public MetricLogger CreateMetricLogger(string parentId, MetricLoggerOptions? options = null) =>
        new(this, parentId, options ?? new MetricLoggerOptions());

    /// <summary>
    /// Starts logging this process's CPU, memory and GC figures (and GPU figures when <c>nvidia-smi</c> exists) as metrics
    /// of <paramref name="parentId"/> every <paramref name="interval"/>, until disposed.
    /// </summary>
    /// <param name="parentId">The object, usually the experiment being trained.</param>
    /// <param name="interval">Time between samples; null is 10 seconds.</param>
    public ResourceUsageLogger StartResourceUsageLogger(string parentId, TimeSpan? interval = null) =>
        new(CreateMetricLogger(parentId), interval ?? TimeSpan.FromSeconds(10));

    internal async Task<long> SendMetricsBatchAsync(LogMetricsBatchRequest request, CancellationToken cancellationToken)
    {
        var response = await InvokeAsync(o => _store.LogMetricsBatchAsync(request, o), cancellationToken).ConfigureAwait(false);
        return (long)response.NumPointsWritten;
    }

    internal static MetricsValue ToProto(MetricPoint point)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(point.Step, nameof(point));
        var seconds = point.Time.ToUnixTimeSeconds();
        var value = new MetricsValue { Step = (ulong)point.Step, WallclockTime = seconds > 0 ? (ulong)seconds : 0 };
        switch (point.Value.Kind)
        {
            case MetricValueKind.Float:
                value.FVal = (float)point.Value.Number;
                break;
            case MetricValueKind.Double:
                value.DVal = point.Value.Number;
                break;
            case MetricValueKind.String:
                value.STensor = point.Value.Text ?? "";
                break;
            default:
                value.BTensor = ByteString.CopyFrom(point.Value.Bytes ?? []);
                break;
        }

        return value;
    }

    private static MetricPoint ToSdk(MetricsValue value)
    {
        var metric = value.ValueCase switch
        {
            MetricsValue.ValueOneofCase.FVal => MetricValue.FromFloat(value.FVal),
            MetricsValue.ValueOneofCase.DVal => MetricValue.FromDouble(value.DVal),
            MetricsValue.ValueOneofCase.STensor => MetricValue.FromString(value.STensor),
            _ => MetricValue.FromBytes(value.BTensor.ToByteArray()),
        };
        // A point logged with milliseconds (through MLflow's API) carries them in wallclock_time_ms.
        var time = value.WallclockTimeMs != 0
            ? DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Min(value.WallclockTimeMs, 253_402_300_799_999))
            : DateTimeOffset.FromUnixTimeSeconds((long)Math.Min(value.WallclockTime, 253_402_300_799));
        return new MetricPoint((long)value.Step, time, metric);
    }
}
