using System.Data.Common;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Storage.MySql;
using ModelBox.Storage.Postgres;
using ModelBox.Storage.Relational;
using ModelBox.Testing;

namespace ModelBox.Storage.Tests.Relational;

/// <summary>
/// The configured statement timeout bounds how long a call waits on the database: a write blocked by another
/// session's table lock fails with Unavailable naming the statement timeout, and the same store serves again once the
/// lock is gone.
/// </summary>
public abstract class StatementTimeoutTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);

    private IAsyncDisposable? _database;
    private SqlDialect? _dialect;

    private protected RelationalMetadataStore Store { get; private set; } = null!;

    /// <summary>A fresh database and its connection string.</summary>
    private protected abstract Task<(IAsyncDisposable Database, string ConnectionString)> CreateDatabaseAsync();

    /// <summary>A dialect whose statements time out after <paramref name="seconds"/>.</summary>
    private protected abstract SqlDialect CreateDialect(string connectionString, int seconds);

    /// <summary>The statement that takes an exclusive lock on the experiments table inside the open transaction.</summary>
    protected abstract string LockExperimentsSql { get; }

    /// <summary>Opens a transaction that holds that lock (MySQL's LOCK TABLES holds it without a transaction).</summary>
    private async Task<(DbConnection Connection, DbTransaction? Transaction)> LockExperimentsAsync()
    {
        var connection = await _dialect!.DataSource.OpenConnectionAsync();
        var transaction = UsesTransaction ? await connection.BeginTransactionAsync() : null;
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = LockExperimentsSql;
        await command.ExecuteNonQueryAsync();
        return (connection, transaction);
    }

    protected virtual bool UsesTransaction => true;

    public async Task InitializeAsync()
    {
        var (database, connectionString) = await CreateDatabaseAsync();
        _database = database;
        _dialect = CreateDialect(connectionString, seconds: 1);
        Store = new RelationalMetadataStore(_dialect, new InProcessChangeSignal());
        await Store.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        if (_dialect is IAsyncDisposable dialect)
        {
            await dialect.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_write_blocked_past_the_statement_timeout_fails_unavailable_and_the_store_recovers()
    {
        var before = await Store.CreateExperimentAsync(Experiment("kept"));
        Assert.False(before.Existed);

        var (connection, transaction) = await LockExperimentsAsync();
        await using (connection)
        {
            var failure = await Assert.ThrowsAsync<ModelBoxException>(() => Store.CreateExperimentAsync(Experiment("blocked")));
            Assert.Equal(ErrorKind.Unavailable, failure.Kind);
            Assert.Contains("statement timeout", failure.Message, StringComparison.Ordinal);

            if (transaction is not null)
            {
                await transaction.RollbackAsync();
            }
        }

        // The lock is gone: the same store (and its pool) serves, and nothing stored was lost.
        var after = await Store.CreateExperimentAsync(Experiment("blocked"));
        Assert.False(after.Existed);
        Assert.NotNull(await Store.GetExperimentAsync(before.Value.Id));
    }

    private static Experiment Experiment(string name) => new(
        ObjectIds.Experiment("timeouts", name),
        "timeouts",
        name,
        Owner: "owner",
        Framework.PyTorch,
        Task: "task",
        ExternalId: string.Empty,
        Description: string.Empty,
        ExperimentStatus.Running,
        EndedAt: null,
        new Dictionary<string, string>(),
        T0,
        T0);
}

public sealed class PostgresStatementTimeoutTests : StatementTimeoutTests
{
    private protected override async Task<(IAsyncDisposable Database, string ConnectionString)> CreateDatabaseAsync()
    {
        var database = await PostgresTestDatabase.CreateAsync();
        return (database, database.ConnectionString);
    }

    private protected override SqlDialect CreateDialect(string connectionString, int seconds) =>
        new PostgresDialect(new PostgresStorageOptions { ConnectionString = connectionString, StatementTimeoutSeconds = seconds });

    protected override string LockExperimentsSql => "LOCK TABLE experiments IN ACCESS EXCLUSIVE MODE";
}

public sealed class MySqlStatementTimeoutTests : StatementTimeoutTests
{
    private protected override async Task<(IAsyncDisposable Database, string ConnectionString)> CreateDatabaseAsync()
    {
        var database = await MySqlTestDatabase.CreateAsync();
        return (database, database.ConnectionString);
    }

    private protected override SqlDialect CreateDialect(string connectionString, int seconds) =>
        new MySqlDialect(new MySqlStorageOptions { ConnectionString = connectionString, StatementTimeoutSeconds = seconds });

    // LOCK TABLES holds its lock until UNLOCK TABLES or the session ends (closing the connection below).
    protected override string LockExperimentsSql => "LOCK TABLES experiments WRITE";

    protected override bool UsesTransaction => false;
}
