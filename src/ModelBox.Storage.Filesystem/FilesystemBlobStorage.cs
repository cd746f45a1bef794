using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.Filesystem;

/// <summary>Where the filesystem blob store keeps its files.</summary>
public sealed class FilesystemBlobStoreOptions
{
    /// <summary>The base folder; created when missing.</summary>
    public string BaseDirectory { get; set; } = string.Empty;
}

/// <summary>Registration of the filesystem blob store.</summary>
public static class FilesystemBlobStorage
{
    /// <summary>Stores blobs as content-addressed files under <see cref="FilesystemBlobStoreOptions.BaseDirectory"/>.</summary>
    public static IServiceCollection AddFilesystemBlobs(this IServiceCollection services, Action<FilesystemBlobStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<FilesystemBlobStoreOptions>()
            .Configure(configure)
            .Validate(options => !string.IsNullOrWhiteSpace(options.BaseDirectory), "the blob folder is empty")
            .ValidateOnStart();
        services.AddSingleton<IBlobStore>(sp => new FilesystemBlobStore(sp.GetRequiredService<IOptions<FilesystemBlobStoreOptions>>().Value.BaseDirectory));
        return services;
    }
}
