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
/// run: the metric points against a raw binary COPY of the same rows into a fresh database (batches as large as
/// copy-data's), the blobs against raw S3 PUTs of the same bytes into a fresh bucket with as many PUTs in flight as
/// copy-data copies blobs at once. Needs MODELBOX_TEST_POSTGRES_CONNECTION_STRING and MODELBOX_TEST_S3_ENDPOINT
/// (`./test.sh --with-servers`). See bench/README.md.
/// </summary>
public static class CopyDataBenchmark
{
    /// <summary>Larger than the S3 store's part (8 MiB): a multipart upload.</summary>
    private const int LargeBlobBytes = 32 << 20;

    /// <summary>Smaller than a part: one PUT.</summary>
    private const int SmallBlobBytes = 1 << 20;

    private const int BatchRows = 20_000;

    private sealed record Options(int Points, int Objects, int BlobMib, int Concurrency, bool CopyOnly)
    {
        public static Options Parse(string[] args)
        {
            var options = new Options(1_000_000, 10_000, 1024, 4, CopyOnly: false);
            for (var i = 0; i < args.Length; i++)
            {
                var name = args[i];
                int Value() => i + 1 < args.Length && int.TryParse(args[++i], NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0
                    ? value
                    : throw new ArgumentException($"{name} needs a positive integer\n{Usage}");
                options = name switch
                {
                    "--points" => options with { Points = Value() },
                    "--objects" => options with { Objects = Value() },
                    "--blob-mib" => options with { BlobMib = Value() },
                    "--blob-concurrency" => options with { Concurrency = Value() },
                    "--quick" => options with { Points = 100_000, Objects = 1_000, BlobMib = 64 },
                    "--copy-only" => options with { CopyOnly = true },
                    _ => throw new ArgumentException($"unknown option {name}\n{Usage}"),
                };
            }

            return options;
        }

        private const string Usage =
            "usage: copy-data [--points 1000000] [--objects 10000] [--blob-mib 1024] [--blob-concurrency 4] [--quick] [--copy-only]";
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var options = Options.Parse(args);
        if (Environment.GetEnvironmentVariable("MODELBOX_TEST_POSTGRES_CONNECTION_STRING") is not { Length: > 0 } admin
            || Environment.GetEnvironmentVariable("MODELBOX_TEST_S3_ENDPOINT") is not { Length: > 0 } endpoint)
        {
            Console.Error.WriteLine("copy-data needs MODELBOX_TEST_POSTGRES_CONNECTION_STRING and MODELBOX_TEST_S3_ENDPOINT (./test.sh --with-servers ...)");
            return 1;
        }

        var scratch = Directory.CreateTempSubdirectory("modelbox-copy-bench-").FullName;
        try
        {
            // The source: an embedded store with the objects, points and blobs.
            await using var source = new SqliteDialect(new SqliteStorageOptions { DatabasePath = Path.Combine(scratch, "modelbox.db") });
            var sourceStore = new RelationalMetadataStore(source, new InProcessChangeSignal());
            await sourceStore.MigrateAsync();
            var sourceBlobs = new FilesystemBlobStore(Path.Combine(scratch, "blobs"));
            var blobs = BlobSizes(options.BlobMib);
            var rows = await SeedAsync(source, sourceBlobs, options.Points, options.Objects, blobs);
            await sourceStore.MigrateAsync(); // builds the seeded series' summaries (the seed put them in the backlog)
            await using (var connection = await source.DataSource.OpenConnectionAsync())
            await using (var count = connection.CreateCommand())
            {
                count.CommandText = "SELECT COUNT(*) FROM metric_summaries";
                rows += (long)(await count.ExecuteScalarAsync())!;
            }
            var blobBytes = blobs.Sum(b => (long)b);
            var clock = Stopwatch.StartNew();
            await source.VacuumIntoAsync(Path.Combine(scratch, "snapshot.sqlite"), default);
            var snapshotTime = clock.Elapsed;
            var databaseBytes = new FileInfo(Path.Combine(scratch, "snapshot.sqlite")).Length;
            File.Delete(Path.Combine(scratch, "snapshot.sqlite"));

            await using var targetDatabase = await BenchDatabase.CreatePostgresAsync(admin);
            await using var target = new PostgresDialect(new PostgresStorageOptions { ConnectionString = targetDatabase.ConnectionString });
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
            using var targetBlobs = new S3BlobStore(s3);

            // copy-data, timed per stage from its progress reports: reports come after each committed batch, so a stage runs
            // from the previous stage's last report to its own last.
            var stages = new Dictionary<string, (TimeSpan First, TimeSpan Last, long Done)>(StringComparer.Ordinal);
            var order = new List<string>();
            var stage = "";
            var lastReport = TimeSpan.Zero;
            var copier = new DataCopier(source, sourceBlobs, target, targetBlobs) { BatchRows = BatchRows, BlobConcurrency = options.Concurrency };
            clock.Restart();
            await copier.CopyAsync(new InlineProgress<CopyProgress>(p =>
            {
                var key = p.Stage == "blobs" ? "blobs" : p.Item;
                var first = lastReport;
                if (key != stage)
                {
                    stage = key;
                    order.Add(key);
                }
                else
                {
                    first = stages[key].First;
                }

                lastReport = clock.Elapsed;
                stages[key] = (first, lastReport, p.Done);
            }), default);
            var copyTotal = clock.Elapsed;
            clock.Restart();
            var comparisons = await copier.CompareAsync(null, default);
            var compareTime = clock.Elapsed;
            if (comparisons.Any(c => !c.Equal))
            {
                Console.Error.WriteLine("copy-data produced a different target: " + string.Join(", ", comparisons.Where(c => !c.Equal).Select(c => c.Table)));
                return 1;
            }

            double Seconds(string key) => stages.TryGetValue(key, out var s) ? (s.Last - s.First).TotalSeconds : 0;
            var pointSeconds = Seconds("metric_points");
            var blobSeconds = Seconds("blobs");
            var objectSeconds = Seconds("experiments") + Seconds("object_metadata");
            var mebibytes = (double)blobBytes / (1 << 20);
            Console.WriteLine("# copy-data: embedded (SQLite + filesystem) -> PostgreSQL + S3 (s3rver), beside the raw paths");
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{options.Points:N0} points in 100 series, {options.Objects:N0} experiments with 2 metadata keys each, {blobs.Count} blobs ({blobs.Count(b => b == LargeBlobBytes)} of 32 MiB, {blobs.Count(b => b == SmallBlobBytes)} of 1 MiB: {mebibytes:N0} MiB); "
                + $"{rows:N0} rows; batches of {BatchRows:N0} rows; {options.Concurrency} blobs at once; .NET {Environment.Version}, {Environment.ProcessorCount} cores"));
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"copy-data {copyTotal.TotalSeconds:F1} s, then the table comparison {compareTime.TotalSeconds:F1} s. An online copy (a served source) first takes a snapshot: "
                + $"VACUUM INTO of this {databaseBytes / (1 << 20):N0} MiB database took {snapshotTime.TotalSeconds:F1} s."));
            Console.WriteLine();
            Console.WriteLine("| stage | rows or blobs | seconds |");
            Console.WriteLine("|---|---:|---:|");
            foreach (var key in order)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {key} | {stages[key].Done:N0} | {Seconds(key):F2} |"));
            }

            if (options.CopyOnly)
            {
                return 0;
            }

            // Raw binary COPY of the same point rows into a fresh database, in batches as large as copy-data's.
            await using var rawDatabase = await BenchDatabase.CreatePostgresAsync(admin);
            await using (var rawDialect = new PostgresDialect(new PostgresStorageOptions { ConnectionString = rawDatabase.ConnectionString }))
            {
                await new RelationalMetadataStore(rawDialect, new InProcessChangeSignal()).MigrateAsync();
            }

            clock.Restart();
            await using (var connection = new NpgsqlConnection(rawDatabase.ConnectionString))
            {
                await connection.OpenAsync();
                for (var start = 0; start < options.Points; start += BatchRows)
                {
                    await using var transaction = await connection.BeginTransactionAsync();
                    await RawCopyAsync(connection, PointsOf(start, Math.Min(BatchRows, options.Points - start)));
                    await transaction.CommitAsync();
                }
            }

            var rawCopy = clock.Elapsed;

            // Raw S3 PUTs of the same bytes into a fresh bucket, as many at once as copy-data copies.
            var rawBucket = "rawbench-" + Guid.NewGuid().ToString("N")[..12];
            await raw.PutBucketAsync(rawBucket);
            var sources = new List<string>();
            await foreach (var blob in sourceBlobs.ListBlobsAsync())
            {
                sources.Add(blob.Sha256);
            }

            clock.Restart();
            await Parallel.ForEachAsync(sources, new ParallelOptions { MaxDegreeOfParallelism = options.Concurrency }, async (sha256, token) =>
            {
                // Read whole, then one PUT from memory (as the store sends a blob smaller than a part, without chunk signing).
                byte[] content;
                await using (var stream = await sourceBlobs.OpenReadAsync(sha256, cancellationToken: token) ?? throw new InvalidOperationException("blob vanished"))
                {
                    content = new byte[stream.Length];
                    await stream.ReadExactlyAsync(content, token);
                }

                await raw.PutObjectAsync(
                    new PutObjectRequest { BucketName = rawBucket, Key = sha256, InputStream = new MemoryStream(content), UseChunkEncoding = false }, token);
            });
            var rawPut = clock.Elapsed;

            Console.WriteLine();
            Console.WriteLine("| what | copy-data | raw | copy-data / raw |");
            Console.WriteLine("|---|---:|---:|---:|");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| metric points | {options.Points / pointSeconds:N0} points/s | {options.Points / rawCopy.TotalSeconds:N0} points/s (binary COPY) | {rawCopy.TotalSeconds / pointSeconds:P0} |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| blobs | {mebibytes / blobSeconds:N1} MiB/s | {mebibytes / rawPut.TotalSeconds:N1} MiB/s (S3 PUT, {options.Concurrency} at once) | {rawPut.TotalSeconds / blobSeconds:P0} |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| objects (experiments + metadata rows) | {options.Objects * 3 / objectSeconds:N0} rows/s | | |"));
            var pass = rawCopy.TotalSeconds / pointSeconds >= 0.5 && rawPut.TotalSeconds / blobSeconds >= 0.5;
            Console.WriteLine();
            Console.WriteLine($"goal (copy-data >= 50% of each raw path): {(pass ? "met" : "NOT met")}");
            return 0;
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>Half the bytes in 32 MiB blobs (multipart uploads), half in 1 MiB blobs (one PUT each).</summary>
    private static List<int> BlobSizes(int mebibytes)
    {
        var large = mebibytes / 2 / (LargeBlobBytes >> 20);
        var small = mebibytes - (large * (LargeBlobBytes >> 20));
        return [.. Enumerable.Repeat(LargeBlobBytes, large), .. Enumerable.Repeat(SmallBlobBytes, small)];
    }

    private static async Task<long> SeedAsync(SqliteDialect source, FilesystemBlobStore blobs, int points, int objects, List<int> blobSizes)
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

            // The series get their summaries as a server's start-up would build them, so the copy carries them as it would.
            command.CommandText = "INSERT INTO metric_summary_backlog (series_id) SELECT id FROM metric_series";
            await command.ExecuteNonQueryAsync();
        }

        var bytes = new byte[blobSizes.Count == 0 ? 0 : blobSizes.Max()];
        for (var i = 0; i < blobSizes.Count; i++)
        {
            var content = bytes.AsMemory(0, blobSizes[i]);
            RandomNumberGenerator.Fill(content.Span);
            var sha256 = Convert.ToHexStringLower(SHA256.HashData(content.Span));
            await using (var writer = await blobs.BeginWriteAsync())
            {
                await writer.WriteAsync(content);
                await writer.CommitAsync(sha256);
            }

            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "INSERT INTO files (id, parent_id, file_type, path, uri, size_bytes, md5, sha256, stored, created_at, updated_at) "
                + $"VALUES ('file-{i:x32}', 'exp-{0:x32}', 0, 'blob-{i}.bin', '', {blobSizes[i]}, '', '{sha256}', 1, 1, 1)";
            await command.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        return objects * 3L + points + blobSizes.Count;
    }

    /// <summary>The raw binary COPY of numeric point rows, every column copy-data writes: the ceiling of any PostgreSQL import.</summary>
    private static async Task RawCopyAsync(NpgsqlConnection connection, List<PointRow> points)
    {
        await using var importer = await connection.BeginBinaryImportAsync(
            "COPY metric_points (series_id, step, \"time\", seq, kind, num, txt, bin, millis) FROM STDIN (FORMAT BINARY)");
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
            await importer.WriteAsync(point.Millis, NpgsqlTypes.NpgsqlDbType.Smallint);
        }

        await importer.CompleteAsync();
    }

    /// <summary>Points spread over 100 series, as a training run logs them.</summary>
    private static List<PointRow> PointsOf(int start, int count) =>
        Enumerable.Range(start, count).Select(i => new PointRow(i % 100 + 1, i / 100, 1_700_000_000 + i / 100, i / 100, 2, 1.0 / (i + 1), null, null)).ToList();
}
