using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace ModelBox.EndToEnd.Tests.Maintenance;

/// <summary>A fresh bucket on the s3rver test.sh started, and how a ModelBox process is pointed at it.</summary>
public sealed record TestBucket(string Endpoint, string Bucket, string AccessKey, string SecretKey)
{
    public static Task<TestBucket> CreateAsync() =>
        CreateAsync(System.Environment.GetEnvironmentVariable("MODELBOX_TEST_S3_ENDPOINT") is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException("MODELBOX_TEST_S3_ENDPOINT is not set: these tests need an S3-compatible server (test.sh starts s3rver)"));

    /// <summary>A fresh bucket on the S3 server at <paramref name="endpoint"/>.</summary>
    public static async Task<TestBucket> CreateAsync(string endpoint)
    {
        var bucket = new TestBucket(endpoint, "mbx-" + Guid.NewGuid().ToString("N")[..16],
            System.Environment.GetEnvironmentVariable("MODELBOX_TEST_S3_ACCESS_KEY") ?? "S3RVER",
            System.Environment.GetEnvironmentVariable("MODELBOX_TEST_S3_SECRET_KEY") ?? "S3RVER");
        using var client = bucket.Client();
        await client.PutBucketAsync(bucket.Bucket);
        return bucket;
    }

    /// <summary>The MODELBOX_* variables of a server storing its blobs here.</summary>
    public Dictionary<string, string> Environment => new()
    {
        ["MODELBOX_ARTIFACT_STORAGE"] = "s3",
        ["MODELBOX_S3_ENDPOINT"] = Endpoint,
        ["MODELBOX_S3_BUCKET"] = Bucket,
        ["MODELBOX_S3_ACCESS_KEY_ID"] = AccessKey,
        ["MODELBOX_S3_SECRET_ACCESS_KEY"] = SecretKey,
    };

    /// <summary>The same as TOML.</summary>
    public string Toml =>
        $"artifact_storage = \"s3\"\n[s3]\nendpoint = \"{Endpoint}\"\nbucket = \"{Bucket}\"\naccess_key_id = \"{AccessKey}\"\nsecret_access_key = \"{SecretKey}\"\n";

    public AmazonS3Client Client() => new(new BasicAWSCredentials(AccessKey, SecretKey), new AmazonS3Config
    {
        ServiceURL = Endpoint,
        AuthenticationRegion = "us-east-1",
        ForcePathStyle = true,
        RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
        ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
    });

    /// <summary>Overwrites the stored object of a blob with other bytes.</summary>
    public async Task DamageAsync(string sha256)
    {
        using var client = Client();
        await client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = Bucket,
            Key = $"sha256/{sha256[..2]}/{sha256[2..4]}/{sha256}",
            ContentBody = "not the original bytes",
        });
    }
}
