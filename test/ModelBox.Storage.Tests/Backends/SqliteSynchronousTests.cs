using Dapper;
using ModelBox.Storage.Sqlite;

namespace ModelBox.Storage.Tests.Backends;

/// <summary>[storage] synchronous reaches every connection of the embedded database (docs/reliability.md, section 1).</summary>
public sealed class SqliteSynchronousTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("modelbox-synchronous-").FullName;

    [Theory]
    [InlineData("normal", 1)]
    [InlineData("full", 2)]
    public async Task Every_connection_runs_with_the_configured_level(string level, long pragma)
    {
        await using var dialect = new SqliteDialect(new SqliteStorageOptions { DatabasePath = Path.Combine(_directory, level + ".db"), Synchronous = level });
        var store = new ModelBox.Storage.Relational.RelationalMetadataStore(dialect, new ModelBox.Domain.Changes.InProcessChangeSignal());
        await store.MigrateAsync();

        await using var connection = await dialect.DataSource.OpenConnectionAsync();
        Assert.Equal(pragma, await connection.ExecuteScalarAsync<long>("PRAGMA synchronous"));
        Assert.Equal("wal", await connection.ExecuteScalarAsync<string>("PRAGMA journal_mode"));
    }

    [Fact]
    public void A_level_other_than_normal_or_full_is_refused_by_name()
    {
        var refused = Assert.Throws<ArgumentException>(() =>
            new SqliteDialect(new SqliteStorageOptions { DatabasePath = Path.Combine(_directory, "x.db"), Synchronous = "off" }));
        Assert.Contains("'off'", refused.Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
