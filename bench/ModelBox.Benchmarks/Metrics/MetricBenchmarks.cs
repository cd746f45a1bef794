using System.Globalization;

namespace ModelBox.Benchmarks.Metrics;

/// <summary>The metric benchmark modes: <c>metrics-layout</c>, <c>metrics-ingest</c>, <c>metrics-series</c>, <c>metrics-read</c>, <c>metrics-read-stores</c>.</summary>
public static class MetricBenchmarks
{
    public static async Task RunAsync(string[] args)
    {
        var points = Option(args, "--points", 2_000_000);

        switch (args[0])
        {
            case "metrics-layout":
                await MetricLayoutBenchmark.RunAsync(points);
                break;
            case "metrics-ingest":
                await MetricIngestBenchmark.RunIngestAsync(points, Option(args, "--keys", 100), args.Contains("--upkeep-cost"), Option(args, "--in-flight", 4));
                break;
            case "metrics-series":
                await MetricIngestBenchmark.RunSeriesAsync(Option(args, "--points", 1_000_000), Option(args, "--calls", 50));
                break;
            case "metrics-read":
                await MetricReadBenchmark.RunEmbeddedAsync(
                    Option(args, "--points", 1_000_000), Option(args, "--series", 100), Option(args, "--series-points", 100_000), Option(args, "--calls", 30));
                break;
            case "metrics-read-stores":
                await MetricReadBenchmark.RunStoresAsync(Option(args, "--points", 1_000_000), Option(args, "--calls", 30));
                break;
            default:
                throw new ArgumentException($"unknown mode {args[0]}; expected metrics-layout, metrics-ingest, metrics-series, metrics-read or metrics-read-stores");
        }
    }

    internal static int Option(string[] args, string name, int fallback)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
