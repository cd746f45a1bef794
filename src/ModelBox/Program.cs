using System.CommandLine;
using ModelBox.Cli.ClientCommands;
using ModelBox.Cli.ServerCommands;

var root = new RootCommand("ModelBox: metadata for AI experiments and models.\n  modelbox server ...  runs the metadata server\n  modelbox client ...  talks to one");
root.Subcommands.Add(ServerCommand.Create());
root.Subcommands.Add(ClientCommand.Create());

var parseResult = root.Parse(args);
if (parseResult.Errors.Count > 0 && !args.Any(a => a is "-h" or "--help" or "-?"))
{
    // Usage mistakes get the same one-line `error:` shape as every other failure, and exit code 2.
    var messages = string.Join("; ", parseResult.Errors.Select(e => e.Message));
    var command = string.Join(' ', args.TakeWhile(a => !a.StartsWith('-')).Take(3));
    await Console.Error.WriteLineAsync($"error: {messages} (see `modelbox {command} --help`)");
    return 2;
}

return await parseResult.InvokeAsync();
