using Grpc.Core;
using ModelBox.Protocol;

namespace ModelBox.Server.Services;

// Metric series: LogMetrics, LogMetricsBatch, LogMetricsStream, GetMetrics, GetMetricSeries, GetMetricSeriesBatch,
// GetMetricSummaries, ExportMetricPoints.
public sealed partial class ModelStoreService
{
    public override async Task<LogMetricsResponse> LogMetrics(LogMetricsRequest request, ServerCallContext context)
    {
        await metricLog.LogAsync(request.ParentId, request.Key, request.Value?.ToDomain(), context.CancellationToken);
        return new LogMetricsResponse();
    }

    public override async Task<LogMetricsBatchResponse> LogMetricsBatch(LogMetricsBatchRequest request, ServerCallContext context) =>
        new() { NumPointsWritten = (ulong)await metricLog.LogBatchAsync(request.ToDomain(), request.BatchId, context.CancellationToken) };

    public override async Task<LogMetricsBatchResponse> LogMetricsStream(IAsyncStreamReader<LogMetricsBatchRequest> requestStream, ServerCallContext context) =>
        new() { NumPointsWritten = (ulong)await metricLog.LogStreamAsync(requestStream.ReadBatchesAsync(context.CancellationToken), context.CancellationToken) };

    public override async Task<GetMetricsResponse> GetMetrics(GetMetricsRequest request, ServerCallContext context)
    {
        var all = await metricLog.GetMetricsAsync(request.ParentId, context.CancellationToken);
        var response = new GetMetricsResponse();
        response.Metrics.Add(all.Select(series => series.ToProto()));
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
        return view.ToResponse();
    }

    public override async Task<GetMetricSeriesBatchResponse> GetMetricSeriesBatch(GetMetricSeriesBatchRequest request, ServerCallContext context)
    {
        var reads = await metricLog.GetSeriesBatchAsync(
            request.Series.Select(s => ((string?)s.ParentId, (string?)s.Key)).ToList(),
            (Domain.MetricAxis)request.XAxis,
            request.Start,
            request.HasEnd ? request.End : null,
            (int)Math.Min(request.MaxPoints, int.MaxValue),
            context.CancellationToken);
        var response = new GetMetricSeriesBatchResponse();
        response.Series.Add(reads.Select(read => read.ToProto()));
        return response;
    }

    public override async Task<GetMetricSummariesResponse> GetMetricSummaries(GetMetricSummariesRequest request, ServerCallContext context)
    {
        var summaries = await metricLog.GetSummariesAsync(request.ParentIds, request.Keys, context.CancellationToken);
        var response = new GetMetricSummariesResponse();
        response.Summaries.Add(summaries.Select(summary => summary.ToProto()));
        return response;
    }

    public override async Task<ExportMetricPointsResponse> ExportMetricPoints(ExportMetricPointsRequest request, ServerCallContext context)
    {
        var page = await metricLog.ExportAsync(request.ParentId, request.Key, request.PageSize, request.PageToken, context.CancellationToken);
        var response = new ExportMetricPointsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        response.Values.Add(page.Items.Select(p => p.ToProto()));
        return response;
    }
}
