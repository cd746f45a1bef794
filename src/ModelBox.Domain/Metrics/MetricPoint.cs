namespace ModelBox.Domain;

/// <summary>What a metric point holds (numbers match the storage column <c>kind</c>; None is "the client set nothing").</summary>
public enum MetricValueKind : byte
{
    None = 0,
    Float = 1,
    Double = 2,
    StringTensor = 3,
    BytesTensor = 4,
}

/// <summary>
/// One metric point. Float and double values live in <see cref="Number"/> (a float widens to double exactly, so it
/// narrows back unchanged); NaN and infinities are values like any other. Tensors live in <see cref="Text"/> or
/// <see cref="Bytes"/>.
/// </summary>
/// <param name="Step">The training step (0 or more).</param>
/// <param name="WallclockSeconds">Unix seconds, as the wire carries them.</param>
/// <param name="Kind">Which of the value fields holds the value.</param>
/// <param name="Number">The float or double value.</param>
/// <param name="Text">The string tensor.</param>
/// <param name="Bytes">The bytes tensor.</param>
/// <param name="Millis">Milliseconds past <paramref name="WallclockSeconds"/> (0 to 999): clients that log milliseconds
/// (MLflow) read back what they logged; the wire's <c>wallclock_time</c> stays whole seconds.</param>
public readonly record struct MetricPoint(
    long Step, long WallclockSeconds, MetricValueKind Kind, double Number, string? Text = null, byte[]? Bytes = null, short Millis = 0)
{
    public bool IsNumeric => Kind is MetricValueKind.Float or MetricValueKind.Double;

    /// <summary>The wall-clock time in Unix milliseconds.</summary>
    public long WallclockMillis => (WallclockSeconds * 1000) + Millis;

    /// <summary>A double point logged at a time in Unix milliseconds (0 or more).</summary>
    public static MetricPoint OfDoubleAtMillis(long step, long unixMillis, double value) =>
        new(step, unixMillis / 1000, MetricValueKind.Double, value, Millis: (short)(unixMillis % 1000));

    public static MetricPoint OfFloat(long step, long wallclockSeconds, float value) => new(step, wallclockSeconds, MetricValueKind.Float, value);

    public static MetricPoint OfDouble(long step, long wallclockSeconds, double value) => new(step, wallclockSeconds, MetricValueKind.Double, value);

    public static MetricPoint OfString(long step, long wallclockSeconds, string value) =>
        new(step, wallclockSeconds, MetricValueKind.StringTensor, 0, Text: value);

    public static MetricPoint OfBytes(long step, long wallclockSeconds, byte[] value) =>
        new(step, wallclockSeconds, MetricValueKind.BytesTensor, 0, Bytes: value);
}

/// <summary>Points of one series (an object and a key), as logged.</summary>
public sealed record MetricSeriesPoints(string ParentId, string Key, IReadOnlyList<MetricPoint> Points);

/// <summary>A stored series: its key and its points by step, then time, then arrival.</summary>
public sealed record MetricSeries(string Key, IReadOnlyList<MetricPoint> Points);

/// <summary>A series over a step range, possibly downsampled.</summary>
/// <param name="Key">The metric key.</param>
/// <param name="Points">The points by step, then time.</param>
/// <param name="TotalPoints">How many points the range holds before downsampling.</param>
/// <param name="Downsampled">True when <paramref name="Points"/> is a subset of the range's points.</param>
public sealed record MetricSeriesView(string Key, IReadOnlyList<MetricPoint> Points, long TotalPoints, bool Downsampled);

/// <summary>What a chart's x axis measures; a batch read's range is given in it.</summary>
public enum MetricAxis
{
    /// <summary>Training steps.</summary>
    Step = 0,

    /// <summary>Wall-clock time, Unix seconds.</summary>
    WallTime = 1,

    /// <summary>Seconds since the series' first point.</summary>
    RelativeTime = 2,
}

/// <summary>One series of a batch read.</summary>
/// <param name="ParentId">The object id, as asked.</param>
/// <param name="View">The series over the range, possibly downsampled (no points when it has none there or does not exist).</param>
/// <param name="StartSeconds">Wall-clock time of the series' first point (0 without points): relative time is measured from it.</param>
public sealed record MetricSeriesRead(string ParentId, MetricSeriesView View, long StartSeconds);
