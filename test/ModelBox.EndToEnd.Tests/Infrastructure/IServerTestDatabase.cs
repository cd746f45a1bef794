namespace ModelBox.EndToEnd.Tests.Infrastructure;

/// <summary>A fresh database on one of the servers test.sh started, dropped on dispose.</summary>
public interface IServerTestDatabase : IAsyncDisposable
{
    /// <summary>Connects to this database.</summary>
    string ConnectionString { get; }

    /// <summary>Runs one statement against this database and returns the first column of the first row.</summary>
    Task<object?> ScalarAsync(string sql);
}
