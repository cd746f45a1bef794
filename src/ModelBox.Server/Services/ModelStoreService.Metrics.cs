using Google.Protobuf;
using Grpc.Core;
using ModelBox.Domain;
using ModelBox.Protocol;
using DomainSeriesPoints = ModelBox.Domain.MetricSeriesPoints;

namespace ModelBox.Server.Services;

// Metric series: LogMetrics, LogMetricsBatch, LogMetricsStream, GetMetrics, GetMetricSeries, ExportMetricPoints.
public sealed partial class ModelStoreService
{
    /// <summary>How many batches of one LogMetricsStream may wait for their commit while the next ones are read.</summary>
    private const int StreamBatchesInFlight = 4;

    public override async Task<LogMetricsResponse> LogMetrics(LogMetricsRequest request, ServerCallContext context)
    {
        await metricLog.LogAsync(request.ParentId, request.Key, request.Value is null ? null : ToDomain(request.Value), context.CancellationToken);
        return new LogMetricsResponse();
    }

    public override async Task<LogMetricsBatchResponse> LogMetricsBatch(LogMetricsBatchRequest request, ServerCallContext context) =>
        new() { NumPointsWritten = (ulong)await metricLog.LogBatchAsync(ToDomain(request), context.CancellationToken) };

    public override async Task<LogMetricsBatchResponse> LogMetricsStream(IAsyncStreamReader<LogMetricsBatchRequest> requestStream, ServerCallContext context)
    {
        // Reading the next message overlaps with committing the previous ones; the answer waits for every commit,
        // so the count it reports is what is durable.
        var inFlight = new Queue<Task<long>>();
        long written = 0;
        try
        {
            await foreach (var message in requestStream.ReadAllAsync(context.CancellationToken))
            {
                inFlight.Enqueue(metricLog.LogBatchAsync(ToDomain(message), context.CancellationToken));
                if (inFlight.Count >= StreamBatchesInFlight)
                {
                    written += await inFlight.Dequeue();
                }
            }

            while (inFlight.Count > 0)
            {
                written += await inFlight.Dequeue();
            }
        }
        catch (ModelBoxException failure)
        {
            // Let the batches already queued finish, so the message can say exactly how much is stored.
            foreach (var pending in inFlight)
            {
                try
                {
                    written += await pending;
                }
                catch (ModelBoxException)
                {
                }
            }

            throw new ModelBoxException(failure.Kind, $"{failure.Message} ({written} points of this stream were stored before it)", failure);
        }

        return new LogMetricsBatchResponse { NumPointsWritten = (ulong)written };
    }

    public override async Task<GetMetricsResponse> GetMetrics(GetMetricsRequest request, ServerCallContext context)
    {
        var all = await metricLog.GetMetricsAsync(request.ParentId, context.CancellationToken);
        var response = new GetMetricsResponse();
        foreach (var series in all)
        {
            var metrics = new Protocol.Metrics { Key = series.Key };
            metrics.Values.Add(series.Points.Select(ToProto));
            response.Metrics.Add(metrics);
        }

        return response;
    }

    public override async Task<GetMetricSeriesResponse> GetMetricSeries(GetMetricSeriesRequest request, ServerCallContext context)
    {
        var view = await metricLog.GetSeriesAsync(
            request.ParentId,
            request.Key,
            request.StartStep,
            request.HasEndStep ? request.EndStep : null,
            (int)Math.Min(request.MaxPoints, int.MaxValue),
            context.CancellationToken);
        var response = new GetMetricSeriesResponse { Key = view.Key, TotalPoints = (ulong)view.TotalPoints, Downsampled = view.Downsampled };
        response.Values.Add(view.Points.Select(ToProto));
        return response;
    }

    public override async Task<ExportMetricPointsResponse> ExportMetricPoints(ExportMetricPointsRequest request, ServerCallContext context)
    {
        var page = await metricLog.ExportAsync(request.ParentId, request.Key, request.PageSize, request.PageToken, context.CancellationToken);
        var response = new ExportMetricPointsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        response.Values.Add(page.Items.Select(ToProto));
        return response;
    }

    private static DomainSeriesPoints[] ToDomain(LogMetricsBatchRequest request)
    {
        var batch = new DomainSeriesPoints[request.Series.Count];
        for (var s = 0; s < batch.Length; s++)
        {
            var series = request.Series[s];
            var points = new MetricPoint[series.Values.Count];
            for (var i = 0; i < points.Length; i++)
            {
                points[i] = ToDomain(series.Values[i]);
            }

            batch[s] = new DomainSeriesPoints(series.ParentId, series.Key, points);
        }

        return batch;
    }

    // Steps and times above long.MaxValue wrap to negative numbers here; the domain rejects those and names the field.
    private static MetricPoint ToDomain(MetricsValue value)
    {
        var step = unchecked((long)value.Step);
        var time = unchecked((long)value.WallclockTime);
        return value.ValueCase switch
        {
            MetricsValue.ValueOneofCase.FVal => MetricPoint.OfFloat(step, time, value.FVal),
            MetricsValue.ValueOneofCase.DVal => MetricPoint.OfDouble(step, time, value.DVal),
            MetricsValue.ValueOneofCase.STensor => MetricPoint.OfString(step, time, value.STensor),
            MetricsValue.ValueOneofCase.BTensor => MetricPoint.OfBytes(step, time, value.BTensor.ToByteArray()),
            _ => new MetricPoint(step, time, MetricValueKind.None, 0),
        };
    }

    private static MetricsValue ToProto(MetricPoint point)
    {
        var value = new MetricsValue { Step = (ulong)point.Step, WallclockTime = (ulong)point.WallclockSeconds };
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
}
