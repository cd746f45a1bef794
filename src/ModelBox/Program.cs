using System.CommandLine;
using ModelBox.Cli;
using ModelBox.Cli.ClientCommands;
using ModelBox.Cli.ServerCommands;

var root = new RootCommand("ModelBox: metadata for AI experiments and models.\n  modelbox server ...  runs the metadata server\n  modelbox client ...  talks to one\n  modelbox completion bash|zsh|fish  shell completion");
root.Subcommands.Add(ServerCommand.Create());
root.Subcommands.Add(ClientCommand.Create());
root.Subcommands.Add(CompletionCommand.Create());

var parseResult = root.Parse(args);
if (parseResult.Errors.Count > 0 && !args.Any(a => a is "-h" or "--help" or "-?"))
{
    // Usage mistakes get the same one-line `error:` shape as every other failure, and exit code 2.
    await Console.Error.WriteLineAsync($"error: {UsageErrors.Describe(parseResult)}");
    return 2;
}

return await parseResult.InvokeAsync();
