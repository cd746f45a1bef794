using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using ModelBox.Domain.Storage;
using ModelBox.Storage.S3;

namespace ModelBox.Storage.Tests.Blobs;

/// <summary>
/// The blob-store suite against a real S3 wire-protocol server. test.sh starts one on loopback and exports
/// MODELBOX_TEST_S3_ENDPOINT (and optionally _ACCESS_KEY / _SECRET_KEY); without it these tests fail, never skip.
/// Each test gets its own bucket.
/// </summary>
public sealed class S3BlobStoreTests : BlobStoreSpecification
{
    private S3BlobStoreOptions? _options;

    internal static S3BlobStoreOptions OptionsFromEnvironment(string bucket)
    {
        var endpoint = Environment.GetEnvironmentVariable("MODELBOX_TEST_S3_ENDPOINT");
        if (string.IsNullOrEmpty(endpoint))
        {
            throw new InvalidOperationException(
                "MODELBOX_TEST_S3_ENDPOINT is not set: the S3 blob-store tests need an S3-compatible server (test.sh starts s3rver on 127.0.0.1)");
        }

        return new S3BlobStoreOptions
        {
            Endpoint = endpoint,
            Region = "us-east-1",
            Bucket = bucket,
            AccessKeyId = Environment.GetEnvironmentVariable("MODELBOX_TEST_S3_ACCESS_KEY") ?? "S3RVER",
            SecretAccessKey = Environment.GetEnvironmentVariable("MODELBOX_TEST_S3_SECRET_KEY") ?? "S3RVER",
            ForcePathStyle = true,
            PartSizeBytes = S3BlobStoreOptions.MinimumPartSizeBytes,
        };
    }

    internal static AmazonS3Client RawClient(S3BlobStoreOptions options) => new(
        new BasicAWSCredentials(options.AccessKeyId, options.SecretAccessKey),
        new AmazonS3Config
        {
            ServiceURL = options.Endpoint,
            AuthenticationRegion = options.Region,
            ForcePathStyle = true,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });

    protected override async Task<IBlobStore> CreateStoreAsync()
    {
        _options = OptionsFromEnvironment("spec-" + Guid.NewGuid().ToString("N")[..16]);
        using var raw = RawClient(_options);
        await raw.PutBucketAsync(_options.Bucket);
        return new S3BlobStore(_options);
    }

    [Fact]
    public async Task Committed_blobs_are_objects_keyed_by_their_hash_only()
    {
        var data = RandomBytes(300);
        await WriteAsync(data);
        var sha = Sha(data);

        var keys = await ListKeysAsync();

        Assert.Equal([$"sha256/{sha[..2]}/{sha[2..4]}/{sha}"], keys);
    }

    [Fact]
    public async Task A_large_upload_leaves_no_temporary_object_after_commit()
    {
        var data = RandomBytes(LargeBlobBytes);
        await WriteAsync(data);

        var keys = await ListKeysAsync();

        Assert.Single(keys);
        Assert.Equal(data, await ReadAsync(Sha(data)));
    }

    [Fact]
    public async Task An_addressed_write_goes_to_its_content_key_unseen_until_commit_and_leaves_nothing_when_aborted()
    {
        var data = RandomBytes(LargeBlobBytes);
        var sha = Sha(data);
        var store = (IAddressedBlobWriting)Store;
        await using (var aborted = await store.BeginWriteAsync(sha, data.Length))
        {
            await aborted.WriteAsync(data);
        }

        Assert.False(await Store.ExistsAsync(sha));
        Assert.Empty(await ListKeysAsync());

        await using var writer = await store.BeginWriteAsync(sha, data.Length);
        await writer.WriteAsync(data);
        await writer.SealAsync();
        // Every part is sent, and nothing is visible yet.
        Assert.False(await Store.ExistsAsync(sha));
        await Assert.ThrowsAsync<ArgumentException>(() => writer.CommitAsync(Sha(RandomBytes(10))));
        Assert.True(await writer.CommitAsync(sha));

        Assert.Equal([$"sha256/{sha[..2]}/{sha[2..4]}/{sha}"], await ListKeysAsync());
        Assert.Equal(data, await ReadAsync(sha));
    }

    /// <summary>
    /// s3rver cannot list multipart uploads in progress, so the visible temporaries are completed temporary objects:
    /// what a crash between "complete" and "copy" leaves.
    /// </summary>
    protected override async Task SweepVisibleTemporariesAsync()
    {
        using var raw = RawClient(_options!);
        await raw.PutObjectAsync(new PutObjectRequest { BucketName = _options!.Bucket, Key = "tmp/crashed", ContentBody = "partial", UseChunkEncoding = false });

        Assert.Contains(await ListTemporariesAsync(), t => t.Name == "tmp/crashed");
        Assert.True(await Store.SweepTemporariesAsync(DateTimeOffset.UtcNow.AddMinutes(1)) >= 1);
        Assert.DoesNotContain(await ListTemporariesAsync(), t => t.Name == "tmp/crashed");
    }

    private async Task<List<string>> ListKeysAsync()
    {
        using var raw = RawClient(_options!);
        var response = await raw.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _options!.Bucket });
        return (response.S3Objects ?? []).Select(o => o.Key).ToList();
    }
}
