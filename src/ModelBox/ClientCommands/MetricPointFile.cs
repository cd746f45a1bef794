using System.Globalization;
using System.Text.Json;
using ModelBox.Client;

namespace ModelBox.Cli.ClientCommands;

/// <summary>
/// `metrics log --file`: points from a CSV file (header <c>key,value,step[,time]</c>) or JSON lines
/// (<c>{"key": "loss", "value": 0.25, "step": 3, "time": 1714550400}</c>), or stdin with <c>-</c>, streamed through the
/// SDK's batching logger: memory stays bounded whatever the file's size, and a bad line is named by its number.
/// </summary>
internal static class MetricPointFile
{
    /// <summary>Logs every point of <paramref name="source"/> to <paramref name="parentId"/>; returns how many the server stored.</summary>
    public static async Task<long> LogAsync(
        ModelBoxClient client, string parentId, string source, Func<string, double> parseValue, CancellationToken ct)
    {
        using var reader = Open(source);
        var name = source == "-" ? "stdin" : source;
        var logger = client.CreateMetricLogger(parentId);
        await using (logger)
        {
            var lineNumber = 0;
            string[]? header = null;
            bool? json = source.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || source.EndsWith(".ndjson", StringComparison.OrdinalIgnoreCase) ? true
                : source.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? false
                : null;
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                lineNumber++;
                if (line.Trim().Length == 0)
                {
                    continue;
                }

                json ??= line.TrimStart().StartsWith('{');
                (string Key, double Value, long Step, DateTimeOffset? Time) point;
                try
                {
                    if (json.Value)
                    {
                        point = ParseJson(line, parseValue);
                    }
                    else if (header is null)
                    {
                        header = ParseHeader(line);
                        continue;
                    }
                    else
                    {
                        point = ParseCsv(header, line, parseValue);
                    }
                }
                catch (Exception ex) when (ex is CliUsageException or JsonException or FormatException or InvalidOperationException)
                {
                    throw new CliUsageException($"{name} line {lineNumber}: {ex.Message}");
                }

                try
                {
                    await logger.LogAsync(point.Key, point.Value, point.Step, point.Time, ct);
                }
                catch (ArgumentException ex)
                {
                    throw new CliUsageException($"{name} line {lineNumber}: {ex.Message.Split(" (Parameter", 2)[0]}");
                }
            }
        }

        return logger.PointsStored;
    }

    private static TextReader Open(string source)
    {
        if (source == "-")
        {
            return Console.In;
        }

        try
        {
            return new StreamReader(source);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CliUsageException($"--file {source}: no such file");
        }
        catch (UnauthorizedAccessException)
        {
            throw new CliUsageException($"--file {source}: permission denied");
        }
    }

    private static string[] ParseHeader(string line)
    {
        var columns = line.Split(',').Select(c => c.Trim().ToLowerInvariant()).ToArray();
        foreach (var required in (string[])["key", "value"])
        {
            if (!columns.Contains(required))
            {
                throw new CliUsageException($"the CSV header must name the columns key,value[,step][,time], not '{line}'");
            }
        }

        return columns;
    }

    private static (string, double, long, DateTimeOffset?) ParseCsv(string[] header, string line, Func<string, double> parseValue)
    {
        var cells = line.Split(',');
        if (cells.Length != header.Length)
        {
            throw new CliUsageException($"{cells.Length} values for the {header.Length} columns {string.Join(',', header)}");
        }

        string? Cell(string column) => Array.IndexOf(header, column) is >= 0 and var i ? cells[i].Trim() : null;
        var step = Cell("step") is { Length: > 0 } s ? ParseStep(s) : 0;
        var time = Cell("time") is { Length: > 0 } t ? ParseTime(t) : (DateTimeOffset?)null;
        return (Cell("key")!, parseValue(Cell("value")!), step, time);
    }

    private static (string, double, long, DateTimeOffset?) ParseJson(string line, Func<string, double> parseValue)
    {
        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new CliUsageException("each line must be a JSON object with key, value and step");
        }

        var key = root.TryGetProperty("key", out var k) && k.ValueKind == JsonValueKind.String
            ? k.GetString()!
            : throw new CliUsageException("\"key\" (a string) is missing");
        var value = root.TryGetProperty("value", out var v)
            ? v.ValueKind == JsonValueKind.Number ? v.GetDouble() : parseValue(v.ToString())
            : throw new CliUsageException("\"value\" is missing");
        var step = root.TryGetProperty("step", out var s) ? ParseStep(s.ToString()) : 0;
        var time = root.TryGetProperty("time", out var t) ? ParseTime(t.ToString()) : (DateTimeOffset?)null;
        return (key, value, step, time);
    }

    private static long ParseStep(string text) =>
        long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var step) && step >= 0
            ? step
            : throw new CliUsageException($"step '{text}' is not a whole number of 0 or more");

    private static DateTimeOffset ParseTime(string text) =>
        long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds) && seconds > 0 ? DateTimeOffset.FromUnixTimeSeconds(seconds)
        : DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time
        : throw new CliUsageException($"time '{text}' is neither Unix seconds nor an ISO 8601 time");
}
