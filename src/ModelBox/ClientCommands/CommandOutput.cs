using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace ModelBox.Cli.ClientCommands;

/// <summary>The output format chosen with <c>--output</c>.</summary>
internal enum OutputFormat
{
    /// <summary>Aligned tables and key/value views for people.</summary>
    Table,
    /// <summary>Undecorated JSON for scripts.</summary>
    Json,
}

/// <summary>One column of a list table.</summary>
internal sealed record Column<T>(string Header, Func<T, string> Value);

/// <summary>Writes results to standard output, as tables for people or as JSON for scripts.</summary>
internal sealed class CommandOutput
{
    // Wide enough that ids and names never wrap when the output goes to a file or a pipe.
    private const int RedirectedWidth = 512;

    private readonly OutputFormat _format;
    private readonly TextWriter _writer;
    private readonly Lazy<IAnsiConsole> _console;

    public CommandOutput(OutputFormat format, TextWriter writer)
    {
        _format = format;
        _writer = writer;
        _console = new Lazy<IAnsiConsole>(CreateConsole);
    }

    /// <summary>True when scripts read the output (<c>--output json</c>).</summary>
    public bool IsJson => _format == OutputFormat.Json;

    /// <summary>True when a person watches a terminal: progress bars are drawn only then.</summary>
    public bool IsInteractive => !IsJson && !Console.IsOutputRedirected;

    /// <summary>The console tables and progress bars are drawn on.</summary>
    public IAnsiConsole Ansi => _console.Value;

    /// <summary>Writes one line of plain text (table mode only).</summary>
    public void WriteLine(string line)
    {
        if (!IsJson)
        {
            _writer.WriteLine(Printable(line));
        }
    }

    /// <summary>
    /// Text as it may reach a terminal: control characters (C0, DEL, C1 — escape sequences start with them) and the
    /// bidirectional overrides that reorder what is shown become visible escapes such as <c>\x1B</c> or <c>\u202E</c>, so
    /// text another user stored (a description, a name, a metadata value) can never move the cursor, recolour, retitle or
    /// rewrite someone's terminal, nor fake extra lines. JSON output is exact instead (JSON escapes them itself).
    /// </summary>
    public static string Printable(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!text.AsSpan().ContainsAny(Unprintable))
        {
            return text;
        }

        var builder = new System.Text.StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            if (Unprintable.Contains(c))
            {
                builder.Append(c <= '\u00ff' ? $"\\x{(int)c:X2}" : $"\\u{(int)c:X4}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static readonly System.Buffers.SearchValues<char> Unprintable = System.Buffers.SearchValues.Create(
        [.. Enumerable.Range(0, 0x20).Select(i => (char)i), .. Enumerable.Range(0x7f, 0x21).Select(i => (char)i),
         '\u061c', '\u200e', '\u200f', .. Enumerable.Range(0x202a, 5).Select(i => (char)i), .. Enumerable.Range(0x2066, 4).Select(i => (char)i)]);

    /// <summary>Writes one object: JSON, or a key/value view.</summary>
    public void WriteObject<T>(T value, IEnumerable<(string Key, string Value)> fields)
    {
        if (_format == OutputFormat.Json)
        {
            WriteJson(value);
            return;
        }

        var grid = new Grid().AddColumn(new GridColumn().NoWrap().PadRight(2)).AddColumn();
        foreach (var (key, text) in fields)
        {
            grid.AddRow(new Text(Printable(key), new Style(decoration: Decoration.Bold)), new Text(Printable(text)));
        }

        _console.Value.Write(grid);
    }

    /// <summary>Writes a list: a JSON array, or an aligned table.</summary>
    public void WriteList<T>(IReadOnlyList<T> items, IReadOnlyList<Column<T>> columns, string emptyMessage)
    {
        if (_format == OutputFormat.Json)
        {
            WriteJson(items);
            return;
        }

        if (items.Count == 0)
        {
            _writer.WriteLine(Printable(emptyMessage));
            return;
        }

        var table = new Table().Border(TableBorder.Rounded);
        foreach (var column in columns)
        {
            table.AddColumn(new TableColumn(new Text(column.Header, new Style(decoration: Decoration.Bold))));
        }

        foreach (var item in items)
        {
            table.AddRow(columns.Select(c => (IRenderable)new Text(Printable(c.Value(item)))).ToArray());
        }

        _console.Value.Write(table);
    }

    /// <summary>Writes a map: one JSON object, or a table of its entries.</summary>
    public void WriteMap<TKey, TValue>(IReadOnlyDictionary<TKey, TValue> map, IReadOnlyList<KeyValuePair<TKey, TValue>> rows, IReadOnlyList<Column<KeyValuePair<TKey, TValue>>> columns, string emptyMessage)
        where TKey : notnull
    {
        if (_format == OutputFormat.Json)
        {
            WriteJson(map);
            return;
        }

        WriteList(rows, columns, emptyMessage);
    }

    /// <summary>Writes the outcome of an operation without an object (a delete): a sentence, or the JSON of <paramref name="json"/>.</summary>
    public void WriteOutcome(string sentence, object json)
    {
        if (_format == OutputFormat.Json)
        {
            WriteJson(json);
            return;
        }

        _writer.WriteLine(Printable(sentence));
    }

    public static string Time(DateTimeOffset? time) =>
        time is { } t && t != default ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture) : "";

    public static string Metadata(IReadOnlyDictionary<string, JsonElement> metadata) =>
        string.Join(", ", metadata.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => $"{m.Key}={m.Value.GetRawText()}"));

    private void WriteJson<T>(T value)
    {
        _writer.WriteLine(JsonSerializer.Serialize(value, CliJson.Options));
    }

    private IAnsiConsole CreateConsole()
    {
        var redirected = Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(_writer),
            Ansi = redirected ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = redirected ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Interactive = InteractionSupport.No,
        });
        if (redirected)
        {
            console.Profile.Width = RedirectedWidth;
        }

        return console;
    }
}
