using System.Data.Common;
using System.Text;
using System.Threading.Channels;

namespace ModelBox.Storage.Relational.Transfer;

/// <summary>
/// Writes rows into one database's ModelBox tables with their ids and sequences as they are: metric points through the
/// dialect's bulk path (binary COPY on PostgreSQL, SQLite's C API, multi-row INSERT on MySQL), every other table in
/// multi-row INSERTs. Rows are committed in batches (a bounded number of rows and bytes), each in one transaction with
/// whatever <c>afterBatch</c> records there, so a copy that is killed resumes after its last committed batch.
/// </summary>
public sealed class TableImporter(SqlDialect dialect)
{
    /// <summary>Rows per committed batch.</summary>
    public int BatchRows { get; init; } = 20_000;

    /// <summary>Value bytes per committed batch (text and binary values), the ceiling of a batch's memory.</summary>
    public long BatchBytes { get; init; } = 16L << 20;

    /// <summary>
    /// Inserts <paramref name="rows"/> (with values in the order of <paramref name="columns"/>) into <paramref name="table"/>;
    /// <paramref name="afterBatch"/> runs in each batch's transaction with the batch's last row and the rows so far.
    /// Returns how many rows were inserted.
    /// </summary>
    public async Task<long> ImportAsync(
        TransferTable table,
        IReadOnlyList<string> columns,
        IAsyncEnumerable<object?[]> rows,
        Func<DbConnection, DbTransaction, object?[], long, Task>? afterBatch,
        IProgress<long>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(rows);
        var connection = await dialect.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var (targetColumns, targetTypes) = await TableRows.ColumnTypesAsync(dialect, connection, null, table.Name, cancellationToken).ConfigureAwait(false);
            // Each source column lands in the target column of its name; a column only one side has is a schema mismatch.
            var types = columns.Select(c => targetTypes[TableRows.IndexOf(targetColumns, c, table.Name)]).ToArray();
            if (targetColumns.Count != columns.Count)
            {
                throw new UnknownTableException(
                    $"table '{table.Name}' has columns ({string.Join(", ", targetColumns)}) in the target but ({string.Join(", ", columns)}) in the source");
            }

            // The source is read one batch ahead on another task while the target commits the batch before: reading and
            // writing overlap, and memory stays at three batches (the one read, the one waiting, the one written).
            var batches = Channel.CreateBounded<List<object?[]>>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var reader = Task.Run(() => ReadBatchesAsync(rows, batches.Writer, stop.Token), CancellationToken.None);
            long total = 0;
            var finished = false;
            try
            {
                while (await batches.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    while (batches.Reader.TryRead(out var batch))
                    {
                        total += await CommitBatchAsync(connection, table, columns, types, batch, total, afterBatch, cancellationToken).ConfigureAwait(false);
                        progress?.Report(total);
                    }
                }

                finished = true;
            }
            finally
            {
                if (!finished)
                {
                    await stop.CancelAsync().ConfigureAwait(false);
                    try
                    {
                        await reader.ConfigureAwait(false);
                    }
                    catch (Exception)
                    {
                        // The write failed (or was cancelled): that failure is the one reported, the reader only stopped.
                    }
                }
            }

            // A failed read ends the batches early: its exception is the import's.
            await reader.ConfigureAwait(false);
            return total;
        }
    }

    /// <summary>Cuts <paramref name="rows"/> into batches of at most <see cref="BatchRows"/> rows and <see cref="BatchBytes"/> bytes.</summary>
    private async Task ReadBatchesAsync(IAsyncEnumerable<object?[]> rows, ChannelWriter<List<object?[]>> batches, CancellationToken cancellationToken)
    {
        try
        {
            var batch = new List<object?[]>();
            long bytes = 0;
            await foreach (var row in rows.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                batch.Add(row);
                bytes += SizeOf(row);
                if (batch.Count >= BatchRows || bytes >= BatchBytes)
                {
                    await batches.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
                    batch = [];
                    bytes = 0;
                }
            }

            if (batch.Count > 0)
            {
                await batches.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            batches.TryComplete();
        }
    }

    /// <summary>
    /// After every table was imported: the change counter of the server databases continues after the last copied
    /// sequence, and identity columns after their largest value, so new writes neither collide nor go back in time.
    /// </summary>
    public async Task FinishAsync(CancellationToken cancellationToken)
    {
        var connection = await dialect.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var tables = await ModelBoxTables.ListAsync(dialect, connection, null, cancellationToken).ConfigureAwait(false);
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                if (tables.Contains("change_counter", StringComparer.Ordinal))
                {
                    await using var command = connection.CreateCommand();
                    command.Transaction = transaction;
                    command.CommandText = dialect.Sql(
                        "UPDATE change_counter SET value = (SELECT COALESCE(MAX(sequence), 0) FROM changes) WHERE id = 1");
                    await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                foreach (var table in ModelBoxTables.Data.Where(t => t.Identity is not null))
                {
                    await dialect.ResetIdentityAsync(connection, transaction, table.Name, table.Identity!, cancellationToken).ConfigureAwait(false);
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<int> CommitBatchAsync(
        DbConnection connection,
        TransferTable table,
        IReadOnlyList<string> columns,
        Type[] types,
        List<object?[]> batch,
        long before,
        Func<DbConnection, DbTransaction, object?[], long, Task>? afterBatch,
        CancellationToken cancellationToken)
    {
        var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (transaction.ConfigureAwait(false))
        {
            // The bulk path writes every column of this build's points (an older schema's table, a restore's scratch
            // database, takes plain INSERTs of the columns it has).
            if (string.Equals(table.Name, "metric_points", StringComparison.Ordinal) && columns.Count == PointColumnCount)
            {
                await dialect.InsertPointsAsync(connection, transaction, ToPoints(columns, batch), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await InsertRowsAsync(connection, transaction, table, columns, types, batch, cancellationToken).ConfigureAwait(false);
            }

            if (afterBatch is not null)
            {
                await afterBatch(connection, transaction, batch[^1], before + batch.Count).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        return batch.Count;
    }

    private async Task InsertRowsAsync(
        DbConnection connection, DbTransaction transaction, TransferTable table, IReadOnlyList<string> columns, Type[] types,
        List<object?[]> rows, CancellationToken cancellationToken)
    {
        // Well below every database's parameter limit (SQLite 32,766; PostgreSQL and MySQL 65,535).
        var rowsPerStatement = Math.Max(1, 4_000 / columns.Count);
        var head = $"INSERT INTO {ModelBoxTables.Quote(table.Name)} ({string.Join(", ", columns.Select(ModelBoxTables.Quote))})"
            + (table.Identity is null ? string.Empty : dialect.OverridingIdentity) + " VALUES ";
        for (var start = 0; start < rows.Count; start += rowsPerStatement)
        {
            var count = Math.Min(rowsPerStatement, rows.Count - start);
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandTimeout = 0;
            var sql = new StringBuilder(head);
            for (var r = 0; r < count; r++)
            {
                sql.Append(r == 0 ? "(" : ", (");
                var row = rows[start + r];
                for (var c = 0; c < columns.Count; c++)
                {
                    var name = $"@v{r}_{c}";
                    sql.Append(c == 0 ? name : ", " + name);
                    var parameter = command.CreateParameter();
                    parameter.ParameterName = name;
                    parameter.Value = TableRows.ForColumn(row[c], types[c]) ?? DBNull.Value;
                    command.Parameters.Add(parameter);
                }

                sql.Append(')');
            }

            command.CommandText = dialect.SqlOnce(sql.ToString());
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The columns of this build's <c>metric_points</c>, which <see cref="PointRow"/> carries.</summary>
    private const int PointColumnCount = 9;

    private static List<PointRow> ToPoints(IReadOnlyList<string> columns, List<object?[]> rows)
    {
        int Column(string name) => TableRows.IndexOf(columns, name, "metric_points");
        var (series, step, time, seq, kind, num, txt, bin, millis) =
            (Column("series_id"), Column("step"), Column("time"), Column("seq"), Column("kind"), Column("num"), Column("txt"), Column("bin"), Column("millis"));
        var points = new List<PointRow>(rows.Count);
        foreach (var row in rows)
        {
            points.Add(new PointRow(
                (long)row[series]!, (long)row[step]!, (long)row[time]!, (long)row[seq]!, checked((short)(long)row[kind]!),
                (double?)row[num], (string?)row[txt], (byte[]?)row[bin], checked((short)(long)row[millis]!)));
        }

        return points;
    }

    private static long SizeOf(object?[] row)
    {
        long size = 16 + (8 * row.Length);
        foreach (var value in row)
        {
            size += value switch
            {
                string s => s.Length * 2L,
                byte[] b => b.Length,
                _ => 0,
            };
        }

        return size;
    }
}
