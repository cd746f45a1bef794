using System.Runtime.CompilerServices;
using Google.Protobuf;
using Grpc.Core;
using ModelBox.Domain;
using Proto = ModelBox.Protocol;

namespace ModelBox.Server.Services;

/// <summary>Wire ↔ domain mapping of metric points and series.</summary>
internal static class MetricMapping
{
    public static MetricSeriesPoints[] ToDomain(this Proto.LogMetricsBatchRequest request)
    {
        var batch = new MetricSeriesPoints[request.Series.Count];
        for (var s = 0; s < batch.Length; s++)
        {
            var series = request.Series[s];
            var points = new MetricPoint[series.Values.Count];
            for (var i = 0; i < points.Length; i++)
            {
                points[i] = series.Values[i].ToDomain();
            }

            batch[s] = new MetricSeriesPoints(series.ParentId, series.Key, points);
        }

        return batch;
    }

    /// <summary>The batches of a LogMetricsStream call, each mapped as it arrives.</summary>
    public static async IAsyncEnumerable<IReadOnlyList<MetricSeriesPoints>> ReadBatchesAsync(
        this IAsyncStreamReader<Proto.LogMetricsBatchRequest> requestStream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var message in requestStream.ReadAllAsync(cancellationToken))
        {
            yield return message.ToDomain();
        }
    }

    // Steps and times above long.MaxValue wrap to negative numbers here; the domain rejects those and names the field.
    public static MetricPoint ToDomain(this Proto.MetricsValue value)
    {
        var step = unchecked((long)value.Step);
        var time = unchecked((long)value.WallclockTime);
        var point = value.ValueCase switch
        {
            Proto.MetricsValue.ValueOneofCase.FVal => MetricPoint.OfFloat(step, time, value.FVal),
            Proto.MetricsValue.ValueOneofCase.DVal => MetricPoint.OfDouble(step, time, value.DVal),
            Proto.MetricsValue.ValueOneofCase.STensor => MetricPoint.OfString(step, time, value.STensor),
            Proto.MetricsValue.ValueOneofCase.BTensor => MetricPoint.OfBytes(step, time, value.BTensor.ToByteArray()),
            _ => new MetricPoint(step, time, MetricValueKind.None, 0),
        };
        if (value.WallclockTimeMs == 0)
        {
            return point;
        }

        var millis = unchecked((long)value.WallclockTimeMs);
        return millis < 0
            ? point with { WallclockSeconds = millis }
            : point with { WallclockSeconds = millis / 1000, Millis = (short)(millis % 1000) };
    }

    public static Proto.MetricsValue ToProto(this MetricPoint point)
    {
        var value = new Proto.MetricsValue { Step = (ulong)point.Step, WallclockTime = (ulong)point.WallclockSeconds };
        if (point.Millis != 0)
        {
            value.WallclockTimeMs = (ulong)point.WallclockMillis;
        }

        switch (point.Kind)
        {
            case MetricValueKind.Float:
                value.FVal = (float)point.Number;
                break;
            case MetricValueKind.Double:
                value.DVal = point.Number;
                break;
            case MetricValueKind.StringTensor:
                value.STensor = point.Text ?? string.Empty;
                break;
            case MetricValueKind.BytesTensor:
                value.BTensor = UnsafeByteOperations.UnsafeWrap(point.Bytes ?? []);
                break;
        }

        return value;
    }

    public static Proto.Metrics ToProto(this MetricSeries series)
    {
        var metrics = new Proto.Metrics { Key = series.Key };
        metrics.Values.Add(series.Points.Select(ToProto));
        return metrics;
    }

    public static Proto.GetMetricSeriesResponse ToResponse(this MetricSeriesView view)
    {
        var response = new Proto.GetMetricSeriesResponse { Key = view.Key, TotalPoints = (ulong)view.TotalPoints, Downsampled = view.Downsampled };
        response.Values.Add(view.Points.Select(ToProto));
        return response;
    }

    public static Proto.MetricSeriesData ToProto(this MetricSeriesRead read)
    {
        var data = new Proto.MetricSeriesData
        {
            ParentId = read.ParentId,
            Key = read.View.Key,
            TotalPoints = (ulong)read.View.TotalPoints,
            Downsampled = read.View.Downsampled,
            StartTime = (ulong)read.StartSeconds,
        };
        data.Values.Add(read.View.Points.Select(ToProto));
        return data;
    }

    public static Proto.MetricSeriesSummary ToProto(this MetricSeriesSummary series)
    {
        var summary = series.Summary;
        var proto = new Proto.MetricSeriesSummary
        {
            ParentId = series.ParentId,
            Key = series.Key,
            Count = (ulong)summary.Count,
            NumericCount = (ulong)summary.NumericCount,
            NanCount = (ulong)summary.NanCount,
            Sum = summary.Sum,
            First = summary.First.ToProto(),
            Last = summary.Last.ToProto(),
        };
        if (summary.NumericCount > 0)
        {
            proto.Min = summary.Min.ToProto();
            proto.Max = summary.Max.ToProto();
        }

        return proto;
    }
}
