namespace ModelBox.Storage.Postgres;

/// <summary>How the PostgreSQL backend connects.</summary>
public sealed class PostgresStorageOptions
{
    /// <summary>An Npgsql connection string (Host, Port, Username, Password, Database, ...).</summary>
    public string ConnectionString { get; set; } = string.Empty;

    /// <summary>The most connections one server process opens.</summary>
    public int MaxPoolSize { get; set; } = 100;

    /// <summary>How long one statement may run before the database cancels it (0: no limit).</summary>
    public int StatementTimeoutSeconds { get; set; } = 30;
}
