using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;

namespace ModelBox.Storage.Relational.Transfer;

/// <summary>
/// Rows of one table as backup, restore and copy-data move them: one array of values per row, in the column order of
/// <see cref="ColumnsAsync"/>, each value normalized to null, <see cref="long"/> (integers and booleans), <see cref="double"/>,
/// <see cref="string"/> or <see cref="byte"/>[], so that the three databases' drivers read the same row alike.
/// </summary>
public static class TableRows
{
    /// <summary>The column names of <paramref name="table"/> as the database has them.</summary>
    public static async Task<IReadOnlyList<string>> ColumnsAsync(
        SqlDialect dialect, DbConnection connection, DbTransaction? transaction, string table, CancellationToken cancellationToken)
    {
        var (names, _) = await ColumnTypesAsync(dialect, connection, transaction, table, cancellationToken).ConfigureAwait(false);
        return names;
    }

    /// <summary>The column names and the CLR types the driver reads them as.</summary>
    internal static async Task<(IReadOnlyList<string> Names, IReadOnlyList<Type> Types)> ColumnTypesAsync(
        SqlDialect dialect, DbConnection connection, DbTransaction? transaction, string table, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dialect);
        ArgumentNullException.ThrowIfNull(connection);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = dialect.Sql($"SELECT * FROM {ModelBoxTables.Quote(table)} WHERE 1 = 0");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var names = new List<string>(reader.FieldCount);
        var types = new List<Type>(reader.FieldCount);
        for (var i = 0; i < reader.FieldCount; i++)
        {
            names.Add(reader.GetName(i));
            types.Add(reader.GetFieldType(i));
        }

        return (names, types);
    }

    /// <summary>
    /// Reads the rows of <paramref name="table"/> in key order, after the key <paramref name="after"/> (all rows when null),
    /// a page of <paramref name="pageSize"/> rows per query: memory stays at one page whatever the table's size, and each
    /// query seeks the primary key. Inside one snapshot transaction the pages are one consistent read.
    /// </summary>
    public static async IAsyncEnumerable<object?[]> ReadAsync(
        SqlDialect dialect,
        DbConnection connection,
        DbTransaction? transaction,
        TransferTable table,
        IReadOnlyList<string> columns,
        object?[]? after,
        int pageSize,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dialect);
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(columns);
        var keyIndexes = table.Key.Select(k => IndexOf(columns, k, table.Name)).ToArray();
        var select = $"SELECT {string.Join(", ", columns.Select(ModelBoxTables.Quote))} FROM {ModelBoxTables.Quote(table.Name)}";
        var order = $" ORDER BY {string.Join(", ", table.Key.Select(ModelBoxTables.Quote))} LIMIT {pageSize}";
        var firstPage = dialect.Sql(select + order);
        var nextPage = dialect.Sql(
            select + " WHERE " + dialect.KeysetAfter(true, table.Key.Select((k, i) => (ModelBoxTables.Quote(k), $"@k{i}")).ToArray()) + order);
        var last = after;
        while (true)
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandTimeout = 0;
            command.CommandText = last is null ? firstPage : nextPage;
            for (var i = 0; last is not null && i < table.Key.Count; i++)
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = $"@k{i}";
                parameter.Value = last[i] ?? DBNull.Value;
                command.Parameters.Add(parameter);
            }

            var count = 0;
            object?[]? row = null;
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    row = new object?[columns.Count];
                    for (var i = 0; i < row.Length; i++)
                    {
                        row[i] = Normalize(reader.GetValue(i), table.Name, columns[i]);
                    }

                    count++;
                    yield return row;
                }
            }

            if (count < pageSize)
            {
                yield break;
            }

            last = keyIndexes.Select(i => row![i]).ToArray();
        }
    }

    /// <summary>The key values of <paramref name="row"/> (for resuming after it).</summary>
    public static object?[] KeyOf(TransferTable table, IReadOnlyList<string> columns, object?[] row)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(row);
        return table.Key.Select(k => row[IndexOf(columns, k, table.Name)]).ToArray();
    }

    internal static int IndexOf(IReadOnlyList<string> columns, string column, string table)
    {
        for (var i = 0; i < columns.Count; i++)
        {
            if (string.Equals(columns[i], column, StringComparison.Ordinal))
            {
                return i;
            }
        }

        throw new UnknownTableException($"table '{table}' has no column '{column}'");
    }

    /// <summary>One value as every driver's reading of it agrees (see <see cref="TableRows"/>).</summary>
    public static object? Normalize(object? value, string table, string column) => value switch
    {
        null or DBNull => null,
        long l => l,
        int i => (long)i,
        short s => (long)s,
        byte b => (long)b,
        sbyte b => (long)b,
        bool b => b ? 1L : 0L,
        double d => d,
        float f => (double)f,
        decimal m when m == decimal.Truncate(m) => (long)m,
        string s => s,
        byte[] bytes => bytes,
        _ => throw new UnknownTableException($"{table}.{column}: a value of type {value.GetType().Name} cannot be copied"),
    };

    /// <summary>Converts a normalized value to the type the target's driver reads the column as.</summary>
    internal static object? ForColumn(object? value, Type target) => value switch
    {
        long l when target == typeof(bool) => l != 0,
        long l when target == typeof(short) => checked((short)l),
        long l when target == typeof(int) => checked((int)l),
        long l when target == typeof(byte) => checked((byte)l),
        long l when target == typeof(sbyte) => checked((sbyte)l),
        long l when target == typeof(decimal) => (decimal)l,
        _ => value,
    };

    /// <summary>Adds a row's values to a running hash: equal rows (across databases) hash equal.</summary>
    public static void Hash(IncrementalHash hash, object?[] row)
    {
        ArgumentNullException.ThrowIfNull(hash);
        ArgumentNullException.ThrowIfNull(row);
        Span<byte> scratch = stackalloc byte[9];
        foreach (var value in row)
        {
            switch (value)
            {
                case null:
                    scratch[0] = 0;
                    hash.AppendData(scratch[..1]);
                    break;
                case long l:
                    scratch[0] = 1;
                    System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(scratch[1..], l);
                    hash.AppendData(scratch);
                    break;
                case double d:
                    scratch[0] = 2;
                    System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(scratch[1..], BitConverter.DoubleToInt64Bits(d));
                    hash.AppendData(scratch);
                    break;
                case string s:
                    AppendLengthPrefixed(hash, 3, Encoding.UTF8.GetBytes(s), scratch);
                    break;
                case byte[] bytes:
                    AppendLengthPrefixed(hash, 4, bytes, scratch);
                    break;
                default:
                    throw new ArgumentException($"not a normalized value: {value.GetType().Name}", nameof(row));
            }
        }
    }

    private static void AppendLengthPrefixed(IncrementalHash hash, byte tag, byte[] bytes, Span<byte> scratch)
    {
        scratch[0] = tag;
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(scratch[1..], bytes.Length);
        hash.AppendData(scratch);
        hash.AppendData(bytes);
    }
}
