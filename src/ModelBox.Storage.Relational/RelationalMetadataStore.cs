using System.Diagnostics;
using FluentMigrator.Runner;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Storage;
using ModelBox.Domain.Telemetry;
using ModelBox.Storage.Migrations;

namespace ModelBox.Storage.Relational;

/// <summary>
/// The metadata backend of every database (SQLite, PostgreSQL, MySQL/MariaDB): one implementation of the storage ports,
/// Dapper over the connections a <see cref="SqlDialect"/>'s session source hands out, with the dialect for what differs.
/// Creates are insert-if-absent on the unique key; each call is one transaction (a snapshot for reads), retried where the
/// dialect says a failure is transient; change records take their sequence numbers at the end of the writing transaction
/// (a counter row on the server databases, the next rowid under SQLite's write lock), so sequences become visible in
/// commit order. Many replicas may share a server database.
/// </summary>
public sealed partial class RelationalMetadataStore : IMetadataStore, IObjectMetadataStore, IEventStore, IChangeLog, IMlflowExperimentStore
{
    private readonly SqlDialect _dialect;
    private readonly InProcessChangeSignal _localSignal;
    private readonly ILogger _logger;
    private readonly KeyValuePair<string, object?>[] _readTags;
    private readonly KeyValuePair<string, object?>[] _writeTags;

    /// <param name="dialect">The database.</param>
    /// <param name="localSignal">Raised after each commit that appended change records (the watchers of this process);
    /// other replicas learn of changes through the backend's <see cref="IChangeSignal"/>.</param>
    /// <param name="loggerFactory">Logging; null logs nothing.</param>
    public RelationalMetadataStore(SqlDialect dialect, InProcessChangeSignal localSignal, ILoggerFactory? loggerFactory = null)
    {
        _dialect = dialect ?? throw new ArgumentNullException(nameof(dialect));
        _localSignal = localSignal ?? throw new ArgumentNullException(nameof(localSignal));
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<RelationalMetadataStore>();
        _readTags = [new("backend", dialect.Name), new("operation", "read")];
        _writeTags = [new("backend", dialect.Name), new("operation", "write")];
    }

    /// <summary>The database.</summary>
    public SqlDialect Dialect => _dialect;

    public Task MigrateAsync(CancellationToken cancellationToken = default) => MigrateAsync(null, cancellationToken);

    /// <summary>
    /// Applies the migrations up to and including <paramref name="targetVersion"/> only (every one when null): the schema
    /// of an older ModelBox, for upgrade tests.
    /// </summary>
    public async Task MigrateAsync(long? targetVersion, CancellationToken cancellationToken = default)
    {
        try
        {
            // A database with every migration applied needs no runner (building one and loading its migrations is most of
            // a restart's time); versions only grow, so what was found applied stays applied.
            var applied = await AppliedVersionsAsync(cancellationToken).ConfigureAwait(false);
            if (SchemaMigrations.Versions.All(applied.Contains))
            {
                RelationalStoreLog.SchemaUpToDate(_logger, _dialect.Name, _dialect.Describe(), SchemaMigrations.LatestVersion);
                await RelationalMetricStore.BuildSummaryBacklogAsync(this, cancellationToken).ConfigureAwait(false);
                return;
            }

            // The lock makes replicas that start together migrate one after the other; the second finds nothing to do.
            var connection = await _dialect.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                await _dialect.AcquireMigrationLockAsync(connection, cancellationToken).ConfigureAwait(false);
                try
                {
                    // FluentMigrator has no asynchronous API.
                    await Task.Run(() => RunMigrations(targetVersion), cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    await _dialect.ReleaseMigrationLockAsync(connection, CancellationToken.None).ConfigureAwait(false);
                }
            }

            // Series from before metric summaries existed get theirs (transactions of their own, safe beside replicas).
            // Not on an older schema: the backlog is written with the newest one's tables.
            if (targetVersion is null)
            {
                await RelationalMetricStore.BuildSummaryBacklogAsync(this, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception exception) when (exception is not ModelBoxException and not OperationCanceledException
            && _dialect.Classify(exception) is not DbFailure.Other and var failure)
        {
            throw Unavailable(failure, exception);
        }
    }

    public Task<SchemaStatus> GetSchemaStatusAsync(CancellationToken cancellationToken = default) =>
        ReadAsync(
            async session =>
            {
                var current = await _dialect.VersionTableExistsAsync(session.Connection, session.Transaction, cancellationToken).ConfigureAwait(false)
                    ? await session.ScalarAsync<long?>(
                        $"SELECT MAX(\"Version\") FROM \"{SchemaMigrations.VersionTable}\"", null, cancellationToken).ConfigureAwait(false) ?? 0
                    : 0;
                return new SchemaStatus(current, SchemaMigrations.LatestVersion);
            },
            cancellationToken);

    private Task<HashSet<long>> AppliedVersionsAsync(CancellationToken cancellationToken) =>
        ReadAsync(
            async session => await _dialect.VersionTableExistsAsync(session.Connection, session.Transaction, cancellationToken).ConfigureAwait(false)
                ? (await session.QueryAsync<long>($"SELECT \"Version\" FROM \"{SchemaMigrations.VersionTable}\"", null, cancellationToken).ConfigureAwait(false)).ToHashSet()
                : [],
            cancellationToken);

    public Task PingAsync(CancellationToken cancellationToken = default) =>
        ReadAsync(session => session.ScalarAsync<int>("SELECT 1", null, cancellationToken), cancellationToken);

    private void RunMigrations(long? targetVersion)
    {
        using var services = new ServiceCollection()
            // FluentMigrator logs every statement at Information; the store reports the migrations it applied instead.
            .AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
            .AddSingleton(typeof(ILogger<>), typeof(NullLogger<>))
            .AddFluentMigratorCore()
            .ConfigureRunner(runner =>
            {
                _dialect.ConfigureMigrationRunner(runner);
                runner.WithMigrationsIn(SchemaMigrations.Assembly);
            })
            .BuildServiceProvider();
        using var scope = services.CreateScope();
        var runner = scope.ServiceProvider.GetRequiredService<IMigrationRunner>();
        var versions = scope.ServiceProvider.GetRequiredService<IVersionLoader>();
        var pending = runner.MigrationLoader.LoadMigrations()
            .Where(migration => !versions.VersionInfo.HasAppliedMigration(migration.Key) && migration.Key <= (targetVersion ?? long.MaxValue))
            .ToList();

        if (targetVersion is { } target)
        {
            runner.MigrateUp(target);
        }
        else
        {
            runner.MigrateUp();
        }

        foreach (var (version, migration) in pending)
        {
            if (SchemaMigrations.Changes(migration.Migration.GetType(), _dialect.Name))
            {
                RelationalStoreLog.MigrationApplied(_logger, _dialect.Name, version, migration.Description ?? string.Empty, _dialect.Describe());
            }
            else
            {
                RelationalStoreLog.MigrationNotApplicable(_logger, _dialect.Name, version, migration.Description ?? string.Empty);
            }
        }

        if (pending.Count == 0)
        {
            RelationalStoreLog.SchemaUpToDate(_logger, _dialect.Name, _dialect.Describe(), versions.VersionInfo.Latest());
        }
    }

    /// <summary>Runs a read in one REPEATABLE READ transaction, so it sees one snapshot.</summary>
    internal Task<T> ReadAsync<T>(Func<DbSession, Task<T>> read, CancellationToken cancellationToken) =>
        RunAsync(write: false, read, cancellationToken);

    /// <summary>Runs a write in a READ COMMITTED transaction with its change records; commits unless it throws.</summary>
    internal Task<T> WriteAsync<T>(Func<DbSession, Task<T>> write, CancellationToken cancellationToken) =>
        RunAsync(write: true, write, cancellationToken);

    private async Task<T> RunAsync<T>(bool write, Func<DbSession, Task<T>> work, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                var state = new DbAttempt();
                HashSet<string>? changed = null;
                try
                {
                    var result = await _dialect.Sessions.RunAsync(
                        write,
                        async (connection, transaction) =>
                        {
                            var session = new DbSession(connection, transaction, _dialect);
                            var value = await work(session).ConfigureAwait(false);
                            changed = session.Changes.Count == 0 ? null : await WriteChangesAsync(session, cancellationToken).ConfigureAwait(false);
                            return value;
                        },
                        state,
                        cancellationToken).ConfigureAwait(false);
                    if (changed is not null)
                    {
                        foreach (var @namespace in changed)
                        {
                            _localSignal.Notify(@namespace);
                        }
                    }

                    return result;
                }
                catch (Exception exception) when (exception is not ModelBoxException and not OperationCanceledException
                    && _dialect.Classify(exception) is not DbFailure.Other and var failure)
                {
                    if (failure is DbFailure.Unavailable)
                    {
                        // After a restart every pooled connection is dead; do not hand them out one failure at a time.
                        _dialect.ClearPool();
                    }

                    // A transaction that failed before its commit was sent did not happen, so running it again is safe;
                    // one that failed during the commit may have committed, and only the caller can tell.
                    var again = attempt < _dialect.MaxAttempts
                        && (failure is DbFailure.Retry || (failure is DbFailure.Unavailable && !state.Committing));
                    if (!again)
                    {
                        throw Unavailable(failure, exception);
                    }

                    RelationalStoreLog.TransactionRetried(_logger, _dialect.Name, attempt, failure, exception);
                    await Task.Delay(Backoff(attempt), cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            ModelBoxMetrics.StorageDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, write ? _writeTags : _readTags);
        }
    }

    private static TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds((20 << (attempt - 1)) + Random.Shared.Next(0, 20));

    internal ModelBoxException Unavailable(DbFailure failure, Exception exception)
    {
        RelationalStoreLog.DatabaseUnavailable(_logger, _dialect.Name, _dialect.Describe(), failure, exception);
        return new ModelBoxException(
            failure is DbFailure.DiskFull ? ErrorKind.ResourceExhausted : ErrorKind.Unavailable, _dialect.UnavailableMessage(failure), exception);
    }
}
