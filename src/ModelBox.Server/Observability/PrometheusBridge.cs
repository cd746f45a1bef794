using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ModelBox.Domain.Telemetry;
using Prometheus;

namespace ModelBox.Server.Observability;

/// <summary>
/// Publishes the ModelBox meter's instruments as native Prometheus metrics with conventional names and types
/// (<c>modelbox.rpc.calls</c> → counter <c>modelbox_rpc_calls_total</c>, seconds histograms → <c>_seconds</c>), which
/// the generic meter adapter cannot do (it exports counters as gauges). One listener per process: the Prometheus
/// registry is process-wide too.
/// </summary>
internal static class PrometheusBridge
{
    private static readonly double[] SecondsBuckets = Histogram.ExponentialBuckets(0.0001, 2, 18);
    private static readonly ConcurrentDictionary<Instrument, Action<double, ReadOnlySpan<KeyValuePair<string, object?>>>> Sinks = new();
    private static readonly Lazy<MeterListener> Listener = new(Start);

    /// <summary>Starts the bridge once; later calls do nothing.</summary>
    public static void EnsureStarted() => _ = Listener.Value;

    private static MeterListener Start()
    {
        // The generic adapter keeps exporting ASP.NET Core's and the runtime's meters; ours go through the bridge only.
        Metrics.ConfigureMeterAdapter(options =>
            options.InstrumentFilterPredicate = instrument => instrument.Meter.Name != ModelBoxMetrics.MeterName);

        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == ModelBoxMetrics.MeterName && CreateSink(instrument) is { } sink)
                {
                    Sinks[instrument] = sink;
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        listener.Start();
        return listener;
    }

    private static void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (Sinks.TryGetValue(instrument, out var sink))
        {
            sink(value, tags);
        }
    }

    private static Action<double, ReadOnlySpan<KeyValuePair<string, object?>>>? CreateSink(Instrument instrument)
    {
        var name = instrument.Name.Replace('.', '_');
        var help = instrument.Description ?? instrument.Name;
        var labels = LabelsOf(instrument.Name);
        switch (instrument)
        {
            case Counter<long> or Counter<double>:
                var counter = Metrics.CreateCounter(name + "_total", help, labels);
                return (value, tags) => counter.WithLabels(Values(labels, tags)).Inc(value);
            case UpDownCounter<long> or UpDownCounter<double>:
                var gauge = Metrics.CreateGauge(name, help, labels);
                return (value, tags) => gauge.WithLabels(Values(labels, tags)).Inc(value);
            case Histogram<double>:
                var histogram = Metrics.CreateHistogram(
                    instrument.Unit == "s" ? name + "_seconds" : name,
                    help,
                    new HistogramConfiguration { LabelNames = labels, Buckets = SecondsBuckets });
                return (value, tags) => histogram.WithLabels(Values(labels, tags)).Observe(value);
            default:
                return null;
        }
    }

    /// <summary>The label names each instrument is recorded with (Prometheus needs them up front).</summary>
    private static string[] LabelsOf(string instrument) => instrument switch
    {
        "modelbox.rpc.calls" => ["method", "code"],
        "modelbox.rpc.duration" or "modelbox.rpc.streams_in_flight" => ["method"],
        "modelbox.storage.duration" => ["backend", "operation"],
        _ => [],
    };

    private static string[] Values(string[] labels, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var values = new string[labels.Length];
        for (var i = 0; i < labels.Length; i++)
        {
            values[i] = string.Empty;
            foreach (var tag in tags)
            {
                if (tag.Key == labels[i])
                {
                    values[i] = tag.Value?.ToString() ?? string.Empty;
                    break;
                }
            }
        }

        return values;
    }
}
