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
}

/// <summary>Receives the points of a series scan one by one, so a backend can stream a long series without holding it.</summary>
public interface IMetricPointScanner
{
    /// <summary>Called once before the first point with the first and last step of the range's points.</summary>
    void Begin(long firstStep, long lastStep);

    /// <summary>Called for each point, in order.</summary>
    void Add(in MetricPoint point);
}
