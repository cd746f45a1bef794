using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ModelBox.Client;

namespace ModelBox.Cli.ClientCommands;

/// <summary><c>modelbox client metrics ...</c>: log points, read series.</summary>
internal static class MetricCommands
{
    private static readonly Column<PointRow>[] s_columns =
    [
        new("KEY", r => r.Key),
        new("STEP", r => r.Step.ToString(CultureInfo.InvariantCulture)),
        new("TIME", r => CommandOutput.Time(r.Time)),
        new("VALUE", r => r.Value),
    ];

    private static readonly Column<PointRow>[] s_comparedColumns = [new("PARENT", r => r.ParentId), .. s_columns];

    public static Command Create(ClientGlobalOptions global)
    {
        var command = new Command("metrics", "Log and read metric series of any object");
        command.Aliases.Add("metric");
        command.Add(LogCommand(global));
        command.Add(GetCommand(global));
        return command;
    }

    private static Command LogCommand(ClientGlobalOptions global)
    {
        var parentId = ParentIdOption();
        var key = new Option<string?>("--key") { Description = "The metric key (1 to 250 characters)" };
        var value = new Option<string?>("--value") { Description = "The value: a number, nan, inf or -inf (stored as a double)" };
        var step = new Option<long>("--step") { Description = "The training step (default 0)" };
        var time = new Option<long?>("--time") { Description = "Wall-clock time in Unix seconds (default now)" };
        var file = new Option<string?>("--file")
        {
            Description = "Many points at once instead of --key/--value: a .csv (header key,value,step[,time]) or .jsonl file ({\"key\":..,\"value\":..,\"step\":..}), or - for JSON lines or CSV on stdin",
        };
        var command = new Command("log", "Log one metric point, or many from a file or stdin (--file), batched") { parentId, key, value, step, time, file };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var parent = parseResult.GetRequiredValue(parentId);
            if (parseResult.GetValue(file) is { } source)
            {
                if (parseResult.GetValue(key) is not null || parseResult.GetValue(value) is not null)
                {
                    throw new CliUsageException("--file takes the points from the file: leave out --key and --value");
                }

                var stored = await MetricPointFile.LogAsync(client, parent, source, ParseValue, ct);
                output.WriteOutcome(
                    string.Create(CultureInfo.InvariantCulture, $"Logged {stored} points to {parent}."),
                    new { ParentId = parent, Points = stored });
                return;
            }

            var metricKey = parseResult.GetValue(key) ?? throw new CliUsageException("--key is required (or --file with many points)");
            var number = ParseValue(parseResult.GetValue(value) ?? throw new CliUsageException("--value is required (or --file with many points)"));
            var stepValue = parseResult.GetValue(step);
            if (stepValue < 0)
            {
                throw new CliUsageException($"--step must be 0 or more, not {stepValue}");
            }

            var at = parseResult.GetValue(time) is { } seconds
                ? seconds > 0 ? DateTimeOffset.FromUnixTimeSeconds(seconds) : throw new CliUsageException($"--time must be positive Unix seconds, not {seconds}")
                : DateTimeOffset.UtcNow;
            await client.LogMetricAsync(parent, metricKey, number, stepValue, at, ct);
            output.WriteOutcome(
                string.Create(CultureInfo.InvariantCulture, $"Logged {metricKey}={Text(MetricValue.FromDouble(number))} at step {stepValue} of {parent}."),
                new { ParentId = parent, Key = metricKey, Step = stepValue, Time = DateTimeOffset.FromUnixTimeSeconds(at.ToUnixTimeSeconds()), Value = Json(MetricValue.FromDouble(number)) });
        });
        return command;
    }

    private static Command GetCommand(ClientGlobalOptions global)
    {
        var parentIds = new Option<string[]>("--parent-id")
        {
            Description = "The object: an experiment, checkpoint, model or model version id; repeat it to compare objects (needs --key)",
            Required = true,
        };
        var key = new Option<string?>("--key") { Description = "Only this key (default: every key of one object)" };
        var maxPoints = new Option<int>("--max-points")
        {
            Description = "Downsample each series on the server to at most this many points (0 = every point of one object's series, "
                + "1000 per series when comparing; otherwise at least 2)",
        };
        var axis = new Option<string>("--x-axis") { Description = "What --start and --end measure: step, wall-time (Unix seconds) or relative-time (seconds since the series' first point)", DefaultValueFactory = _ => "step" };
        var start = new Option<long>("--start") { Description = "The first x of the range (inclusive; default 0)" };
        var end = new Option<long?>("--end") { Description = "The last x of the range (inclusive; default the end)" };
        var command = new Command("get", "Show metric series of one object, or one key of many objects in one call")
        {
            parentIds, key, maxPoints, axis, start, end,
        };
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var parents = parseResult.GetRequiredValue(parentIds);
            var max = parseResult.GetValue(maxPoints);
            if (max is < 0 or 1)
            {
                throw new CliUsageException($"--max-points must be 0 or at least 2, not {max}");
            }

            var query = new MetricSeriesQuery
            {
                Axis = parseResult.GetValue(axis) switch
                {
                    "step" => MetricAxis.Step,
                    "wall-time" => MetricAxis.WallTime,
                    "relative-time" => MetricAxis.RelativeTime,
                    var other => throw new CliUsageException($"--x-axis must be step, wall-time or relative-time, not '{other}'"),
                },
                Start = parseResult.GetValue(start) is var first and >= 0 ? first : throw new CliUsageException("--start must be 0 or more"),
                End = parseResult.GetValue(end) is { } last ? last >= 0 ? last : throw new CliUsageException("--end must be 0 or more") : null,
                MaxPoints = max,
            };
            var ranged = query.Axis != MetricAxis.Step || query.Start != 0 || query.End is not null;
            var only = parseResult.GetValue(key);
            if (only is null && (parents.Length > 1 || ranged))
            {
                throw new CliUsageException("--key is required with several --parent-id, --x-axis, --start or --end");
            }

            List<(string ParentId, MetricSeries Series)> series;
            if (only is not null && (parents.Length > 1 || max > 0 || ranged))
            {
                // One call for every object: the server reads each series from its summaries.
                var read = await client.GetMetricSeriesBatchAsync(parents.Select(p => (p, only)), query, ct);
                series = read.Where(s => s.Points.Count > 0).Select(s => (s.ParentId, new MetricSeries(s.Key, s.Points))).ToList();
            }
            else if (only is not null)
            {
                var view = await client.GetMetricSeriesAsync(parents[0], only, maxPoints: 0, cancellationToken: ct);
                series = view.Points.Count == 0 ? [] : [(parents[0], new MetricSeries(view.Key, view.Points))];
            }
            else
            {
                var all = await client.GetMetricsAsync(parents[0], ct);
                series = [];
                foreach (var s in all)
                {
                    var points = max > 0 ? (await client.GetMetricSeriesAsync(parents[0], s.Key, maxPoints: max, cancellationToken: ct)).Points : s.Points;
                    series.Add((parents[0], new MetricSeries(s.Key, points)));
                }
            }

            if (output.IsJson)
            {
                output.WriteList(
                    series.Select(s => new SeriesJson(s.ParentId, s.Series.Key, s.Series.Points.Select(p => new PointJson(p.Step, p.Time, Kind(p.Value.Kind), Json(p.Value))).ToArray())).ToArray(),
                    [],
                    "");
                return;
            }

            var rows = series.SelectMany(s => s.Series.Points.Select(p => new PointRow(s.ParentId, s.Series.Key, p.Step, p.Time, Text(p.Value)))).ToArray();
            output.WriteList(rows, parents.Length > 1 ? s_comparedColumns : s_columns, "No metrics.");
        });
        return command;
    }

    private static Option<string> ParentIdOption() =>
        new("--parent-id") { Description = "The object: an experiment, checkpoint, model or model version id", Required = true };

    private static double ParseValue(string text) => text.Trim().ToLowerInvariant() switch
    {
        "nan" => double.NaN,
        "inf" or "+inf" or "infinity" => double.PositiveInfinity,
        "-inf" or "-infinity" => double.NegativeInfinity,
        var number when double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) => value,
        _ => throw new CliUsageException($"--value '{text}' is not a number (use nan, inf or -inf for those)"),
    };

    private static string Kind(MetricValueKind kind) => kind switch
    {
        MetricValueKind.Float => "float",
        MetricValueKind.Double => "double",
        MetricValueKind.String => "string",
        _ => "bytes",
    };

    private static string Text(MetricValue value) => value.Kind switch
    {
        MetricValueKind.Float or MetricValueKind.Double when double.IsNaN(value.Number) => "NaN",
        MetricValueKind.Float or MetricValueKind.Double when double.IsPositiveInfinity(value.Number) => "Infinity",
        MetricValueKind.Float or MetricValueKind.Double when double.IsNegativeInfinity(value.Number) => "-Infinity",
        _ => value.ToString(),
    };

    /// <summary>Numbers as JSON numbers; NaN and infinities as the strings proto3's JSON mapping uses; bytes as base64.</summary>
    private static JsonElement Json(MetricValue value) => value.Kind switch
    {
        MetricValueKind.Float or MetricValueKind.Double when double.IsFinite(value.Number) =>
            // A float prints as its shortest decimal (0.1, not 0.100000001490116).
            JsonSerializer.SerializeToElement(value.Kind == MetricValueKind.Float
                ? double.Parse(((float)value.Number).ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)
                : value.Number),
        _ => JsonSerializer.SerializeToElement(Text(value)),
    };

    private sealed record PointRow(string ParentId, string Key, long Step, DateTimeOffset Time, string Value);

    private sealed record PointJson(long Step, DateTimeOffset Time, string Kind, JsonElement Value);

    private sealed record SeriesJson(string ParentId, string Key, IReadOnlyList<PointJson> Points);
}
