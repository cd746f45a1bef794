using System.CommandLine;
using ModelBox.Cli.Client;
using ModelBox.Cli.Server;

var root = new RootCommand("ModelBox: metadata for AI experiments and models.\n  modelbox server ...  runs the metadata server\n  modelbox client ...  talks to one");
root.Subcommands.Add(ServerCommand.Create());
root.Subcommands.Add(ClientCommand.Create());
return await root.Parse(args).InvokeAsync();
