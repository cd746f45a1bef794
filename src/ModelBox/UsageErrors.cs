using System.CommandLine;
using System.CommandLine.Parsing;

namespace ModelBox.Cli;

/// <summary>
/// Turns System.CommandLine's parse errors into one `error:` line a person can act on: the mistyped command with the
/// nearest real one ("did you mean"), the missing arguments by name, the subcommands a group offers, and the help
/// command of the deepest command that was recognised.
/// </summary>
internal static class UsageErrors
{
    public static string Describe(ParseResult parseResult)
    {
        if (MistypedCommand(parseResult) is { } mistyped)
        {
            var (group, groupPath, word) = mistyped;
            var names = group.Subcommands.Where(c => !c.Hidden).Select(c => c.Name).ToList();
            var nearest = Nearest(word, group.Subcommands.Where(c => !c.Hidden).SelectMany(c => c.Aliases.Prepend(c.Name)));
            return nearest is null
                ? $"`{word}` is not a command of `{groupPath}` (commands: {string.Join(", ", names)}) (see `{groupPath} --help`)"
                : $"`{word}` is not a command of `{groupPath}`; did you mean `{nearest}`? (see `{groupPath} --help`)";
        }

        var command = parseResult.CommandResult.Command;
        var path = CommandPath(parseResult.CommandResult);
        var subcommands = command.Subcommands.Where(c => !c.Hidden).ToList();
        var messages = parseResult.Errors.Select(error =>
            error.Message.StartsWith("Required command was not provided", StringComparison.Ordinal) && subcommands.Count > 0
                ? $"`{path}` needs a command: {string.Join(", ", subcommands.Select(c => c.Name))}"
                : error.Message.StartsWith("Required argument missing", StringComparison.Ordinal)
                    ? $"`{path}` needs {string.Join(" ", MissingArguments(parseResult.CommandResult).Select(a => $"<{a}>"))}"
                    : error.Message.TrimEnd('.'));
        return $"{string.Join("; ", messages.Distinct(StringComparer.Ordinal))} (see `{path} --help`)";
    }

    /// <summary>The first word, before any option, that names no subcommand of a group that has subcommands.</summary>
    private static (Command Group, string Path, string Word)? MistypedCommand(ParseResult parseResult)
    {
        Command current = parseResult.RootCommandResult.Command;
        var path = "modelbox";
        foreach (var token in parseResult.Tokens)
        {
            if (token.Value.StartsWith('-') || token.Type == TokenType.Directive)
            {
                return null;
            }

            var next = current.Subcommands.FirstOrDefault(c => c.Name == token.Value || c.Aliases.Contains(token.Value));
            if (next is null)
            {
                return current.Subcommands.Count > 0 && current.Arguments.Count == 0 ? (current, path, token.Value) : null;
            }

            current = next;
            path += " " + next.Name;
        }

        return null;
    }

    private static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? current = result; current is CommandResult commandResult; current = current.Parent)
        {
            names.Add(commandResult.Command is RootCommand ? "modelbox" : commandResult.Command.Name);
        }

        names.Reverse();
        return string.Join(' ', names);
    }

    private static IEnumerable<string> MissingArguments(CommandResult result) =>
        result.Command.Arguments
            .Where(a => a.Arity.MinimumNumberOfValues > 0 && result.GetResult(a) is not { Tokens.Count: > 0 })
            .Select(a => a.Name);

    /// <summary>The candidate within edit distance 2 (or a third of the word) of <paramref name="word"/>, nearest first.</summary>
    private static string? Nearest(string word, IEnumerable<string> candidates) =>
        candidates
            .Select(c => (Name: c, Distance: Distance(word.ToLowerInvariant(), c.ToLowerInvariant())))
            .Where(c => c.Distance <= Math.Max(2, word.Length / 3) || c.Name.StartsWith(word, StringComparison.OrdinalIgnoreCase))
            .OrderBy(c => c.Distance)
            .ThenBy(c => c.Name, StringComparer.Ordinal)
            .Select(c => c.Name)
            .FirstOrDefault();

    private static int Distance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            previous = current;
        }

        return previous[b.Length];
    }
}
