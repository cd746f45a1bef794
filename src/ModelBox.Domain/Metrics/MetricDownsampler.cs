using ModelBox.Domain.Storage;

namespace ModelBox.Domain;

/// <summary>
/// Min/max bucket downsampling in one pass over a series: the step range is cut into equal buckets and each bucket
/// keeps its lowest and highest value, in their original order, so spikes survive (LTTB can smooth a single-point
/// spike away; a diverging loss is exactly what a chart must show). The first and last points are always kept.
/// NaN ranks above +∞ for the maximum, so a bucket with a NaN shows it. A bucket with only tensor points keeps its
/// first one. When the range holds at most <c>maxPoints</c> points, every point is returned unchanged.
/// A store may hand whole stored buckets over as summaries (<see cref="AddSummary"/>) instead of their points: a summary
/// joins the chart bucket its first point falls in, as a unit, so its lowest and highest point are exactly those of its
/// points; chart-bucket edges then fall on stored-bucket edges rather than on exact step fractions.
/// </summary>
public sealed class MetricDownsampler : IMetricSummaryScanner
{
    private readonly int _maxPoints;
    private readonly List<MetricPoint> _all = [];
    private Bucket[] _buckets = [];
    private long _firstStep;
    private double _stepsPerBucket = 1;
    private long _count;
    private MetricPoint _first;
    private MetricPoint _last;
    private long _lastOrdinal;
    private long _nextOrdinal;
    private bool _summarized;

    /// <param name="maxPoints">0 keeps every point; otherwise at least 2.</param>
    public MetricDownsampler(int maxPoints)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxPoints);
        if (maxPoints == 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxPoints), "the first and last points are always kept, so at least 2");
        }

        _maxPoints = maxPoints;
    }

    /// <summary>How many points the scan saw (summarised points included).</summary>
    public long Count => _count;

    /// <summary>The chart buckets (two points each); 0 when every point is kept.</summary>
    public int Buckets => _maxPoints == 0 ? 0 : Math.Max(1, (_maxPoints - 2) / 2);

    /// <summary>Ranges of at most this many points come back whole, so the store sends their points.</summary>
    public int KeepsEveryPointUpTo => _maxPoints == 0 ? int.MaxValue : _maxPoints;

    public void Begin(long firstStep, long lastStep)
    {
        if (_maxPoints == 0)
        {
            return;
        }

        // Two points per bucket, plus the first and the last.
        var buckets = Buckets;
        _buckets = new Bucket[buckets];
        _firstStep = firstStep;
        _stepsPerBucket = Math.Max(1e-9, ((double)lastStep - firstStep + 1) / buckets);
    }

    public void Add(in MetricPoint point)
    {
        var index = _nextOrdinal++;
        if (_count++ == 0)
        {
            _first = point;
        }

        (_last, _lastOrdinal) = (point, index);
        if (!_summarized && (_maxPoints == 0 || _all.Count <= _maxPoints))
        {
            // Cheap until the range proves larger than the answer; then only the buckets matter.
            _all.Add(point);
        }

        if (_maxPoints == 0)
        {
            return;
        }

        BucketOf(point.Step).Offer(point, index);
    }

    public void AddSummary(in MetricSummary summary)
    {
        if (_maxPoints == 0 || summary.Count == 0)
        {
            throw new InvalidOperationException("summaries stand in for points only in a downsampled read");
        }

        _summarized = true;
        _all.Clear();
        // Series-order positions of the points the summary names, so that a point named twice (the first is the minimum)
        // is kept once and ties go to the earlier point, as in a scan of the points.
        var firstOrdinal = _nextOrdinal;
        var ordinal = firstOrdinal;
        if (_count == 0)
        {
            _first = summary.First;
        }

        _count += summary.Count;
        ref var bucket = ref BucketOf(summary.First.Step);
        var lastOrdinal = firstOrdinal;
        if (summary.NumericCount > 0)
        {
            var (early, late) = MetricSummary.SortsBefore(summary.Max, summary.Min) ? (summary.Max, summary.Min) : (summary.Min, summary.Max);
            var earlyOrdinal = early == summary.First ? firstOrdinal : ++ordinal;
            var lateOrdinal = late == early ? earlyOrdinal : late == summary.First ? firstOrdinal : ++ordinal;
            bucket.Offer(early, earlyOrdinal);
            bucket.Offer(late, lateOrdinal);
            lastOrdinal = summary.Last == late ? lateOrdinal : summary.Last == early ? earlyOrdinal : summary.Last == summary.First ? firstOrdinal : ++ordinal;
        }
        else
        {
            bucket.Offer(summary.First, firstOrdinal);
            lastOrdinal = summary.Last == summary.First ? firstOrdinal : ++ordinal;
        }

        _nextOrdinal = ordinal + 1;
        (_last, _lastOrdinal) = (summary.Last, lastOrdinal);
    }

    private ref Bucket BucketOf(long step)
    {
        var b = (long)((step - _firstStep) / _stepsPerBucket);
        return ref _buckets[(int)Math.Clamp(b, 0, _buckets.Length - 1)];
    }

    /// <summary>The kept points in series order; <c>downsampled</c> is false when they are every point.</summary>
    public IReadOnlyList<MetricPoint> Result(out bool downsampled)
    {
        if (!_summarized && (_maxPoints == 0 || _count <= _maxPoints))
        {
            downsampled = false;
            return _all;
        }

        downsampled = true;
        var kept = new List<MetricPoint>(_maxPoints) { _first };
        foreach (var bucket in _buckets)
        {
            bucket.AppendTo(kept, _lastOrdinal);
        }

        kept.Add(_last);
        return kept;
    }

    private struct Bucket
    {
        private bool _hasAny;
        private bool _hasNumber;
        private MetricPoint _firstPoint;
        private long _firstIndex;
        private MetricPoint _min;
        private long _minIndex;
        private MetricPoint _max;
        private long _maxIndex;

        public void Offer(in MetricPoint point, long index)
        {
            if (!_hasAny)
            {
                _hasAny = true;
                _firstPoint = point;
                _firstIndex = index;
            }

            if (!point.IsNumeric)
            {
                return;
            }

            if (!_hasNumber)
            {
                _hasNumber = true;
                (_min, _minIndex, _max, _maxIndex) = (point, index, point, index);
                return;
            }

            var value = point.Number;
            if (value < _min.Number || (double.IsNaN(_min.Number) && !double.IsNaN(value)))
            {
                (_min, _minIndex) = (point, index);
            }

            if (!double.IsNaN(_max.Number) && (value > _max.Number || double.IsNaN(value)))
            {
                (_max, _maxIndex) = (point, index);
            }
        }

        /// <summary>Appends the bucket's points in series order, leaving out the first and last point of the series.</summary>
        public readonly void AppendTo(List<MetricPoint> kept, long lastIndex)
        {
            if (!_hasAny)
            {
                return;
            }

            if (!_hasNumber)
            {
                Keep(kept, _firstPoint, _firstIndex, lastIndex);
                return;
            }

            var (early, earlyIndex, late, lateIndex) = _minIndex <= _maxIndex ? (_min, _minIndex, _max, _maxIndex) : (_max, _maxIndex, _min, _minIndex);
            Keep(kept, early, earlyIndex, lastIndex);
            if (lateIndex != earlyIndex)
            {
                Keep(kept, late, lateIndex, lastIndex);
            }
        }

        private static void Keep(List<MetricPoint> kept, in MetricPoint point, long index, long lastIndex)
        {
            if (index != 0 && index != lastIndex)
            {
                kept.Add(point);
            }
        }
    }
}
