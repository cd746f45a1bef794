using Dapper;
using ModelBox.Storage.Filesystem;
using ModelBox.Storage.Relational;
using ModelBox.Storage.Relational.Transfer;

namespace ModelBox.Storage.Tests;

/// <summary>
/// What backup, restore and copy-data rely on in every backend: the table catalog is the migrated schema (and an unknown
/// table is refused by name), keyset reads return every row once in key order and resume after a key, and a copy into a
/// fresh database of the same backend (points through the bulk path) compares equal and continues the change counter
/// and identity columns after the copied values.
/// </summary>
public abstract class TableTransferSpecification : StoreSpecification
{
    private SqlDialect Dialect => Factory.Store.Dialect;

    [Fact]
    public async Task The_catalog_is_the_migrated_schema_and_an_unknown_table_is_refused_by_name()
    {
        await using (var connection = await Dialect.DataSource.OpenConnectionAsync())
        {
            await ModelBoxTables.RequireKnownSchemaAsync(Dialect, connection, null, default);
        }

        await Factory.ExecuteAsync("CREATE TABLE surprise_table (id INTEGER NOT NULL PRIMARY KEY)");

        await using (var connection = await Dialect.DataSource.OpenConnectionAsync())
        {
            var refused = await Assert.ThrowsAsync<UnknownTableException>(() => ModelBoxTables.RequireKnownSchemaAsync(Dialect, connection, null, default));
            Assert.Contains("surprise_table", refused.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Keyset_reads_return_every_row_once_in_key_order_and_resume_after_a_key()
    {
        string[] names = ["b", "a", "B", "é", "a ", "c", "ab"];
        foreach (var name in names)
        {
            await Factory.ExecuteAsync("INSERT INTO namespaces (name, created_at) VALUES (@Name, 1)", new { Name = name });
        }

        var table = ModelBoxTables.Get("namespaces");
        await using var connection = await Dialect.DataSource.OpenConnectionAsync();
        var columns = await TableRows.ColumnsAsync(Dialect, connection, null, table.Name, default);
        var all = await TableRows.ReadAsync(Dialect, connection, null, table, columns, null, 2, default).Select(r => (string)r[columns.ToList().IndexOf("name")]!).ToListAsync();
        var after = await TableRows.ReadAsync(Dialect, connection, null, table, columns, ["a "], 2, default).Select(r => (string)r[columns.ToList().IndexOf("name")]!).ToListAsync();

        // Byte order (UTF-8), as every backend compares keys.
        Assert.Equal(["B", "a", "a ", "ab", "b", "c", "é"], all);
        Assert.Equal(["ab", "b", "c", "é"], after);
    }

    [Fact]
    public async Task A_copy_into_a_fresh_database_compares_equal_and_continues_counters_and_identities()
    {
        await Factory.ExecuteAsync("INSERT INTO namespaces (name, created_at) VALUES ('ns', 1)");
        await Factory.ExecuteAsync("INSERT INTO experiments (id, namespace, name, owner, framework, task, external_id, description, status, created_at, updated_at) "
            + "VALUES ('exp-1', 'ns', 'run', 'o', 1, 't', '', 'd', 0, 1, 2)");
        await Factory.ExecuteAsync("INSERT INTO files (id, parent_id, file_type, path, uri, size_bytes, md5, sha256, stored, created_at, updated_at) "
            + "VALUES ('file-1', 'exp-1', 0, 'a.bin', '', 3, 'm', @Sha, @Stored, 1, 1)",
            new { Sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("abc"u8)), Stored = true });
        for (var sequence = 1; sequence <= 3; sequence++)
        {
            await Factory.ExecuteAsync("INSERT INTO changes (sequence, namespace, object_kind, object_id, \"change\", changed_at, state_json) "
                + "VALUES (@Sequence, 'ns', 'experiment', 'exp-1', 'created', 1, '{}')", new { Sequence = sequence });
        }

        await Factory.ExecuteAsync($"INSERT INTO metric_series (id, parent_id, \"key\", point_count){Dialect.OverridingIdentity} VALUES (7, 'exp-1', 'loss', 3000)");
        await using (var connection = await Dialect.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var points = Enumerable.Range(0, 3000).Select(i => new PointRow(7, i, 1_700_000_000 + i, i, (short)(i % 3 == 0 ? 4 : 2),
                i % 3 == 0 ? null : i % 7 == 0 ? null : 1.0 / (i + 1), i % 7 == 0 && i % 3 != 0 ? "NaN" : null, i % 3 == 0 ? [1, 2, (byte)i] : null)).ToList();
            await Dialect.InsertPointsAsync(connection, transaction, points, default);
            await transaction.CommitAsync();
        }

        var scratch = Directory.CreateTempSubdirectory("modelbox-transfer-").FullName;
        try
        {
            var sourceBlobs = new FilesystemBlobStore(Path.Combine(scratch, "source"));
            await using (var writer = await sourceBlobs.BeginWriteAsync())
            {
                await writer.WriteAsync("abc"u8.ToArray());
                await writer.CommitAsync(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("abc"u8)));
            }

            var target = (await Factory.OpenOnEmptyDatabaseAsync(1))[0];
            await target.MigrateAsync();
            var targetBlobs = new FilesystemBlobStore(Path.Combine(scratch, "target"));
            var copier = new DataCopier(Dialect, sourceBlobs, target.Dialect, targetBlobs) { BatchRows = 500 };

            await copier.CopyAsync(null, default);

            var comparisons = await copier.CompareAsync(null, default);
            Assert.All(comparisons, c => Assert.True(c.Equal, $"{c.Table}: {c.SourceRows} -> {c.TargetRows}"));
            Assert.Equal(3000, comparisons.Single(c => c.Table == "metric_points").TargetRows);
            Assert.True(await targetBlobs.ExistsAsync(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("abc"u8))));
            await copier.CompleteAsync(default);

            // New writes on the target continue after the copied values.
            await using var targetConnection = await target.Dialect.DataSource.OpenConnectionAsync();
            await targetConnection.ExecuteAsync(target.Dialect.Sql("INSERT INTO metric_series (parent_id, \"key\", point_count) VALUES ('exp-1', 'acc', 0)"));
            Assert.Equal(8, await targetConnection.ExecuteScalarAsync<long>(target.Dialect.Sql("SELECT id FROM metric_series WHERE \"key\" = 'acc'")));
            await using var tx = await targetConnection.BeginTransactionAsync();
            Assert.True(await target.Dialect.ReserveSequencesAsync(targetConnection, tx, 1, default) is null or 4);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }
}
