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

/// <summary>Settings of a <see cref="MetricLogger"/>.</summary>
public sealed record MetricLoggerOptions
{
    /// <summary>A batch is sent once it holds this many points.</summary>
    public int BatchSize { get; init; } = 10_000;

    /// <summary>A batch is sent at the latest this long after its first point was logged.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How many points may wait in memory; <see cref="MetricLogger.LogAsync"/> waits while the buffer is full.</summary>
    public int MaxBufferedPoints { get; init; } = 100_000;

    /// <summary>How many batches may be on their way to the server at once.</summary>
    public int MaxConcurrentSends { get; init; } = 2;
}
