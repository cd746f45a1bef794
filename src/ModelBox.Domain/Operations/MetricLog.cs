using ModelBox.Domain.Storage;
using ModelBox.Domain.Telemetry;

namespace ModelBox.Domain.Operations;

/// <summary>
/// Metric series of any object: validation of keys and points, parent checks, then the metric store.
/// Messages name the input down to the point (<c>series[2].values[7]</c>) so a client can find the bad one.
/// </summary>
public sealed class MetricLog(IMetadataStore objects, IMetricStore metrics, TimeProvider time)
{
    private static readonly InputName ParentIdInput = "parent id";
    private static readonly InputName Series = "series";
    private static readonly InputName BatchIdInput = "batch id";
    private static readonly InputName StartStep = "start step";
    private static readonly InputName EndStep = "end step";
    private static readonly InputName MaxPoints = "max points";

    // The kinds of value a point holds, named as inputs: a point must set one of them.
    private static readonly InputName FloatValue = "float value";
    private static readonly InputName DoubleValue = "double value";
    private static readonly InputName StringTensor = "string tensor";
    private static readonly InputName BytesTensor = "bytes tensor";

    /// <summary>The longest metric key, in characters.</summary>
    public const int MaxKeyLength = 250;

    /// <summary>The largest string or bytes tensor of one point.</summary>
    public const int MaxTensorBytes = 1024 * 1024;

    /// <summary>The largest export page; larger requests are reduced to it.</summary>
    public const int MaxExportPageSize = 100_000;

    /// <summary>The export page size when the client asks for 0.</summary>
    public const int DefaultExportPageSize = 10_000;

    /// <summary>The most points a downsampled read may ask for.</summary>
    public const int MaxSeriesPoints = 100_000;

    /// <summary>The most series one batch read may ask for.</summary>
    public const int MaxBatchSeries = 1_000;

    /// <summary>The most points one batch read may return (series × max points): a response stays far below the message limit.</summary>
    public const long MaxBatchPoints = 2_000_000;

    /// <summary>Points per series of a batch read that asks for 0.</summary>
    public const int DefaultBatchPoints = 1_000;

    /// <summary>The most objects one summary read may ask for.</summary>
    public const int MaxSummaryParents = 10_000;

    /// <summary>The most keys one summary read may ask for.</summary>
    public const int MaxSummaryKeys = 1_000;

    // Series of one batch read in flight at once: enough to overlap round trips, few enough to leave the pool to others.
    private const int BatchReadsInFlight = 4;

    private static readonly InputName XAxis = "x axis";
    private static readonly InputName Start = "start";
    private static readonly InputName End = "end";
    private static readonly InputName ParentIds = "parent ids";
    private static readonly InputName Keys = "keys";

    /// <summary>How many batches of one logged stream may wait for their commit while the next ones are read.</summary>
    public const int StreamBatchesInFlight = 4;

    /// <summary>Logs one point.</summary>
    public Task<long> LogAsync(string? parentId, string? key, MetricPoint? point, CancellationToken cancellationToken = default)
    {
        if (point is not { } value)
        {
            throw ModelBoxException.InvalidArgument("value is required");
        }

        return LogBatchAsync([new MetricSeriesPoints(parentId!, key!, [value])], single: true, distinct: false, cancellationToken);
    }

    /// <summary>Logs the points of many series (of one or many objects) in one commit; returns how many were stored.</summary>
    public Task<long> LogBatchAsync(IReadOnlyList<MetricSeriesPoints> batch, CancellationToken cancellationToken = default) =>
        LogBatchAsync(batch, single: false, distinct: false, cancellationToken);

    /// <summary>The longest batch id (a UUID, a journal nonce and sequence number fit easily).</summary>
    public const int MaxBatchIdLength = 64;

    /// <summary>
    /// Logs a batch in one commit, once per <paramref name="batchId"/> when one is given (letters, digits and <c>-_.:</c>,
    /// at most <see cref="MaxBatchIdLength"/>): a repeated id stores nothing and answers the count its first request
    /// stored, so a client that lost an answer can send the batch again. Returns how many points were stored.
    /// </summary>
    public Task<long> LogBatchAsync(IReadOnlyList<MetricSeriesPoints> batch, string? batchId, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(batchId))
        {
            return LogBatchAsync(batch, cancellationToken);
        }

        if (batchId.Length > MaxBatchIdLength || !batchId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':'))
        {
            throw ModelBoxException.InvalidArgument(
                $"{BatchIdInput} must be 1 to {MaxBatchIdLength} letters, digits or -_.: characters (got {batchId.Length} characters)");
        }

        return LogBatchAsync(batch, single: false, distinct: false, cancellationToken, batchId);
    }

    /// <summary>
    /// Logs the points of a batch that are not stored yet (equal step, time and value), so that a client retrying a request
    /// whose answer it lost stores its points once; returns how many were stored.
    /// </summary>
    public Task<long> LogBatchOnceAsync(IReadOnlyList<MetricSeriesPoints> batch, CancellationToken cancellationToken = default) =>
        LogBatchAsync(batch, single: false, distinct: true, cancellationToken);

    /// <summary>
    /// Like <see cref="LogBatchOnceAsync(IReadOnlyList{MetricSeriesPoints}, CancellationToken)"/>, and a batch with the
    /// same <paramref name="contentId"/> (an id the caller derived from the request's content) is stored once even when
    /// two copies race each other on different connections or replicas; returns how many points were stored.
    /// </summary>
    public Task<long> LogBatchOnceAsync(IReadOnlyList<MetricSeriesPoints> batch, string contentId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(contentId);
        return LogBatchAsync(batch, single: false, distinct: true, cancellationToken, contentId);
    }

    /// <summary>Every series of an object with only its last point (highest step, then latest time).</summary>
    public async Task<IReadOnlyList<MetricSeries>> GetLatestAsync(string? parentId, CancellationToken cancellationToken = default)
    {
        await RequireParentAsync(parentId, ParentIdInput, cancellationToken).ConfigureAwait(false);
        return await metrics.ReadLatestAsync(parentId!, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Logs a stream of batches, each in its own commit: reading the next batch overlaps with committing the previous
    /// ones (at most <see cref="StreamBatchesInFlight"/> wait), and the answer waits for every commit, so the count it
    /// returns is what is durable. A failure says how many points of the stream were stored before it.
    /// </summary>
    public async Task<long> LogStreamAsync(IAsyncEnumerable<IReadOnlyList<MetricSeriesPoints>> batches, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batches);
        var inFlight = new Queue<Task<long>>();
        long written = 0;
        try
        {
            await foreach (var batch in batches.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                inFlight.Enqueue(LogBatchAsync(batch, cancellationToken));
                if (inFlight.Count >= StreamBatchesInFlight)
                {
                    written += await inFlight.Dequeue().ConfigureAwait(false);
                }
            }

            while (inFlight.Count > 0)
            {
                written += await inFlight.Dequeue().ConfigureAwait(false);
            }
        }
        catch (ModelBoxException failure)
        {
            // Let the batches already queued finish, so the message can say exactly how much is stored.
            foreach (var pending in inFlight)
            {
                try
                {
                    written += await pending.ConfigureAwait(false);
                }
                catch (ModelBoxException)
                {
                }
            }

            throw new ModelBoxException(failure.Kind, failure.Text.Append($" ({written} points of this stream were stored before it)"), failure);
        }

        return written;
    }

    /// <summary>Every series of an object with every point.</summary>
    public async Task<IReadOnlyList<MetricSeries>> GetMetricsAsync(string? parentId, CancellationToken cancellationToken = default)
    {
        await RequireParentAsync(parentId, ParentIdInput, cancellationToken).ConfigureAwait(false);
        return await metrics.ReadAllAsync(parentId!, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One series over a step range, downsampled to at most <paramref name="maxPoints"/> (0 = every point).</summary>
    public async Task<MetricSeriesView> GetSeriesAsync(
        string? parentId, string? key, ulong startStep, ulong? endStep, int maxPoints, CancellationToken cancellationToken = default)
    {
        var validKey = Key(key, "key");
        var from = Step(startStep, StartStep);
        var to = endStep is { } end ? Step(end, EndStep) : long.MaxValue;
        if (to < from)
        {
            throw ModelBoxException.InvalidArgument($"{EndStep} {to} is before {StartStep} {from}");
        }

        if (maxPoints is 1 or < 0 or > MaxSeriesPoints)
        {
            throw ModelBoxException.InvalidArgument(
                $"{MaxPoints} must be 0 (every point) or between 2 and {MaxSeriesPoints}; the first and last points are always kept");
        }

        await RequireParentAsync(parentId, ParentIdInput, cancellationToken).ConfigureAwait(false);
        var downsampler = new MetricDownsampler(maxPoints);
        await metrics.ScanSummarizedAsync(parentId!, validKey, from, to, downsampler, cancellationToken).ConfigureAwait(false);
        var points = downsampler.Result(out var downsampled);
        return new MetricSeriesView(validKey, points, downsampler.Count, downsampled);
    }

    /// <summary>
    /// Many series over one range (steps, wall-clock or relative seconds, per <paramref name="axis"/>), each downsampled to
    /// at most <paramref name="maxPoints"/> (0: <see cref="DefaultBatchPoints"/>), in request order.
    /// </summary>
    public async Task<IReadOnlyList<MetricSeriesRead>> GetSeriesBatchAsync(
        IReadOnlyList<(string? ParentId, string? Key)> series, MetricAxis axis, ulong start, ulong? end, int maxPoints,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0)
        {
            throw ModelBoxException.InvalidArgument($"{Series} is required: name at least one (parent id, key) pair");
        }

        if (series.Count > MaxBatchSeries)
        {
            throw ModelBoxException.InvalidArgument($"{Series} has {series.Count} entries; the limit is {MaxBatchSeries}");
        }

        if (!Enum.IsDefined(axis))
        {
            throw ModelBoxException.InvalidArgument($"{XAxis} {(int)axis} is not a known axis");
        }

        var points = maxPoints == 0 ? DefaultBatchPoints : maxPoints;
        if (points is < 2 or > MaxSeriesPoints)
        {
            throw ModelBoxException.InvalidArgument($"{MaxPoints} must be between 2 and {MaxSeriesPoints} (0 means {DefaultBatchPoints})");
        }

        if ((long)points * series.Count > MaxBatchPoints)
        {
            throw ModelBoxException.InvalidArgument(
                $"{MaxPoints} {points} for {series.Count} {Series} is {(long)points * series.Count} points; at most {MaxBatchPoints} in one call");
        }

        var from = Step(start, Start);
        var to = end is { } last ? Step(last, End) : long.MaxValue;
        if (to < from)
        {
            throw ModelBoxException.InvalidArgument($"{End} {to} is before {Start} {from}");
        }

        var valid = new (string ParentId, string Key)[series.Count];
        for (var i = 0; i < series.Count; i++)
        {
            valid[i] = (ParentId(series[i].ParentId, Series[i] / ParentIdInput), Key(series[i].Key, Series[i] / "key"));
        }

        foreach (var parentId in valid.Select(s => s.ParentId).Distinct(StringComparer.Ordinal))
        {
            await RequireParentAsync(parentId, ParentIdInput, cancellationToken).ConfigureAwait(false);
        }

        var results = new MetricSeriesRead[valid.Length];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, valid.Length),
            new ParallelOptions { MaxDegreeOfParallelism = BatchReadsInFlight, CancellationToken = cancellationToken },
            async (i, ct) => results[i] = await ReadOneAsync(valid[i].ParentId, valid[i].Key, ct).ConfigureAwait(false)).ConfigureAwait(false);
        return results;

        async Task<MetricSeriesRead> ReadOneAsync(string parentId, string key, CancellationToken ct)
        {
            var whole = await metrics.ReadBucketsAsync(parentId, key, 63, 0, long.MaxValue, ct).ConfigureAwait(false);
            var startSeconds = whole.Count > 0 ? whole[0].Summary.First.WallclockSeconds : 0;
            var (fromStep, toStep) = (from, to);
            if (axis != MetricAxis.Step)
            {
                var origin = axis == MetricAxis.RelativeTime ? startSeconds : 0;
                var steps = whole.Count == 0 ? null : await metrics.FindStepsBetweenTimesAsync(
                    parentId, key, SaturatingAdd(origin, from), SaturatingAdd(origin, to), ct).ConfigureAwait(false);
                if (steps is null)
                {
                    return new MetricSeriesRead(parentId, new MetricSeriesView(key, [], 0, false), startSeconds);
                }

                (fromStep, toStep) = steps.Value;
            }

            var downsampler = new MetricDownsampler(points);
            await metrics.ScanSummarizedAsync(parentId, key, fromStep, toStep, downsampler, ct).ConfigureAwait(false);
            var kept = downsampler.Result(out var downsampled);
            return new MetricSeriesRead(parentId, new MetricSeriesView(key, kept, downsampler.Count, downsampled), startSeconds);
        }

        static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
    }

    /// <summary>Whole-series summaries (count, first, last, min, max) of the given objects' series, read without points.</summary>
    public async Task<IReadOnlyList<MetricSeriesSummary>> GetSummariesAsync(
        IReadOnlyList<string?> parentIds, IReadOnlyList<string?> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parentIds);
        ArgumentNullException.ThrowIfNull(keys);
        if (parentIds.Count == 0)
        {
            throw ModelBoxException.InvalidArgument($"{ParentIds} is required");
        }

        if (parentIds.Count > MaxSummaryParents)
        {
            throw ModelBoxException.InvalidArgument($"{ParentIds} has {parentIds.Count} entries; the limit is {MaxSummaryParents}");
        }

        if (keys.Count > MaxSummaryKeys)
        {
            throw ModelBoxException.InvalidArgument($"{Keys} has {keys.Count} entries; the limit is {MaxSummaryKeys}");
        }

        var parents = parentIds.Select((id, i) => ParentId(id, ParentIds[i])).Distinct(StringComparer.Ordinal).ToList();
        var validKeys = keys.Select((key, i) => Key(key, Keys[i])).Distinct(StringComparer.Ordinal).ToList();
        var found = new List<MetricSeriesSummary>();
        // Deleted objects' series are hidden like the objects (looked up in one read, not one per object).
        var located = await objects.FindObjectsAsync(parents, cancellationToken).ConfigureAwait(false);
        var visible = located.Values.Where(o => !o.Deleted).Select(o => o.Id);
        foreach (var chunk in visible.Order(StringComparer.Ordinal).Chunk(MaxBatchSeries))
        {
            found.AddRange(await metrics.ReadSeriesSummariesAsync(chunk, validKeys, cancellationToken).ConfigureAwait(false));
        }

        return found;
    }

    /// <summary>One page of raw points of a series, for exports.</summary>
    public async Task<Page<MetricPoint>> ExportAsync(
        string? parentId, string? key, int pageSize, string? pageToken, CancellationToken cancellationToken = default)
    {
        var validKey = Key(key, "key");
        if (pageSize < 0)
        {
            throw ModelBoxException.InvalidArgument($"{PageRequest.SizeInput} must not be negative");
        }

        var token = string.IsNullOrEmpty(pageToken) ? null : pageToken;
        if (token is not null)
        {
            _ = PageTokens.Decode(token);
        }

        await RequireParentAsync(parentId, ParentIdInput, cancellationToken).ConfigureAwait(false);
        var page = new PageRequest(pageSize == 0 ? DefaultExportPageSize : Math.Min(pageSize, MaxExportPageSize), token);
        return await metrics.ReadPageAsync(parentId!, validKey, page, cancellationToken).ConfigureAwait(false);
    }

    private async Task<long> LogBatchAsync(
        IReadOnlyList<MetricSeriesPoints> batch, bool single, bool distinct, CancellationToken cancellationToken, string? batchId = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var validated = new MetricSeriesPoints[batch.Count];
        var parents = new HashSet<string>(StringComparer.Ordinal);
        long total = 0;
        for (var s = 0; s < batch.Count; s++)
        {
            var series = batch[s];
            var input = single ? InputName.None : Series[s];
            var parentId = ParentId(series.ParentId, input / ParentIdInput);
            var key = Key(series.Key, input / "key");
            var points = Points(series.Points, single ? "value" : input / "values", single, now);
            parents.Add(parentId);
            validated[s] = series with { Points = points };
            total += points.Count;
        }

        if (total == 0)
        {
            return 0;
        }

        // One lookup per distinct parent per request: a batch is usually one run's keys, so this is one cheap read.
        foreach (var parentId in parents)
        {
            await RequireParentAsync(parentId, ParentIdInput, cancellationToken).ConfigureAwait(false);
        }

        var written = batchId is not null
            ? await metrics.AppendOnceAsync(batchId, validated, distinct, cancellationToken).ConfigureAwait(false)
            : distinct
            ? await metrics.AppendDistinctAsync(validated, cancellationToken).ConfigureAwait(false)
            : await metrics.AppendAsync(validated, cancellationToken).ConfigureAwait(false);
        ModelBoxMetrics.MetricPointsIngested.Add(written);
        return written;
    }

    private static IReadOnlyList<MetricPoint> Points(IReadOnlyList<MetricPoint>? points, InputName field, bool single, long now)
    {
        if (points is null)
        {
            return [];
        }

        MetricPoint[]? fixedUp = null;
        for (var i = 0; i < points.Count; i++)
        {
            var point = points[i];
            var name = single ? field : field[i];
            switch (point.Kind)
            {
                case MetricValueKind.Float or MetricValueKind.Double:
                    break;
                case MetricValueKind.StringTensor when point.Text is not null && point.Text.Length <= MaxTensorBytes
                    && System.Text.Encoding.UTF8.GetByteCount(point.Text) <= MaxTensorBytes:
                    break;
                case MetricValueKind.BytesTensor when point.Bytes is not null && point.Bytes.Length <= MaxTensorBytes:
                    break;
                case MetricValueKind.StringTensor or MetricValueKind.BytesTensor:
                    throw ModelBoxException.InvalidArgument($"{name} is larger than {MaxTensorBytes} bytes");
                default:
                    throw ModelBoxException.InvalidArgument($"{name} has no value; set one of {FloatValue}, {DoubleValue}, {StringTensor} or {BytesTensor}");
            }

            if (point.Step < 0)
            {
                throw ModelBoxException.InvalidArgument($"{name / "step"} is larger than {long.MaxValue}");
            }

            if (point.WallclockSeconds < 0)
            {
                throw ModelBoxException.InvalidArgument($"{name / "wallclock time"} is larger than {long.MaxValue}");
            }

            if (point.Millis is < 0 or > 999)
            {
                throw ModelBoxException.InvalidArgument($"{name / "wallclock time"} has {point.Millis} milliseconds past the second; 0 to 999");
            }

            if (point.WallclockSeconds == 0 && point.Millis == 0)
            {
                // Not given: the server's clock. Copy only when needed; a training loop's batches rarely need it.
                fixedUp ??= [.. points];
                fixedUp[i] = point with { WallclockSeconds = now };
            }
        }

        return fixedUp ?? points;
    }

    private static string ParentId(string? parentId, InputName field)
    {
        if (string.IsNullOrEmpty(parentId))
        {
            throw ModelBoxException.InvalidArgument($"{field} is required");
        }

        return ObjectIds.TryGetKind(parentId, out _)
            ? parentId
            : throw ModelBoxException.InvalidArgument($"{field} '{(parentId.Length <= 80 ? parentId : parentId[..80] + "...")}' is not a ModelBox id");
    }

    /// <summary>A metric key: 1 to 250 characters, no control characters.</summary>
    public static string Key(string? key, InputName field)
    {
        if (string.IsNullOrEmpty(key))
        {
            throw ModelBoxException.InvalidArgument($"{field} is required");
        }

        if (key.Length > MaxKeyLength)
        {
            throw ModelBoxException.InvalidArgument($"{field} is {key.Length} characters long; the limit is {MaxKeyLength}");
        }

        foreach (var c in key)
        {
            if (char.IsControl(c))
            {
                throw ModelBoxException.InvalidArgument($"{field} must not contain control characters");
            }
        }

        return key;
    }

    private static long Step(ulong step, InputName field) =>
        step > long.MaxValue ? throw ModelBoxException.InvalidArgument($"{field} {step} is larger than {long.MaxValue}") : (long)step;

    private async Task RequireParentAsync(string? parentId, InputName field, CancellationToken cancellationToken)
    {
        var id = ParentId(parentId, field);
        var found = await objects.FindObjectAsync(id, cancellationToken).ConfigureAwait(false);
        if (found is null || found.Deleted)
        {
            ObjectIds.TryGetKind(id, out var kind);
            throw ModelBoxException.NotFound(Validation.Describe(kind), id);
        }
    }
}
