using System.Diagnostics.Metrics;

namespace ModelBox.Domain.Telemetry;

/// <summary>
/// ModelBox's own instruments, on a System.Diagnostics.Metrics meter so any layer can record without knowing the
/// exporter; the server bridges them to its Prometheus endpoint (dots become underscores, counters get _total).
/// </summary>
public static class ModelBoxMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "ModelBox";

    /// <summary>The meter every instrument belongs to.</summary>
    public static readonly Meter Meter = new(MeterName, "1.0");

    /// <summary>gRPC calls completed, by method and status code.</summary>
    public static readonly Counter<long> RpcCalls = Meter.CreateCounter<long>("modelbox.rpc.calls", "{call}", "gRPC calls completed, by method and status code");

    /// <summary>gRPC call latency in seconds, by method.</summary>
    public static readonly Histogram<double> RpcDuration = Meter.CreateHistogram<double>("modelbox.rpc.duration", "s", "gRPC call latency, by method");

    /// <summary>Streaming calls in progress, by method.</summary>
    public static readonly UpDownCounter<long> StreamsInFlight = Meter.CreateUpDownCounter<long>("modelbox.rpc.streams_in_flight", "{stream}", "Streaming calls in progress, by method");

    /// <summary>Artifact bytes received from clients.</summary>
    public static readonly Counter<long> BytesUploaded = Meter.CreateCounter<long>("modelbox.artifacts.bytes_uploaded", "By", "Artifact bytes received from clients");

    /// <summary>Artifact bytes sent to clients.</summary>
    public static readonly Counter<long> BytesDownloaded = Meter.CreateCounter<long>("modelbox.artifacts.bytes_downloaded", "By", "Artifact bytes sent to clients");

    /// <summary>Metric points stored.</summary>
    public static readonly Counter<long> MetricPointsIngested = Meter.CreateCounter<long>("modelbox.metrics.points_ingested", "{point}", "Metric points stored");

    /// <summary>Change-stream watchers connected.</summary>
    public static readonly UpDownCounter<long> WatchersConnected = Meter.CreateUpDownCounter<long>("modelbox.changes.watchers", "{watcher}", "Change-stream watchers connected");

    /// <summary>Buffer memory held for streams, by kind: <c>download</c> (reserved windows) and <c>watch</c> (change records
    /// waiting in watchers' buffers or in a catch-up page).</summary>
    public static readonly UpDownCounter<long> StreamMemory = Meter.CreateUpDownCounter<long>("modelbox.streams.memory_bytes", "By", "Buffer memory held for streams, by kind");

    /// <summary>HTTP/2 streams Kestrel reused with a stale "scheduled" flag that the server cleared (see the server's
    /// Http2StreamReuseGuard); each is a call that would otherwise have hung.</summary>
    public static readonly Counter<long> Http2StaleSchedules = Meter.CreateCounter<long>(
        "modelbox.http2.stale_schedules", "{stream}", "Reused HTTP/2 streams whose stale scheduled flag was cleared (calls that would have hung)");

    /// <summary>Storage operation latency in seconds, by backend and operation (read or write).</summary>
    public static readonly Histogram<double> StorageDuration = Meter.CreateHistogram<double>("modelbox.storage.duration", "s", "Storage operation latency, by backend and operation");
}
