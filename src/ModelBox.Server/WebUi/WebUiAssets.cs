using System.Collections.Frozen;
using System.IO.Compression;
using System.Reflection;
using System.Security.Cryptography;

namespace ModelBox.Server.WebUi;

/// <summary>One file of the web UI, held in memory with its validator and a gzip copy (the whole UI is a few hundred KiB).</summary>
/// <param name="Path">The path below <c>/ui/</c>, e.g. <c>app.js</c>.</param>
/// <param name="ContentType">The media type sent with it.</param>
/// <param name="Content">The bytes as shipped.</param>
/// <param name="Gzipped">The bytes gzip-compressed, or null when that does not make them smaller.</param>
/// <param name="ETag">A strong validator: the SHA-256 of the content.</param>
public sealed record WebUiAsset(string Path, string ContentType, byte[] Content, byte[]? Gzipped, string ETag);

/// <summary>
/// The web UI's files, embedded in this assembly (logical names <c>webui/...</c>), so that the single-file executable
/// carries them and nothing is read from disk or the internet at run time. Loaded once: the set never changes while the
/// process runs, so validators and compressed copies are computed once.
/// </summary>
public sealed class WebUiAssets
{
    private const string ResourcePrefix = "webui/";

    private static readonly FrozenDictionary<string, string> s_contentTypes = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".png"] = "image/png",
        [".txt"] = "text/plain; charset=utf-8",
        [".json"] = "application/json",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private readonly FrozenDictionary<string, WebUiAsset> _assets;

    public WebUiAssets()
        : this(typeof(WebUiAssets).Assembly)
    {
    }

    internal WebUiAssets(Assembly assembly)
    {
        var assets = new Dictionary<string, WebUiAsset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames())
        {
            if (!name.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(name)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var content = buffer.ToArray();
            var path = name[ResourcePrefix.Length..].Replace('\\', '/');
            var type = s_contentTypes.GetValueOrDefault(System.IO.Path.GetExtension(path), "application/octet-stream");
            assets[path] = new WebUiAsset(path, type, content, Compress(type, content), $"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..32]}\"");
        }

        _assets = assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The asset at <paramref name="path"/> (below <c>/ui/</c>), if the UI has one.</summary>
    public WebUiAsset? Find(string path) => _assets.GetValueOrDefault(path);

    /// <summary>Every path the UI ships.</summary>
    public IEnumerable<string> Paths => _assets.Keys;

    private static byte[]? Compress(string contentType, byte[] content)
    {
        if (!contentType.StartsWith("text/", StringComparison.Ordinal) && !contentType.StartsWith("application/json", StringComparison.Ordinal)
            && !contentType.StartsWith("image/svg", StringComparison.Ordinal))
        {
            return null;
        }

        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write(content);
        }

        return output.Length < content.Length ? output.ToArray() : null;
    }
}
