using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ModelBox.EndToEnd.Tests.Packaging;

/// <summary>
/// A stand-in for <c>mcr.microsoft.com/dotnet/runtime-deps</c>, for machines that reach no container registry (this one
/// and CI): one layer with the C library, libstdc++, OpenSSL and zlib copied from this machine, a passwd file with the
/// same non-root <c>app</c> user (uid 1654, home /home/app) the real image has, served read-only over the registry
/// HTTP API on a loopback port, so that the SDK's `PublishContainer` pulls it as it pulls the real one.
/// </summary>
public sealed class LocalBaseImageRegistry : IAsyncDisposable
{
    public const string Repository = "dotnet/runtime-deps";
    public const string Tag = "10.0";

    // Every library a self-contained .NET app on Linux loads (OpenSSL for hashing and TLS, zlib for compression).
    private static readonly string[] Libraries =
    [
        "libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libstdc++.so.6", "libgcc_s.so.1",
        "libz.so.1", "libssl.so.3", "libcrypto.so.3",
    ];

    private readonly WebApplication _app;
    private readonly Dictionary<string, (byte[] Bytes, string MediaType)> _blobs = new(StringComparer.Ordinal);
    private readonly byte[] _manifest;

    private LocalBaseImageRegistry(WebApplication app, byte[] manifest)
    {
        _app = app;
        _manifest = manifest;
    }

    /// <summary>host:port of the registry: `localhost:PORT`, which the SDK talks to over plain HTTP.</summary>
    public string Registry { get; private set; } = "";

    /// <summary>The image reference to pass as ContainerBaseImage.</summary>
    public string BaseImage => $"{Registry}/{Repository}:{Tag}";

    public static async Task<LocalBaseImageRegistry> StartAsync()
    {
        var layer = BuildLayer(out var diffId);
        var layerDigest = Digest(layer);
        var config = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["config"] = new Dictionary<string, object>
            {
                ["Env"] = new[] { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "APP_UID=1654" },
                ["User"] = "",
            },
            ["rootfs"] = new Dictionary<string, object> { ["type"] = "layers", ["diff_ids"] = new[] { diffId } },
            ["history"] = new[] { new Dictionary<string, object> { ["created_by"] = "ModelBox test: libraries copied from the test machine" } },
        });
        var configDigest = Digest(config);
        var manifest = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.docker.distribution.manifest.v2+json",
            ["config"] = new Dictionary<string, object>
            {
                ["mediaType"] = "application/vnd.docker.container.image.v1+json",
                ["size"] = config.Length,
                ["digest"] = configDigest,
            },
            ["layers"] = new[]
            {
                new Dictionary<string, object>
                {
                    ["mediaType"] = "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    ["size"] = layer.Length,
                    ["digest"] = layerDigest,
                },
            },
        });

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var registry = new LocalBaseImageRegistry(app, manifest);
        registry._blobs[configDigest] = (config, "application/vnd.docker.container.image.v1+json");
        registry._blobs[layerDigest] = (layer, "application/vnd.docker.image.rootfs.diff.tar.gzip");
        app.MapMethods("/v2/", ["GET", "HEAD"], () => Results.Json(new { }));
        app.MapMethods("/v2/{**rest}", ["GET", "HEAD"], registry.Serve);
        await app.StartAsync();
        var address = new Uri(app.Urls.Single());
        registry.Registry = $"localhost:{address.Port}";
        return registry;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private IResult Serve(string rest, HttpContext context)
    {
        var manifestPath = $"{Repository}/manifests/";
        var blobPath = $"{Repository}/blobs/";
        if (rest.StartsWith(manifestPath, StringComparison.Ordinal))
        {
            var reference = rest[manifestPath.Length..];
            var digest = Digest(_manifest);
            if (reference != Tag && reference != digest)
            {
                return Results.NotFound();
            }

            context.Response.Headers["Docker-Content-Digest"] = digest;
            return Results.Bytes(_manifest, "application/vnd.docker.distribution.manifest.v2+json");
        }

        if (rest.StartsWith(blobPath, StringComparison.Ordinal) && _blobs.TryGetValue(rest[blobPath.Length..], out var blob))
        {
            context.Response.Headers["Docker-Content-Digest"] = rest[blobPath.Length..];
            return Results.Bytes(blob.Bytes, blob.MediaType);
        }

        return Results.NotFound();
    }

    private static byte[] BuildLayer(out string diffId)
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            void Directory(string name, int uid = 0, UnixFileMode mode = (UnixFileMode)0b111_101_101)
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, name) { Uid = uid, Gid = uid, Mode = mode });
            }

            void File(string name, byte[] content)
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name)
                {
                    Mode = (UnixFileMode)0b111_101_101,
                    DataStream = new MemoryStream(content),
                });
            }

            void Link(string name, string target)
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, name) { LinkName = target });
            }

            // Debian's merged /usr: /lib and /lib64 point into /usr.
            Directory("usr/");
            Directory("usr/lib/");
            Directory("usr/lib/x86_64-linux-gnu/");
            Directory("usr/lib64/");
            Link("lib", "usr/lib");
            Link("lib64", "usr/lib64");
            foreach (var library in Libraries)
            {
                File($"usr/lib/x86_64-linux-gnu/{library}", System.IO.File.ReadAllBytes(FindLibrary(library)));
            }

            File("usr/lib64/ld-linux-x86-64.so.2", System.IO.File.ReadAllBytes(FindLibrary("ld-linux-x86-64.so.2")));
            Directory("etc/");
            File("etc/passwd", Encoding.ASCII.GetBytes("root:x:0:0:root:/root:/sbin/nologin\napp:x:1654:1654:app:/home/app:/sbin/nologin\n"));
            File("etc/group", Encoding.ASCII.GetBytes("root:x:0:\napp:x:1654:\n"));
            Directory("home/");
            Directory("home/app/", uid: 1654, mode: (UnixFileMode)0b111_000_000);
            Directory("tmp/", mode: (UnixFileMode)0b1_111_111_111);
        }

        var uncompressed = tar.ToArray();
        diffId = Digest(uncompressed);
        using var gzipped = new MemoryStream();
        using (var gzip = new GZipStream(gzipped, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(uncompressed);
        }

        return gzipped.ToArray();
    }

    private static string FindLibrary(string name)
    {
        foreach (var dir in (string[])["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64"])
        {
            var path = Path.Combine(dir, name);
            if (System.IO.File.Exists(path))
            {
                // The file itself, not the symbolic link (libc.so.6 may link to libc-2.36.so).
                return new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
            }
        }

        throw new FileNotFoundException($"{name} is not on this machine (Debian's libc6, libstdc++6, libssl3, zlib1g)", name);
    }

    private static string Digest(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
}
