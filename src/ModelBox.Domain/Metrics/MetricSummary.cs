namespace ModelBox.Domain;

/// <summary>
/// What a run of points of one series adds up to, kept so that charts and tables need not read the points: how many,
/// their finite sum, and the first, last, lowest and highest point (in series order: by step, then wall-clock time, then
/// arrival). Values are ordered -∞ &lt; finite &lt; +∞ &lt; NaN, so a NaN shows as the maximum and spikes survive as the
/// minimum or maximum. Among equal values the earliest point in series order is the one kept. <see cref="Min"/> and
/// <see cref="Max"/> mean something only when <see cref="NumericCount"/> is positive; tensor points are counted and their
/// position is known (a tensor <see cref="First"/> or <see cref="Last"/> carries its kind, step and time, not its content).
/// </summary>
/// <param name="Count">Every point.</param>
/// <param name="NumericCount">Float and double points (NaN and infinities included).</param>
/// <param name="NanCount">NaN points.</param>
/// <param name="Sum">The sum of the finite values (may itself overflow to an infinity).</param>
/// <param name="First">The first point in series order.</param>
/// <param name="Last">The last point in series order.</param>
/// <param name="Min">The lowest numeric point.</param>
/// <param name="Max">The highest numeric point.</param>
public readonly record struct MetricSummary(
    long Count, long NumericCount, long NanCount, double Sum, MetricPoint First, MetricPoint Last, MetricPoint Min, MetricPoint Max)
{
    /// <summary>Whether every point is a number (a chart can draw the summary without the points).</summary>
    public bool IsNumeric => Count == NumericCount;

    /// <summary>
    /// The order of metric values: -∞ &lt; finite &lt; +∞ &lt; NaN; -0 equals 0 and every NaN equals every other.
    /// </summary>
    public static int CompareValues(double a, double b) =>
        double.IsNaN(a) ? (double.IsNaN(b) ? 0 : 1)
        : double.IsNaN(b) ? -1
        : a < b ? -1 : a > b ? 1 : 0;

    /// <summary>Whether <paramref name="a"/> sorts before <paramref name="b"/> by step, then time (arrival breaks ties).</summary>
    public static bool SortsBefore(in MetricPoint a, in MetricPoint b) =>
        a.Step < b.Step || (a.Step == b.Step && a.WallclockSeconds < b.WallclockSeconds);

    /// <summary>The summary of <paramref name="points"/>, given in arrival order.</summary>
    public static MetricSummary Of(IEnumerable<MetricPoint> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        var builder = new MetricSummaryBuilder();
        foreach (var point in points)
        {
            builder.Add(point);
        }

        return builder.ToSummary();
    }
}

/// <summary>
/// Folds points into a <see cref="MetricSummary"/> one at a time, in arrival order: a point added later arrived later, so
/// it sorts after every point summarised before it that has the same step and time. Starting from a stored summary and
/// adding new points gives exactly the summary of all of them, in whatever step order they arrive, without reading the old
/// points again (which is what lets raw points be deleted while their summaries stay).
/// </summary>
public struct MetricSummaryBuilder
{
    private long _count;
    private long _numericCount;
    private long _nanCount;
    private double _sum;
    private MetricPoint _first;
    private MetricPoint _last;
    private MetricPoint _min;
    private MetricPoint _max;

    /// <summary>Continues from a stored summary.</summary>
    public MetricSummaryBuilder(in MetricSummary summary)
    {
        (_count, _numericCount, _nanCount, _sum) = (summary.Count, summary.NumericCount, summary.NanCount, summary.Sum);
        (_first, _last, _min, _max) = (summary.First, summary.Last, summary.Min, summary.Max);
    }

    /// <summary>Whether anything was added.</summary>
    public readonly bool IsEmpty => _count == 0;

    /// <summary>Adds a point that arrived after every point summarised so far.</summary>
    public void Add(in MetricPoint point)
    {
        // Only what a summary shows: a tensor's content stays with the point.
        var kept = point.Text is null && point.Bytes is null ? point : new MetricPoint(point.Step, point.WallclockSeconds, point.Kind, 0);
        if (_count++ == 0)
        {
            (_first, _last) = (kept, kept);
        }
        else
        {
            if (MetricSummary.SortsBefore(kept, _first))
            {
                _first = kept;
            }

            if (!MetricSummary.SortsBefore(kept, _last))
            {
                _last = kept;
            }
        }

        if (!point.IsNumeric)
        {
            return;
        }

        var value = point.Number;
        if (double.IsNaN(value))
        {
            _nanCount++;
        }
        else if (double.IsFinite(value))
        {
            _sum += value;
        }

        if (_numericCount++ == 0)
        {
            (_min, _max) = (kept, kept);
            return;
        }

        var belowMin = MetricSummary.CompareValues(value, _min.Number);
        if (belowMin < 0 || (belowMin == 0 && MetricSummary.SortsBefore(kept, _min)))
        {
            _min = kept;
        }

        var aboveMax = MetricSummary.CompareValues(value, _max.Number);
        if (aboveMax > 0 || (aboveMax == 0 && MetricSummary.SortsBefore(kept, _max)))
        {
            _max = kept;
        }
    }

    /// <summary>
    /// Adds the summary of points that all arrived after every point summarised so far: the same result as adding those
    /// points one by one (up to the rounding of the sum), since a tie in series order goes to the later arrival for
    /// <see cref="MetricSummary.Last"/> and to the earlier one otherwise.
    /// </summary>
    public void Merge(in MetricSummary later)
    {
        if (later.Count == 0)
        {
            return;
        }

        if (_count == 0)
        {
            (_first, _last) = (later.First, later.Last);
        }
        else
        {
            if (MetricSummary.SortsBefore(later.First, _first))
            {
                _first = later.First;
            }

            if (!MetricSummary.SortsBefore(later.Last, _last))
            {
                _last = later.Last;
            }
        }

        _count += later.Count;
        if (later.NumericCount == 0)
        {
            return;
        }

        _nanCount += later.NanCount;
        _sum += later.Sum;
        if (_numericCount == 0)
        {
            (_min, _max) = (later.Min, later.Max);
        }
        else
        {
            var belowMin = MetricSummary.CompareValues(later.Min.Number, _min.Number);
            if (belowMin < 0 || (belowMin == 0 && MetricSummary.SortsBefore(later.Min, _min)))
            {
                _min = later.Min;
            }

            var aboveMax = MetricSummary.CompareValues(later.Max.Number, _max.Number);
            if (aboveMax > 0 || (aboveMax == 0 && MetricSummary.SortsBefore(later.Max, _max)))
            {
                _max = later.Max;
            }
        }

        _numericCount += later.NumericCount;
    }

    /// <summary>The summary of everything added.</summary>
    public readonly MetricSummary ToSummary() => new(_count, _numericCount, _nanCount, _sum, _first, _last, _min, _max);
}

/// <summary>The summary of the points of one series whose steps fall in [<paramref name="FirstStep"/>, <paramref name="LastStep"/>].</summary>
public readonly record struct MetricBucket(long FirstStep, long LastStep, MetricSummary Summary);

/// <summary>A series' summary over all its points, for tables of many runs ("last loss").</summary>
public sealed record MetricSeriesSummary(string ParentId, string Key, MetricSummary Summary);
