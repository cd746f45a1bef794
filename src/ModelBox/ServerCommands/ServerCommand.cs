using System.CommandLine;
using System.Data.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelBox.Domain;
using ModelBox.Server.Configuration;
using ModelBox.Cli.Hosting;
using ModelBox.Server.Hosting;

namespace ModelBox.Cli.ServerCommands;

/// <summary>`modelbox server ...`: run the metadata server and manage its configuration.</summary>
public static class ServerCommand
{
    public static Command Create()
    {
        var server = new Command("server", "Run and configure the ModelBox metadata server");
        server.Subcommands.Add(CreateStart());
        server.Subcommands.Add(CreateMigrate());
        server.Subcommands.Add(CreateInitConfig());
        server.Subcommands.Add(VerifyCommand.Create());
        server.Subcommands.Add(BackupCommands.CreateBackup());
        server.Subcommands.Add(BackupCommands.CreateRestore());
        server.Subcommands.Add(CopyDataCommand.Create());
        server.Subcommands.Add(CreateBootstrapAdmin());
        var reference = new Command("config-reference", "Print the configuration reference as a Markdown table (docs/operations.md embeds it)");
        reference.SetAction(_ => Console.Write(ServerConfigLoader.ReferenceMarkdown()));
        server.Subcommands.Add(reference);
        return server;
    }

    private static Command CreateStart()
    {
        var configPath = new Option<string?>("--config-path")
        {
            Description = "TOML configuration file; without one the server runs on the embedded default (SQLite + blobs under ./modelbox-data)",
        };
        var logFormat = new Option<string?>("--log-format")
        {
            Description = "Log output: text (human-readable lines) or json (one JSON object per line); overrides log_format",
        };
        logFormat.AcceptOnlyFromAmong("text", "json");
        var start = new Command("start", "Start the metadata server (gRPC on listen_addr, default 0.0.0.0:8085)") { configPath, logFormat };
        start.SetAction(async (parseResult, cancellationToken) =>
        {
            ServerConfig config;
            try
            {
                config = ServerConfigLoader.Load(parseResult.GetValue(configPath));
                if (parseResult.GetValue(logFormat) is { } format)
                {
                    config = config with { LogFormat = format };
                }
            }
            catch (ConfigurationException ex)
            {
                await Console.Error.WriteLineAsync($"error: {ex.Message}");
                return 1;
            }

            DataFolderLock? folderLock = null;
            try
            {
                // The embedded database belongs to one process; servers on PostgreSQL/MySQL share theirs by design.
                folderLock = config.MetadataStorage == "integrated" ? DataFolderLock.Acquire(config.DataDir) : null;
                await using var host = ServerStorage.CreateServer(config);
                if (folderLock is not null)
                {
                    var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ModelBox.Server.Start");
                    if (folderLock.CreatedFolder)
                    {
                        ServerStartLog.FirstStart(logger, Path.GetFullPath(config.DataDir), config.SqliteDatabasePath, config.BlobDirectory);
                    }

                    ServerStartLog.DataFolderLocked(logger, Path.GetFullPath(config.DataDir), Environment.ProcessId);
                }

                await host.RunAsync(cancellationToken);
                return 0;
            }
            catch (IOException ex) when (ex.InnerException is System.Net.Sockets.SocketException || ex.Message.Contains("address", StringComparison.OrdinalIgnoreCase))
            {
                await Console.Error.WriteLineAsync(
                    $"error: {ex.Message.TrimEnd('.')} (listeners: listen_addr {config.ListenAddr}, http_listen_addr {config.HttpListenAddr}, prometheus.listen_addr {config.PrometheusListenAddr})");
                return 1;
            }
            catch (Exception ex) when (StartupFailure(ex, config) is { } message)
            {
                await Console.Error.WriteLineAsync($"error: {message}");
                return 1;
            }
            finally
            {
                folderLock?.Dispose();
            }
        });
        return start;
    }

    private static Command CreateMigrate()
    {
        var configPath = ConfigPathOption("the metadata store to migrate");
        var migrate = new Command("migrate", "Apply pending schema migrations to the metadata store, print its schema version, and exit") { configPath };
        migrate.SetAction(async (parseResult, cancellationToken) => await RunMaintenanceAsync(parseResult.GetValue(configPath), async config =>
        {
            // Log lines (the migrations applied) go to stderr; stdout carries only the result.
            await using var host = CreateMaintenanceServer(config);
            var (before, after) = await host.MigrateAsync(cancellationToken);
            Console.WriteLine(before.CurrentVersion == after.CurrentVersion
                ? $"{config.MetadataStorage} at {config.MetadataLocation}: schema version {after.CurrentVersion}, up to date"
                : $"{config.MetadataStorage} at {config.MetadataLocation}: migrated from schema version {before.CurrentVersion} to {after.CurrentVersion}");
            return 0;
        }));
        return migrate;
    }

    /// <summary>A server composed for a one-shot maintenance command: not started, its log lines on stderr only.</summary>
    private static ModelBoxServer CreateMaintenanceServer(ServerConfig config) => ServerStorage.CreateServer(config, logging => logging
        .AddSimpleConsole(o => o.SingleLine = true)
        .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
        .AddFilter("Microsoft", LogLevel.Warning)
        .AddFilter("Grpc", LogLevel.Warning));

    /// <summary>The --config-path option of a maintenance command.</summary>
    internal static Option<string?> ConfigPathOption(string what) => new("--config-path")
    {
        Description = $"TOML configuration file of {what}; without one, the embedded default (SQLite + blobs under ./modelbox-data)",
    };

    /// <summary>
    /// Loads the configuration at <paramref name="path"/> and runs a maintenance command over it; failures an operator can
    /// act on (configuration, an unreachable database, a schema this build does not know) end as one `error:` line and 1.
    /// </summary>
    internal static async Task<int> RunMaintenanceAsync(string? path, Func<ServerConfig, Task<int>> run)
    {
        ServerConfig? config = null;
        try
        {
            config = ServerConfigLoader.Load(path);
            return await run(config);
        }
        catch (Exception ex) when (MaintenanceFailure(ex, config) is { } message)
        {
            await Console.Error.WriteLineAsync($"error: {message}");
            return 1;
        }
    }

    private static string? MaintenanceFailure(Exception exception, ServerConfig? config) => exception switch
    {
        ConfigurationException or Storage.Relational.Transfer.UnknownTableException or InvalidDataException => exception.Message,
        Microsoft.Extensions.Options.OptionsValidationException => exception.Message,
        _ when config is not null && StartupFailure(exception, config) is { } message => message,
        ModelBoxException => exception.Message,
        _ => null,
    };

    private static Command CreateBootstrapAdmin()
    {
        var configPath = ConfigPathOption("the deployment whose first admin to create");
        var name = new Option<string?>("--name") { Description = "The admin user's name [default: admin]" };
        var force = new Option<bool>("--force") { Description = "Create the admin and a token even when an admin exists (a lost token)" };
        var bootstrap = new Command(
            "bootstrap-admin", "Create the first admin user and an API token for it, print the token once (to stdout), and exit") { configPath, name, force };
        bootstrap.SetAction(async (parseResult, cancellationToken) => await RunMaintenanceAsync(parseResult.GetValue(configPath), async config =>
        {
            await using var host = CreateMaintenanceServer(config);
            await host.MigrateAsync(cancellationToken);
            var directory = host.Services.GetRequiredService<ModelBox.Domain.Access.AccessDirectory>();
            var created = await directory.BootstrapAdminAsync(parseResult.GetValue(name), parseResult.GetValue(force), cancellationToken);
            if (created is not { } admin)
            {
                await Console.Error.WriteLineAsync("error: an admin exists already; an admin creates more tokens with `modelbox client tokens create` (or use --force)");
                return 1;
            }

            Console.WriteLine(admin.Token);
            await Console.Error.WriteLineAsync(
                $"created token {admin.Listing.Prefix} for {admin.Listing.PrincipalId}; it is shown once: set it as MODELBOX_TOKEN"
                + (config.AuthEnforced ? string.Empty : "; [auth] mode is \"none\": set it to \"enforced\" for tokens to matter"));
            return 0;
        }));
        return bootstrap;
    }

    /// <summary>The one-line message for a failure an operator can act on; null lets anything else crash loudly.</summary>
    private static string? StartupFailure(Exception exception, ServerConfig config) => exception switch
    {
        ConfigurationException or SchemaTooNewException => exception.Message,
        ModelBoxException { Kind: ErrorKind.Unavailable } or DbException =>
            $"cannot use the {config.MetadataStorage} metadata store at {config.MetadataLocation}: {exception.Message}",
        _ => null,
    };

    private static Command CreateInitConfig()
    {
        var path = new Option<string>("--path") { Description = "Where to write the file", DefaultValueFactory = _ => "modelbox.toml" };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing file" };
        var init = new Command("init-config", "Write a server configuration file with every key and its default") { path, force };
        init.SetAction(async (parseResult, cancellationToken) =>
        {
            var target = parseResult.GetValue(path)!;
            if (File.Exists(target) && !parseResult.GetValue(force))
            {
                await Console.Error.WriteLineAsync($"error: {target} already exists (use --force to overwrite)");
                return 1;
            }

            await File.WriteAllTextAsync(target, ServerConfigLoader.DefaultToml(), cancellationToken);
            Console.WriteLine($"wrote {Path.GetFullPath(target)}");
            return 0;
        });
        return init;
    }
}
