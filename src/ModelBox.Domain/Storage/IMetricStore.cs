namespace ModelBox.Domain.Storage;

/// <summary>
/// The storage port for metric series: (object, key) → points. Points are immutable and append-only; logging the same
/// point twice stores two points. The domain validates input and checks that parents exist before calling a backend.
/// Reads order points by step, then wall-clock time, then arrival.
/// </summary>
public interface IMetricStore
{
    /// <summary>Stores the points of every series in the batch; returns the number stored once they are committed (durable).</summary>
    Task<long> AppendAsync(IReadOnlyList<MetricSeriesPoints> batch, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores the points of the batch that its series do not hold yet (a point equal in step, time, kind and number; NaN
    /// equals NaN; tensors are always stored), in one transaction; returns how many were stored. This is how a retried
    /// request is stored once.
    /// </summary>
    Task<long> AppendDistinctAsync(IReadOnlyList<MetricSeriesPoints> batch, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores the batch unless a batch with the same <paramref name="batchId"/> was stored before, in one transaction with
    /// the id; returns how many points the batch with this id stored (the first time's count when repeated). Concurrent
    /// appends of one id, from any replica, store it once. What a client replaying a journal after a lost answer uses.
    /// With <paramref name="skipStoredPoints"/> the first append of an id also leaves out the points its series hold
    /// already, as <see cref="AppendDistinctAsync"/> does (what MLflow's API uses: its ids are derived from the content).
    /// </summary>
    Task<long> AppendOnceAsync(
        string batchId, IReadOnlyList<MetricSeriesPoints> batch, bool skipStoredPoints = false, CancellationToken cancellationToken = default);

    /// <summary>
    /// Forgets the ids of batches stored before <paramref name="storedBefore"/>: a later <see cref="AppendOnceAsync"/> with
    /// such an id stores its batch again. Returns how many ids were forgotten. Without it the ids (a row per batch) would
    /// grow for as long as the deployment lives; a client retries within minutes, so ids older than days protect nothing.
    /// </summary>
    Task<long> ForgetBatchIdsAsync(DateTimeOffset storedBefore, CancellationToken cancellationToken = default);

    /// <summary>Every series of an object with only its last point (highest step, then latest time, then arrival), by ascending key.</summary>
    Task<IReadOnlyList<MetricSeries>> ReadLatestAsync(string parentId, CancellationToken cancellationToken = default);

    /// <summary>Every series of an object with all its points, by ascending key.</summary>
    Task<IReadOnlyList<MetricSeries>> ReadAllAsync(string parentId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams the points of one series with <paramref name="fromStep"/> ≤ step ≤ <paramref name="toStep"/>, in order, into
    /// <paramref name="scanner"/>: first <see cref="IMetricPointScanner.Begin"/> with the first and last step present in the
    /// range, then every point. Nothing is called when the range holds no point. One snapshot.
    /// </summary>
    Task ScanAsync(string parentId, string key, long fromStep, long toStep, IMetricPointScanner scanner, CancellationToken cancellationToken = default);

    /// <summary>One page of raw points of a series, in order; <see cref="PageRequest.Limit"/> must be set.</summary>
    Task<Page<MetricPoint>> ReadPageAsync(string parentId, string key, PageRequest page, CancellationToken cancellationToken = default);

    /// <summary>
    /// Like <see cref="ScanAsync"/>, but a backend that keeps summaries may stream whole stored buckets as
    /// <see cref="IMetricSummaryScanner.AddSummary"/> instead of their points, when the range holds more than
    /// <see cref="IMetricSummaryScanner.KeepsEveryPointUpTo"/> points and spans at least
    /// <see cref="IMetricSummaryScanner.Buckets"/> stored buckets. Points and summaries come in series order and together
    /// stand for exactly the range's points. One snapshot.
    /// </summary>
    Task ScanSummarizedAsync(
        string parentId, string key, long fromStep, long toStep, IMetricSummaryScanner scanner, CancellationToken cancellationToken = default);

    /// <summary>
    /// The stored buckets of one resolution (<paramref name="stepShift"/>: a bucket holds 2^stepShift steps) that hold
    /// points with <paramref name="fromStep"/> ≤ step ≤ <paramref name="toStep"/>, whole, by step; empty for an unknown
    /// series or a resolution the store does not keep (see <see cref="SummaryStepShifts"/>).
    /// </summary>
    Task<IReadOnlyList<MetricBucket>> ReadBucketsAsync(
        string parentId, string key, int stepShift, long fromStep, long toStep, CancellationToken cancellationToken = default);

    /// <summary>
    /// The whole-series summaries (count, first, last, min, max...) of the given parents' series, read without touching
    /// points, by parent then key; only the <paramref name="keys"/> given, or every key when it is empty.
    /// </summary>
    Task<IReadOnlyList<MetricSeriesSummary>> ReadSeriesSummariesAsync(
        IReadOnlyCollection<string> parentIds, IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default);

    /// <summary>
    /// The steps of the first point at or after <paramref name="fromSeconds"/> and of the last point at or before
    /// <paramref name="toSeconds"/> (wall-clock time), found through the summaries on the assumption that a series'
    /// time grows with its steps (a training loop's does); null when no point falls between them.
    /// </summary>
    Task<(long FromStep, long ToStep)?> FindStepsBetweenTimesAsync(
        string parentId, string key, long fromSeconds, long toSeconds, CancellationToken cancellationToken = default);

    /// <summary>The bucket resolutions the store keeps, finest first (a bucket holds 2^shift steps).</summary>
    IReadOnlyList<int> SummaryStepShifts { get; }
}

/// <summary>A scanner that can take a stored bucket's summary in place of its points.</summary>
public interface IMetricSummaryScanner : IMetricPointScanner
{
    /// <summary>How many buckets the scanner draws; a store sends summaries only of a resolution with at least this many
    /// buckets in the range (0: never).</summary>
    int Buckets { get; }

    /// <summary>A range holding at most this many points is sent as points.</summary>
    int KeepsEveryPointUpTo { get; }

    /// <summary>Called in series order, in place of the points of one stored bucket.</summary>
    void AddSummary(in MetricSummary summary);
}

/// <summary>Receives the points of a series scan one by one, so a backend can stream a long series without holding it.</summary>
public interface IMetricPointScanner
{
    /// <summary>Called once before the first point with the first and last step of the range's points.</summary>
    void Begin(long firstStep, long lastStep);

    /// <summary>Called for each point, in order.</summary>
    void Add(in MetricPoint point);
}
