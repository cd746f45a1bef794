using ModelBox.Testing;

namespace ModelBox.EndToEnd.Tests.Infrastructure;

/// <summary>
/// A database server of a test's own (a private PostgreSQL cluster or MariaDB server on a free loopback port) for tests
/// that stop, restart or kill the database: doing that to the shared server test.sh started would break every other test.
/// </summary>
public interface IPrivateDatabaseServer : IAsyncDisposable
{
    /// <summary>The backend's name in MODELBOX_METADATA_STORAGE ("postgres", "mysql").</summary>
    string Backend { get; }

    /// <summary>A fresh database on this server (dropped when disposed, if the server is still there).</summary>
    Task<IServerTestDatabase> CreateDatabaseAsync(string prefix);

    /// <summary>Starts the server on the same port and data folder and waits until it accepts connections (after a kill,
    /// that includes the database's own crash recovery).</summary>
    Task StartServerAsync();

    /// <summary>Stops the server the way an operator's restart does: sessions are ended, then it shuts down cleanly.</summary>
    Task StopServerAsync();

    /// <summary>SIGKILL of every process of the server: nothing is flushed or shut down, transactions in flight are cut.</summary>
    Task KillServerAsync();
}
