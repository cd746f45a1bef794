using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.S3;

/// <summary>Registration of the S3 blob store.</summary>
public static class S3BlobStorage
{
    /// <summary>Stores blobs as content-addressed objects in an S3-compatible bucket.</summary>
    public static IServiceCollection AddS3Blobs(this IServiceCollection services, Action<S3BlobStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<S3BlobStoreOptions>()
            .Configure(configure)
            .Validate(options => !string.IsNullOrWhiteSpace(options.Bucket), "the S3 bucket is empty")
            .Validate(options => options.PartSizeBytes >= S3BlobStoreOptions.MinimumPartSizeBytes, "the S3 part size is below 5 MiB")
            .ValidateOnStart();
        services.AddSingleton<IBlobStore>(sp => new S3BlobStore(sp.GetRequiredService<IOptions<S3BlobStoreOptions>>().Value));
        return services;
    }
}
