using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using ModelBox.Domain.Changes;
using ModelBox.Storage.Filesystem;
using ModelBox.Storage.Postgres;
using ModelBox.Storage.Relational;
using ModelBox.Storage.Relational.Transfer;
using ModelBox.Storage.S3;
using ModelBox.Storage.Sqlite;
using Npgsql;

namespace ModelBox.Benchmarks;

/// <summary>
/// copy-data from the embedded store (SQLite + filesystem) to PostgreSQL + S3 (s3rver) beside the raw paths in the same
/// run: the metric points against a raw binary COPY of the same rows into a fresh database, the blobs against raw S3
/// PUTs of the same bytes into a fresh bucket (one at a time, as copy-data copies them). Needs
/// MODELBOX_TEST_POSTGRES_CONNECTION_STRING and MODELBOX_TEST_S3_ENDPOINT (`./test.sh --with-servers`).
/// Usage: copy-data [points=1000000] [objects=10000] [blob-mib=256]
/// </summary>
public static class CopyDataBenchmark
{
    private const int BlobBytes = 4 << 20;

    public static async Task<int> RunAsync(string[] args)
    {
        var points = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
        var objects = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10_000;
        var blobCount = (args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 256) * (1 << 20) / BlobBytes;
        if (Environment.GetEnvironmentVariable("MODELBOX_TEST_POSTGRES_CONNECTION_STRING") is not { Length: > 0 } admin
            || Environment.GetEnvironmentVariable("MODELBOX_TEST_S3_ENDPOINT") is not { Length: > 0 } endpoint)
        {
            Console.Error.WriteLine("copy-data needs MODELBOX_TEST_POSTGRES_CONNECTION_STRING and MODELBOX_TEST_S3_ENDPOINT (./test.sh --with-servers ...)");
            return 1;
        }

        var scratch = Directory.CreateTempSubdirectory("modelbox-copy-bench-").FullName;
        var databases = new List<string>();
        try
        {
            // The source: an embedded store with the objects, points and blobs.
            await using var source = new SqliteDialect(new SqliteStorageOptions { DatabasePath = Path.Combine(scratch, "modelbox.db") });
            await new RelationalMetadataStore(source, new InProcessChangeSignal()).MigrateAsync();
            var sourceBlobs = new FilesystemBlobStore(Path.Combine(scratch, "blobs"));
            var rows = await SeedAsync(source, sourceBlobs, points, objects, blobCount);

            var (targetConnection, targetName) = await CreateDatabaseAsync(admin);
            databases.Add(targetName);
            await using var target = new PostgresDialect(new PostgresStorageOptions { ConnectionString = targetConnection });
            await new RelationalMetadataStore(target, new InProcessChangeSignal()).MigrateAsync();
            var s3 = new S3BlobStoreOptions
            {
                Endpoint = endpoint, Region = "us-east-1", Bucket = "copybench-" + Guid.NewGuid().ToString("N")[..12],
                AccessKeyId = "S3RVER", SecretAccessKey = "S3RVER", ForcePathStyle = true,
            };
            using var raw = new AmazonS3Client(new BasicAWSCredentials("S3RVER", "S3RVER"), new AmazonS3Config
            {
                ServiceURL = endpoint, AuthenticationRegion = "us-east-1", ForcePathStyle = true,
                RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
                ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            });
            await raw.PutBucketAsync(s3.Bucket);
            var targetBlobs = new S3BlobStore(s3);

            // copy-data, timed per stage from its progress reports.
            var stages = new Dictionary<string, (TimeSpan First, TimeSpan Last)>(StringComparer.Ordinal);
            var clock = Stopwatch.StartNew();
            var stage = "";
            var stageStart = TimeSpan.Zero;
            var lastReport = TimeSpan.Zero;
            var copier = new DataCopier(source, sourceBlobs, target, targetBlobs);
            await copier.CopyAsync(new InlineProgress<CopyProgress>(p =>
            {
                var key = p.Stage == "blobs" ? "blobs" : p.Item;
                // Reports come after each committed batch: a stage runs from the previous stage's last report to its own last.
                if (key != stage)
                {
                    stageStart = lastReport;
                    stage = key;
                }

                lastReport = clock.Elapsed;
                stages[key] = (stages.TryGetValue(key, out var known) ? known.First : stageStart, lastReport);
            }), default);
            var copyTotal = clock.Elapsed;
            var comparisons = await copier.CompareAsync(null, default);
            if (comparisons.Any(c => !c.Equal))
            {
                Console.Error.WriteLine("copy-data produced a different target: " + string.Join(", ", comparisons.Where(c => !c.Equal).Select(c => c.Table)));
                return 1;
            }

            // Raw COPY of the same point rows into a fresh database, in batches as large as copy-data's.
            var (rawConnection, rawName) = await CreateDatabaseAsync(admin);
            databases.Add(rawName);
            await using (var rawDialect = new PostgresDialect(new PostgresStorageOptions { ConnectionString = rawConnection }))
            {
                await new RelationalMetadataStore(rawDialect, new InProcessChangeSignal()).MigrateAsync();
            }

            clock.Restart();
            await using (var connection = new NpgsqlConnection(rawConnection))
            {
                await connection.OpenAsync();
                for (var start = 0; start < points; start += 20_000)
                {
                    await using var transaction = await connection.BeginTransactionAsync();
                    await RawCopyAsync(connection, PointsOf(start, Math.Min(20_000, points - start)));
                    await transaction.CommitAsync();
                }
            }

            var rawCopy = clock.Elapsed;

            // Raw S3 PUTs of the same bytes (a fresh bucket), one at a time.
            var rawBucket = "rawbench-" + Guid.NewGuid().ToString("N")[..12];
            await raw.PutBucketAsync(rawBucket);
            clock.Restart();
            await foreach (var blob in sourceBlobs.ListBlobsAsync())
            {
                await using var stream = await sourceBlobs.OpenReadAsync(blob.Sha256) ?? throw new InvalidOperationException("blob vanished");
                await raw.PutObjectAsync(new PutObjectRequest { BucketName = rawBucket, Key = blob.Sha256, InputStream = stream, AutoCloseStream = false });
            }

            var rawPut = clock.Elapsed;

            double Seconds(string key) => stages.TryGetValue(key, out var s) ? (s.Last - s.First).TotalSeconds : 0;
            var pointSeconds = Seconds("metric_points");
            var blobSeconds = Seconds("blobs");
            var objectSeconds = Seconds("experiments") + Seconds("object_metadata");
            var megabytes = (double)blobCount * BlobBytes / (1 << 20);
            Console.WriteLine("# copy-data: embedded (SQLite + filesystem) -> PostgreSQL + S3 (s3rver), beside the raw paths");
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{points:N0} points, {objects:N0} experiments with 2 metadata keys each, {blobCount} blobs of 4 MiB; copy-data total {copyTotal.TotalSeconds:F1} s (rows: {rows:N0}); .NET {Environment.Version}, {Environment.ProcessorCount} cores"));
            Console.WriteLine();
            Console.WriteLine("| what | copy-data | raw | copy-data / raw |");
            Console.WriteLine("|---|---:|---:|---:|");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| metric points | {points / pointSeconds:N0} points/s | {points / rawCopy.TotalSeconds:N0} points/s (binary COPY) | {rawCopy.TotalSeconds / pointSeconds:P0} |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| blobs | {megabytes / blobSeconds:N1} MB/s | {megabytes / rawPut.TotalSeconds:N1} MB/s (S3 PUT) | {rawPut.TotalSeconds / blobSeconds:P0} |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| objects (experiments + metadata rows) | {objects * 3 / objectSeconds:N0} rows/s | | |"));
            return 0;
        }
        finally
        {
            await using (var connection = new NpgsqlConnection(admin))
            {
                await connection.OpenAsync();
                foreach (var name in databases)
                {
                    await new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", connection).ExecuteNonQueryAsync();
                }
            }

            Directory.Delete(scratch, recursive: true);
        }
    }

    private static async Task<long> SeedAsync(SqliteDialect source, FilesystemBlobStore blobs, int points, int objects, int blobCount)
    {
        await using var connection = await source.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "INSERT INTO namespaces (name, created_at) VALUES ('bench', 1)";
            await command.ExecuteNonQueryAsync();
            command.CommandText = """
                WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < @objects)
                INSERT INTO experiments (id, namespace, name, owner, framework, task, external_id, description, status, created_at, updated_at)
                SELECT printf('exp-%032x', i), 'bench', 'run-' || i, 'owner@example.com', 1, 'asr', '', 'a benchmark run', 0, i, i FROM n;
                INSERT INTO object_metadata (object_id, "key", value_json, updated_at) SELECT id, 'lr', '0.001', 1 FROM experiments;
                INSERT INTO object_metadata (object_id, "key", value_json, updated_at) SELECT id, 'layers', '{"depth": 12}', 1 FROM experiments;
                INSERT INTO metric_series (id, parent_id, "key", point_count) SELECT rowid, id, 'loss', 0 FROM experiments WHERE rowid <= 100;
                """;
            command.Parameters.Add(new Microsoft.Data.Sqlite.SqliteParameter("@objects", objects));
            await command.ExecuteNonQueryAsync();
        }

        for (var start = 0; start < points; start += 50_000)
        {
            await source.InsertPointsAsync(connection, transaction, PointsOf(start, Math.Min(50_000, points - start)), default);
        }

        await using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "UPDATE metric_series SET point_count = (SELECT COUNT(*) FROM metric_points p WHERE p.series_id = metric_series.id)";
            await command.ExecuteNonQueryAsync();
        }

        var bytes = new byte[BlobBytes];
        for (var i = 0; i < blobCount; i++)
        {
            RandomNumberGenerator.Fill(bytes);
            var sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));
            await using (var writer = await blobs.BeginWriteAsync())
            {
                await writer.WriteAsync(bytes);
                await writer.CommitAsync(sha256);
            }

            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "INSERT INTO files (id, parent_id, file_type, path, uri, size_bytes, md5, sha256, stored, created_at, updated_at) "
                + $"VALUES ('file-{i:x32}', 'exp-{0:x32}', 0, 'blob-{i}.bin', '', {BlobBytes}, '', '{sha256}', 1, 1, 1)";
            await command.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        return objects * 3L + points + blobCount;
    }

    private static async Task<(string ConnectionString, string Name)> CreateDatabaseAsync(string admin)
    {
        var name = "mbcopy_" + Guid.NewGuid().ToString("N")[..16];
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync();
        await new NpgsqlCommand($"CREATE DATABASE {name}", connection).ExecuteNonQueryAsync();
        return (new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString, name);
    }

    /// <summary>The raw binary COPY of numeric point rows: the ceiling of any PostgreSQL import.</summary>
    private static async Task RawCopyAsync(NpgsqlConnection connection, List<PointRow> points)
    {
        await using var importer = await connection.BeginBinaryImportAsync(
            "COPY metric_points (series_id, step, \"time\", seq, kind, num, txt, bin) FROM STDIN (FORMAT BINARY)");
        foreach (var point in points)
        {
            await importer.StartRowAsync();
            await importer.WriteAsync(point.SeriesId, NpgsqlTypes.NpgsqlDbType.Bigint);
            await importer.WriteAsync(point.Step, NpgsqlTypes.NpgsqlDbType.Bigint);
            await importer.WriteAsync(point.Time, NpgsqlTypes.NpgsqlDbType.Bigint);
            await importer.WriteAsync(point.Seq, NpgsqlTypes.NpgsqlDbType.Bigint);
            await importer.WriteAsync(point.Kind, NpgsqlTypes.NpgsqlDbType.Smallint);
            await importer.WriteAsync(point.Num!.Value, NpgsqlTypes.NpgsqlDbType.Double);
            await importer.WriteNullAsync();
            await importer.WriteNullAsync();
        }

        await importer.CompleteAsync();
    }

    /// <summary>Points spread over 100 series, as a training run logs them.</summary>
    private static List<PointRow> PointsOf(int start, int count) =>
        Enumerable.Range(start, count).Select(i => new PointRow(i % 100 + 1, i / 100, 1_700_000_000 + i / 100, i / 100, 2, 1.0 / (i + 1), null, null)).ToList();
}
