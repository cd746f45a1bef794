namespace ModelBox.Cli.ClientCommands;

/// <summary>The command line or the client configuration is wrong; the CLI prints it and exits with 2.</summary>
internal sealed class CliUsageException(string message) : Exception(message);

/// <summary>A local operation failed (not a usage mistake, not the server); the CLI prints it and exits with 1.</summary>
internal sealed class CliOperationException(string message) : Exception(message);
