namespace ModelBox.Storage.MySql;

/// <summary>How the MySQL/MariaDB backend connects.</summary>
public sealed class MySqlStorageOptions
{
    /// <summary>A MySqlConnector connection string (Server, Port, User ID, Password, Database, ...).</summary>
    public string ConnectionString { get; set; } = string.Empty;

    /// <summary>The most connections one server process opens.</summary>
    public int MaxPoolSize { get; set; } = 100;

    /// <summary>How long one statement may run before it is cancelled (0: no limit).</summary>
    public int StatementTimeoutSeconds { get; set; } = 30;

    /// <summary>How often watchers look for changes committed by other replicas (MySQL has no notifications).</summary>
    public TimeSpan ChangePollInterval { get; set; } = TimeSpan.FromMilliseconds(200);
}
