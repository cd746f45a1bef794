using System.CommandLine;

namespace ModelBox.Cli.ClientCommands;

/// <summary>The <c>modelbox client</c> command: the CLI over the ModelBox SDK.</summary>
public static class ClientCommand
{
    /// <summary>Builds the <c>client</c> command and its subcommands.</summary>
    public static Command Create()
    {
        var global = new ClientGlobalOptions();
        var command = new Command("client", "Talk to a ModelBox server: experiments, checkpoints, models, model versions, namespaces");
        global.AddTo(command);
        command.Add(InitConfigCommand.Create(global));
        command.Add(ExperimentCommands.Create(global));
        command.Add(CheckpointCommands.Create(global));
        command.Add(ModelCommands.Create(global));
        command.Add(ModelVersionCommands.Create(global));
        command.Add(NamespaceCommands.Create(global));
        command.Add(HealthCommand.Create(global));
        command.Add(MetricCommands.Create(global));
        command.Add(MetadataCommands.Create(global));
        command.Add(EventCommands.Create(global));
        command.Add(WatchCommand.Create(global));
        command.Add(ArtifactCommands.Create(global));
        command.Add(RegistryCommands.DatasetsCommand(global));
        command.Add(RegistryCommands.LineageCommand(global));
        command.Add(RegistryCommands.SearchCommand(global));
        command.Add(AccessCommands.WhoAmI(global));
        command.Add(AccessCommands.Principals(global));
        command.Add(AccessCommands.Tokens(global));
        command.Add(AccessCommands.Grants(global));
        // The original CLI listed models with `modelbox client list`; keep that spelling working.
        command.Add(ModelCommands.ListCommand(global));
        return command;
    }
}
