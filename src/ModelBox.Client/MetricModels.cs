namespace ModelBox.Client;

/// <summary>What a metric value holds.</summary>
public enum MetricValueKind
{
    /// <summary>A single-precision number (<c>f_val</c>).</summary>
    Float,
    /// <summary>A double-precision number (<c>d_val</c>).</summary>
    Double,
    /// <summary>A string tensor (<c>s_tensor</c>).</summary>
    String,
    /// <summary>A bytes tensor (<c>b_tensor</c>).</summary>
    Bytes,
}

/// <summary>A metric value: a float, a double, a string tensor or a bytes tensor. NaN and infinities are kept.</summary>
public readonly record struct MetricValue
{
    private MetricValue(MetricValueKind kind, double number, string? text, byte[]? bytes)
    {
        Kind = kind;
        Number = number;
        Text = text;
        Bytes = bytes;
    }

    /// <summary>Which of the value properties holds the value.</summary>
    public MetricValueKind Kind { get; }

    /// <summary>The number of a float or double value (a float widened exactly).</summary>
    public double Number { get; }

    /// <summary>The string tensor, or null.</summary>
    public string? Text { get; }

    /// <summary>The bytes tensor, or null.</summary>
    public byte[]? Bytes { get; }

    /// <summary>A single-precision value.</summary>
    public static MetricValue FromFloat(float value) => new(MetricValueKind.Float, value, null, null);

    /// <summary>A double-precision value.</summary>
    public static MetricValue FromDouble(double value) => new(MetricValueKind.Double, value, null, null);

    /// <summary>A string tensor.</summary>
    public static MetricValue FromString(string value) => new(MetricValueKind.String, 0, value ?? throw new ArgumentNullException(nameof(value)), null);

    /// <summary>A bytes tensor.</summary>
    public static MetricValue FromBytes(byte[] value) => new(MetricValueKind.Bytes, 0, null, value ?? throw new ArgumentNullException(nameof(value)));

    /// <summary>A single-precision value.</summary>
    public static implicit operator MetricValue(float value) => FromFloat(value);

    /// <summary>A double-precision value.</summary>
    public static implicit operator MetricValue(double value) => FromDouble(value);

    /// <summary>The value as text: the number, or the tensor.</summary>
    public override string ToString() => Kind switch
    {
        MetricValueKind.Float => ((float)Number).ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        MetricValueKind.Double => Number.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        MetricValueKind.String => Text ?? "",
        _ => Convert.ToBase64String(Bytes ?? []),
    };
}

/// <summary>One metric point.</summary>
/// <param name="Step">The training step (0 or more).</param>
/// <param name="Time">The wall-clock time (the wire keeps whole seconds).</param>
/// <param name="Value">The value.</param>
public readonly record struct MetricPoint(long Step, DateTimeOffset Time, MetricValue Value);

/// <summary>Points of one series (an object and a key), to log in a batch.</summary>
/// <param name="ParentId">The object the metric belongs to: an experiment, checkpoint, model or model version.</param>
/// <param name="Key">The metric key (1 to 250 characters).</param>
/// <param name="Points">The points.</param>
public sealed record MetricSeriesPoints(string ParentId, string Key, IReadOnlyList<MetricPoint> Points);

/// <summary>A stored series: its key and its points by step, then time.</summary>
/// <param name="Key">The metric key.</param>
/// <param name="Points">The points.</param>
public sealed record MetricSeries(string Key, IReadOnlyList<MetricPoint> Points);

/// <summary>A series over a step range, possibly downsampled on the server.</summary>
/// <param name="Key">The metric key.</param>
/// <param name="Points">The points by step, then time; the first and last of the range are always there.</param>
/// <param name="TotalPoints">How many points the range holds.</param>
/// <param name="Downsampled">True when <paramref name="Points"/> is a subset of the range.</param>
public sealed record MetricSeriesView(string Key, IReadOnlyList<MetricPoint> Points, long TotalPoints, bool Downsampled);

/// <summary>What a chart's x axis measures; a batch read's range is given in it.</summary>
public enum MetricAxis
{
    /// <summary>Training steps.</summary>
    Step,
    /// <summary>Wall-clock time (Unix seconds on the wire).</summary>
    WallTime,
    /// <summary>Seconds since the series' first point.</summary>
    RelativeTime,
}

/// <summary>The range and resolution of a batch read (<see cref="ModelBoxClient.GetMetricSeriesBatchAsync"/>).</summary>
public sealed record MetricSeriesQuery
{
    /// <summary>What <see cref="Start"/> and <see cref="End"/> measure.</summary>
    public MetricAxis Axis { get; init; } = MetricAxis.Step;

    /// <summary>The first x (inclusive): a step, Unix seconds, or seconds since the series' first point.</summary>
    public long Start { get; init; }

    /// <summary>The last x (inclusive); null is the end.</summary>
    public long? End { get; init; }

    /// <summary>At most this many points per series (2 to 100,000).</summary>
    public int MaxPoints { get; init; } = 1000;
}

/// <summary>One series of a batch read, possibly downsampled on the server.</summary>
/// <param name="ParentId">The object id.</param>
/// <param name="Key">The metric key.</param>
/// <param name="Points">The points by step, then time (empty when the series has none in the range or does not exist).</param>
/// <param name="TotalPoints">How many points the range holds.</param>
/// <param name="Downsampled">True when <paramref name="Points"/> is a subset of the range.</param>
/// <param name="StartTime">When the series' first point was logged (relative time counts from it); null without points.</param>
public sealed record MetricSeriesData(
    string ParentId, string Key, IReadOnlyList<MetricPoint> Points, long TotalPoints, bool Downsampled, DateTimeOffset? StartTime);

/// <summary>What a series adds up to, read without its points (a runs table's "last loss").</summary>
/// <param name="ParentId">The object id.</param>
/// <param name="Key">The metric key.</param>
/// <param name="Count">Every point.</param>
/// <param name="NumericCount">Float and double points.</param>
/// <param name="NanCount">NaN points.</param>
/// <param name="Sum">The sum of the finite values.</param>
/// <param name="First">The first point by step (a tensor point without its content).</param>
/// <param name="Last">The last point by step: the last value.</param>
/// <param name="Min">The lowest numeric point; null without numbers.</param>
/// <param name="Max">The highest numeric point (a NaN ranks highest); null without numbers.</param>
public sealed record MetricSummary(
    string ParentId, string Key, long Count, long NumericCount, long NanCount, double Sum,
    MetricPoint First, MetricPoint Last, MetricPoint? Min, MetricPoint? Max);

/// <summary>Settings of a <see cref="MetricLogger"/>.</summary>
public sealed record MetricLoggerOptions
{
    /// <summary>A batch is sent once it holds this many points.</summary>
    public int BatchSize { get; init; } = 10_000;

    /// <summary>A batch is sent at the latest this long after its first point was logged.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How many points may wait in memory; <see cref="MetricLogger.LogAsync"/> waits while the buffer is full.</summary>
    public int MaxBufferedPoints { get; init; } = 100_000;

    /// <summary>
    /// How many batches may be on their way to the server at once. Four let the server's group commit find batches queued
    /// behind the one it commits and fold them into one transaction (2 million points over 100 keys: about 270k points/s
    /// with four, 225k with two, on the embedded store).
    /// </summary>
    public int MaxConcurrentSends { get; init; } = 4;
}
