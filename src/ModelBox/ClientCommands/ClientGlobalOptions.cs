using System.CommandLine;
using ModelBox.Client;

namespace ModelBox.Cli.ClientCommands;

/// <summary>The options every <c>modelbox client</c> subcommand accepts, and the wrapper that runs a subcommand.</summary>
internal sealed class ClientGlobalOptions
{
    public Option<string?> ServerAddress { get; } = new("--server-addr")
    {
        Description = $"The server address, host:port or http(s)://host:port [env: {ClientSettings.ServerAddressVariable}; default: {ClientSettings.DefaultServerAddress}]",
        HelpName = "address",
        Recursive = true,
    };

    public Option<string?> ConfigPath { get; } = new("--config-path")
    {
        Description = $"The client config file [default: ./{ClientSettings.DefaultConfigFileName} when it exists]",
        HelpName = "file",
        Recursive = true,
    };

    public Option<OutputFormat> Output { get; } = new("--output", "-o")
    {
        Description = "Output format: table for people, json for scripts",
        HelpName = "table|json",
        DefaultValueFactory = _ => OutputFormat.Table,
        Recursive = true,
    };

    public void AddTo(Command command)
    {
        command.Add(ServerAddress);
        command.Add(ConfigPath);
        command.Add(Output);
    }

    /// <summary>Sets a command's action to run <paramref name="body"/> with a connected SDK client.</summary>
    public void SetClientAction(Command command, Func<ParseResult, ModelBoxClient, CommandOutput, CancellationToken, Task> body)
    {
        command.SetAction((parseResult, cancellationToken) => RunAsync(parseResult, async (output, ct) =>
        {
            var settings = ClientSettings.Resolve(
                parseResult.GetValue(ServerAddress),
                parseResult.GetValue(ConfigPath),
                Environment.GetEnvironmentVariable,
                Directory.GetCurrentDirectory());
            ModelBoxClient client;
            try
            {
                // The audit trail names who ran the command: MODELBOX_ACTOR, else the OS user.
                client = new ModelBoxClient(
                    settings.ServerAddress,
                    new ModelBoxClientOptions
                    {
                        Actor = Environment.GetEnvironmentVariable("MODELBOX_ACTOR") ?? Environment.UserName,
                        Token = settings.Token,
                    });
            }
            catch (ArgumentException exception)
            {
                throw new CliUsageException(exception.Message);
            }

            await using (client)
            {
                await body(parseResult, client, output, ct);
            }
        }, cancellationToken));
    }

    /// <summary>Sets a command's action to run <paramref name="body"/> without a server.</summary>
    public void SetLocalAction(Command command, Func<ParseResult, CommandOutput, CancellationToken, Task> body) =>
        command.SetAction((parseResult, cancellationToken) =>
            RunAsync(parseResult, (output, ct) => body(parseResult, output, ct), cancellationToken));

    // Every failure a user can cause ends here: one line on stderr, no stack trace, an exit code scripts can test.
    private async Task<int> RunAsync(ParseResult parseResult, Func<CommandOutput, CancellationToken, Task> body, CancellationToken cancellationToken)
    {
        var output = new CommandOutput(parseResult.GetValue(Output), Console.Out);
        try
        {
            await body(output, cancellationToken);
            return ExitCodes.Success;
        }
        catch (CliUsageException exception)
        {
            return Fail(exception.Message, ExitCodes.Usage);
        }
        catch (CliOperationException exception)
        {
            return Fail(exception.Message, ExitCodes.Failure);
        }
        catch (ModelBoxUnauthenticatedException exception)
        {
            return Fail(
                $"{exception.Message}; supply an API token in {ClientSettings.TokenVariable} or as `token = \"mbx_...\"` in the client config "
                + "(an admin creates one with `modelbox client tokens create`, or `modelbox server bootstrap-admin` on the server)",
                ExitCodes.Failure);
        }
        catch (ModelBoxException exception)
        {
            return Fail(exception.Message, ExitCodes.Failure);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Fail("cancelled", ExitCodes.Cancelled);
        }
        catch (IOException exception)
        {
            return Fail(exception.Message, ExitCodes.Failure);
        }
        catch (UnauthorizedAccessException exception)
        {
            return Fail(exception.Message, ExitCodes.Failure);
        }
    }

    private static int Fail(string message, int exitCode)
    {
        Console.Error.WriteLine($"error: {CommandOutput.Printable(message)}");
        return exitCode;
    }
}

/// <summary>The exit codes of <c>modelbox client</c>.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    /// <summary>The server refused or could not be reached, or a local operation failed.</summary>
    public const int Failure = 1;
    /// <summary>The command line or the client config is wrong.</summary>
    public const int Usage = 2;
    /// <summary>Interrupted (Ctrl+C), as shells report SIGINT.</summary>
    public const int Cancelled = 130;
}
