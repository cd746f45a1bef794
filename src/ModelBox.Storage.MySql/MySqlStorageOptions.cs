namespace ModelBox.Storage.MySql;

/// <summary>How the MySQL/MariaDB backend connects.</summary>
public sealed record MySqlStorageOptions
{
    /// <summary>A MySqlConnector connection string (Server, Port, User ID, Password, Database, ...).</summary>
    public required string ConnectionString { get; init; }

    /// <summary>The most connections one server process opens.</summary>
    public int MaxPoolSize { get; init; } = 100;

    /// <summary>How long one statement may run before it is cancelled (0: no limit).</summary>
    public int StatementTimeoutSeconds { get; init; } = 30;

    /// <summary>How often watchers look for changes committed by other replicas (MySQL has no notifications).</summary>
    public TimeSpan ChangePollInterval { get; init; } = TimeSpan.FromMilliseconds(200);
}
