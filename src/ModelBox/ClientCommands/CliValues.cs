using System.Globalization;
using System.Text.Json;
using ModelBox.Client;

namespace ModelBox.Cli.ClientCommands;

/// <summary>The CLI spellings of SDK enums and the parsers of repeatable <c>key=value</c> options.</summary>
internal static class CliValues
{
    private static readonly (Framework Value, string Name)[] s_frameworks =
    [
        (Framework.Unknown, "unknown"),
        (Framework.PyTorch, "pytorch"),
        (Framework.Keras, "keras"),
        (Framework.TensorFlow, "tensorflow"),
        (Framework.Jax, "jax"),
        (Framework.ScikitLearn, "sklearn"),
        (Framework.XGBoost, "xgboost"),
        (Framework.Transformers, "transformers"),
        (Framework.Onnx, "onnx"),
    ];

    private static readonly (ExperimentStatus Value, string Name)[] s_statuses =
    [
        (ExperimentStatus.Unspecified, "unspecified"),
        (ExperimentStatus.Running, "running"),
        (ExperimentStatus.Finished, "finished"),
        (ExperimentStatus.Failed, "failed"),
        (ExperimentStatus.Killed, "killed"),
    ];

    public static string FrameworkNames { get; } = string.Join(", ", s_frameworks.Skip(1).Select(f => f.Name));

    public static string StatusNames { get; } = string.Join(", ", s_statuses.Skip(1).Select(s => s.Name));

    public static string Name(Framework framework) =>
        s_frameworks.FirstOrDefault(f => f.Value == framework).Name ?? framework.ToString().ToLowerInvariant();

    public static string Name(ExperimentStatus status) =>
        s_statuses.FirstOrDefault(s => s.Value == status).Name ?? status.ToString().ToLowerInvariant();

    public static Framework ParseFramework(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Framework.Unknown;
        }

        foreach (var (value, name) in s_frameworks)
        {
            if (string.Equals(name, text.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        throw new CliUsageException($"unknown framework '{text}' for --framework; expected one of: {FrameworkNames}");
    }

    public static ExperimentStatus? ParseStatus(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        foreach (var (value, name) in s_statuses.Skip(1))
        {
            if (string.Equals(name, text.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        throw new CliUsageException($"unknown status '{text}' for --status; expected one of: {StatusNames}");
    }

    /// <summary>Parses <c>--metric loss=0.25</c> options.</summary>
    public static Dictionary<string, float> ParseMetrics(IEnumerable<string>? pairs)
    {
        var metrics = new Dictionary<string, float>(StringComparer.Ordinal);
        foreach (var pair in pairs ?? [])
        {
            var (key, text) = SplitPair(pair, "--metric");
            if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                throw new CliUsageException($"--metric {pair}: '{text}' is not a number");
            }

            metrics[key] = value;
        }

        return metrics;
    }

    /// <summary>
    /// Parses <c>--metadata key=json</c> options. A value that is not valid JSON is taken as a string, so
    /// <c>--metadata dataset=librispeech</c> works without shell-quoting the JSON quotes.
    /// </summary>
    public static Dictionary<string, JsonElement>? ParseMetadata(IEnumerable<string>? pairs, string option = "--metadata")
    {
        Dictionary<string, JsonElement>? metadata = null;
        foreach (var pair in pairs ?? [])
        {
            var (key, text) = SplitPair(pair, option);
            JsonElement value;
            try
            {
                using var document = JsonDocument.Parse(text);
                value = document.RootElement.Clone();
            }
            catch (JsonException)
            {
                value = JsonSerializer.SerializeToElement(text, CliJson.Options);
            }

            metadata ??= new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            metadata[key] = value;
        }

        return metadata;
    }

    private static (string Key, string Value) SplitPair(string pair, string option)
    {
        var separator = pair.IndexOf('=', StringComparison.Ordinal);
        if (separator <= 0)
        {
            throw new CliUsageException($"{option} '{pair}' must look like key=value");
        }

        return (pair[..separator].Trim(), pair[(separator + 1)..].Trim());
    }
}
