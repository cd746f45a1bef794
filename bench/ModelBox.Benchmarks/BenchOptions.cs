using System.Globalization;

namespace ModelBox.Benchmarks;

/// <summary>Command-line settings; the defaults keep a full run under two minutes.</summary>
public sealed record BenchOptions
{
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan WarmUp { get; init; } = TimeSpan.FromSeconds(1);

    public IReadOnlyList<int> Concurrencies { get; init; } = [1, 16, 64];

    /// <summary>How many experiments exist before GetExperiment is measured (it reads them round-robin).</summary>
    public int PreCreated { get; init; } = 1000;

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : throw Usage($"{args[i]} needs a value");
            options = args[i] switch
            {
                "--seconds" => options with { Duration = TimeSpan.FromSeconds(Positive(args[i], value)) },
                "--warmup" => options with { WarmUp = TimeSpan.FromSeconds(double.Parse(value, CultureInfo.InvariantCulture)) },
                "--concurrency" => options with { Concurrencies = value.Split(',').Select(c => (int)Positive(args[i], c)).ToArray() },
                "--experiments" => options with { PreCreated = (int)Positive(args[i], value) },
                _ => throw Usage($"unknown option {args[i]}"),
            };
            i++;
        }

        return options;
    }

    private static double Positive(string name, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && number > 0
            ? number
            : throw Usage($"{name} must be a positive number, not '{value}'");

    private static ArgumentException Usage(string problem) => new(
        $"{problem}\nusage: ModelBox.Benchmarks [--seconds 5] [--warmup 1] [--concurrency 1,16,64] [--experiments 1000]");
}
