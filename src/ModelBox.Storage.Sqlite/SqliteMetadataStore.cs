using System.Data.Common;
using System.Diagnostics;
using Dapper;
using FluentMigrator.Runner;
using FluentMigrator.Runner.Processors.SQLite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Storage;
using ModelBox.Domain.Telemetry;
using ModelBox.Storage.Migrations;

namespace ModelBox.Storage.Sqlite;

/// <summary>
/// The embedded metadata backend: one SQLite file in WAL mode. Readers run concurrently on pooled connections;
/// writers queue on an in-process lock (SQLite has a single writer, and waiting in a queue beats spinning on
/// SQLITE_BUSY) and take the database lock up front with BEGIN IMMEDIATE, so a transaction never has to upgrade a
/// read lock and fail half-way. Other processes are waited for up to the busy timeout.
/// </summary>
public sealed partial class SqliteMetadataStore : IMetadataStore, IObjectMetadataStore, IEventStore, IAsyncDisposable
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;

    private readonly SqliteStoreOptions _options;
    private readonly string _connectionString;
    private readonly string _connectionPragmas;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly InProcessChangeSignal _changeSignal;
    private int _journalModeSet;

    // Open connections kept by the store itself: pragmas run once per connection, not once per call, and SQLite keeps
    // its page cache and schema warm. Readers are many (WAL readers run in parallel); the writer is one, like SQLite's.
    private readonly System.Collections.Concurrent.ConcurrentBag<SqliteConnection> _idleReaders = [];
    private readonly string _heldConnectionString;
    private SqliteConnection? _writer;
    private const int MaxIdleReaders = 16;
    private volatile bool _disposed;

    /// <param name="options">Where the database is.</param>
    /// <param name="loggerFactory">Logging; null logs nothing.</param>
    /// <param name="changeSignal">The signal raised after commits that appended change records; null creates one
    /// (see <see cref="ChangeSignal"/>).</param>
    public SqliteMetadataStore(SqliteStoreOptions options, ILoggerFactory? loggerFactory = null, InProcessChangeSignal? changeSignal = null)
    {
        _changeSignal = changeSignal ?? new InProcessChangeSignal();
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.DatabasePath, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.BusyTimeoutMilliseconds, nameof(options));

        var path = Path.GetFullPath(options.DatabasePath);
        var directory = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        _options = options with { DatabasePath = path };
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<SqliteMetadataStore>();
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            // Microsoft.Data.Sqlite retries a busy statement itself until the command timeout; keep that loop
            // within the configured busy timeout so the timeout means what it says.
            DefaultTimeout = Math.Max(1, (options.BusyTimeoutMilliseconds + 999) / 1000),
        }.ToString();
        _connectionPragmas =
            $"PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout={options.BusyTimeoutMilliseconds};";
        _heldConnectionString = new SqliteConnectionStringBuilder(_connectionString) { Pooling = false }.ToString();
    }

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath => _options.DatabasePath;

    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Opening one connection first puts the file in WAL mode before the migrator touches it.
            await using (await OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
            {
            }

            // FluentMigrator has no asynchronous API; the schema work is small and local.
            RunMigrations();
        }
        catch (SqliteException exception) when (IsBusy(exception))
        {
            throw Unavailable(exception);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public Task<SchemaStatus> GetSchemaStatusAsync(CancellationToken cancellationToken = default) =>
        ReadAsync(
            async (connection, transaction) =>
            {
                var hasTable = await connection.ExecuteScalarAsync<long>(Command(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = @Name",
                    new { Name = SchemaMigrations.VersionTable },
                    transaction,
                    cancellationToken)).ConfigureAwait(false) > 0;
                var current = hasTable
                    ? await connection.ExecuteScalarAsync<long?>(Command(
                        $"SELECT MAX(Version) FROM \"{SchemaMigrations.VersionTable}\"", null, transaction, cancellationToken)).ConfigureAwait(false) ?? 0
                    : 0;
                return new SchemaStatus(current, SchemaMigrations.LatestVersion);
            },
            cancellationToken);

    public Task PingAsync(CancellationToken cancellationToken = default) =>
        ReadAsync(
            async (connection, transaction) =>
                await connection.ExecuteScalarAsync<long>(Command("SELECT 1", null, transaction, cancellationToken)).ConfigureAwait(false),
            cancellationToken);

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        while (_idleReaders.TryTake(out var reader))
        {
            await reader.DisposeAsync().ConfigureAwait(false);
        }

        if (_writer is not null)
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
            _writer = null;
        }

        // Pooled connections (migrations, tests) keep the file (and its -wal and -shm companions) open; let them go.
        using (var connection = new SqliteConnection(_connectionString))
        {
            SqliteConnection.ClearPool(connection);
        }

        _writeLock.Dispose();
    }

    private void RunMigrations()
    {
        using var services = new ServiceCollection()
            // FluentMigrator logs every statement at Information; the store reports the migrations it applied instead.
            .AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
            .AddSingleton(typeof(ILogger<>), typeof(NullLogger<>))
            .AddFluentMigratorCore()
            .ConfigureRunner(runner => runner
                .AddSQLite()
                .WithGlobalConnectionString(_connectionString)
                .WithMigrationsIn(SchemaMigrations.Assembly))
            .AddScoped<SQLiteDbFactory, MicrosoftDataSqliteDbFactory>()
            .BuildServiceProvider();
        using var scope = services.CreateScope();
        var runner = scope.ServiceProvider.GetRequiredService<IMigrationRunner>();
        var versions = scope.ServiceProvider.GetRequiredService<IVersionLoader>();
        var pending = runner.MigrationLoader.LoadMigrations()
            .Where(migration => !versions.VersionInfo.HasAppliedMigration(migration.Key))
            .ToList();

        runner.MigrateUp();

        foreach (var (version, migration) in pending)
        {
            SqliteStoreLog.MigrationApplied(_logger, version, migration.Description ?? string.Empty, _options.DatabasePath);
        }

        if (pending.Count == 0)
        {
            SqliteStoreLog.SchemaUpToDate(_logger, _options.DatabasePath, versions.VersionInfo.Latest());
        }
    }

    /// <summary>Opens a connection with the store's pragmas applied (internal so tests can check them).</summary>
    internal Task<SqliteConnection> OpenConnectionAsync(CancellationToken cancellationToken) =>
        OpenConnectionAsync(_connectionString, cancellationToken);

    private async Task<SqliteConnection> OpenConnectionAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.CommandText = _connectionPragmas;
            // Per connection, on every open: a pooled connection may last have been used by the migrator.
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);

            // The journal mode is a property of the database file, not of the connection: set it once.
            if (Volatile.Read(ref _journalModeSet) == 0)
            {
                command.CommandText = "PRAGMA journal_mode=WAL;";
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                Volatile.Write(ref _journalModeSet, 1);
            }

            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Runs a read in a deferred transaction, so it sees one snapshot (WAL readers never block the writer).</summary>
    private async Task<T> ReadAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> read, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var connection = _idleReaders.TryTake(out var idle)
                ? idle
                : await OpenConnectionAsync(_heldConnectionString, cancellationToken).ConfigureAwait(false);
            var healthy = false;
            try
            {
                var transaction = connection.BeginTransaction(deferred: true);
                await using (transaction.ConfigureAwait(false))
                {
                    var result = await read(connection, transaction).ConfigureAwait(false);
                    healthy = true;
                    return result;
                }
            }
            catch (ModelBoxException)
            {
                // The client's mistake, not the connection's.
                healthy = true;
                throw;
            }
            finally
            {
                // A connection that saw an error is not trusted again; idle ones beyond the cap are closed.
                if (healthy && _idleReaders.Count < MaxIdleReaders && !_disposed)
                {
                    _idleReaders.Add(connection);
                }
                else
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
        catch (SqliteException exception) when (IsBusy(exception))
        {
            throw Unavailable(exception);
        }
        finally
        {
            ModelBoxMetrics.StorageDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, ReadTags);
        }
    }

    /// <summary>Runs a write in an immediate transaction, one writer of this process at a time; commits unless it throws.</summary>
    private async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> write, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var connection = _writer ??= await OpenConnectionAsync(_heldConnectionString, cancellationToken).ConfigureAwait(false);
            try
            {
                var transaction = connection.BeginTransaction(deferred: false);
                await using (transaction.ConfigureAwait(false))
                {
                    var result = await write(connection, transaction).ConfigureAwait(false);
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    PublishChanges();
                    return result;
                }
            }
            catch (Exception exception) when (exception is not ModelBoxException)
            {
                // Start the next write on a fresh connection rather than one left in an unknown state.
                _writer = null;
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        catch (SqliteException exception) when (IsBusy(exception))
        {
            throw Unavailable(exception);
        }
        finally
        {
            // Rolled back (or published): either way the next transaction starts with no pending wake-ups.
            _changedNamespaces.Clear();
            _writeLock.Release();
            ModelBoxMetrics.StorageDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, WriteTags);
        }
    }

    private static readonly KeyValuePair<string, object?>[] ReadTags = [new("backend", "sqlite"), new("operation", "read")];
    private static readonly KeyValuePair<string, object?>[] WriteTags = [new("backend", "sqlite"), new("operation", "write")];

    private static bool IsBusy(SqliteException exception) => exception.SqliteErrorCode is SqliteBusy or SqliteLocked;

    private ModelBoxException Unavailable(SqliteException exception)
    {
        SqliteStoreLog.DatabaseBusy(_logger, _options.DatabasePath, _options.BusyTimeoutMilliseconds, exception);
        return new ModelBoxException(
            ErrorKind.Unavailable,
            $"the metadata database is locked by another process and stayed locked for {_options.BusyTimeoutMilliseconds} ms; retry later",
            exception);
    }

    /// <summary>
    /// FluentMigrator's SQLite factory probes System.Data.SQLite and Mono.Data.Sqlite by reflection before it finds
    /// Microsoft.Data.Sqlite; pin the provider this store opens its own connections with.
    /// </summary>
    private sealed class MicrosoftDataSqliteDbFactory(IServiceProvider serviceProvider) : SQLiteDbFactory(serviceProvider)
    {
        protected override DbProviderFactory CreateFactory() => SqliteFactory.Instance;
    }
}
