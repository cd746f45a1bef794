using Microsoft.Net.Http.Headers;

namespace ModelBox.Server.WebUi;

/// <summary>
/// The web UI on the HTTP listener: its pages (one HTML shell whose script reads the path), its files under
/// <c>/ui/</c>, and the two HTTP endpoints a browser needs beside the REST API: the change stream as server-sent events
/// and artifact downloads as plain bytes.
/// </summary>
public static class WebUiEndpoints
{
    /// <summary>The page paths (below these, the shell is served and the script shows the page the path names).</summary>
    private static readonly string[] PagePrefixes = ["/namespaces", "/experiments", "/compare", "/models", "/model-versions"];

    private const string AssetPrefix = "/ui";

    // The UI loads nothing from elsewhere: scripts, styles and connections are this server's own.
    private const string ContentSecurityPolicy =
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

    /// <summary>Whether the HTTP listener should let <paramref name="path"/> through to the UI.</summary>
    public static bool IsUiPath(PathString path) =>
        path == "/" || !path.HasValue || path.StartsWithSegments(AssetPrefix, StringComparison.Ordinal)
        || PagePrefixes.Any(p => path.StartsWithSegments(p, StringComparison.Ordinal));

    public static IServiceCollection AddWebUi(this IServiceCollection services) => services.AddSingleton<WebUiAssets>();

    /// <summary>
    /// Maps the UI. The change-event stream and the raw download call the domain directly, outside the gRPC access
    /// interceptor: with auth enforced they check their caller through the same <see cref="Security.AccessGate"/>.
    /// </summary>
    public static IEndpointRouteBuilder MapWebUi(this IEndpointRouteBuilder routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        string[] read = ["GET", "HEAD"];
        routes.MapMethods("/", read, ServePageAsync);
        foreach (var prefix in PagePrefixes)
        {
            routes.MapMethods(prefix, read, ServePageAsync);
            routes.MapMethods(prefix + "/{**rest}", read, ServePageAsync);
        }

        routes.MapMethods(AssetPrefix + "/{**path}", read, context =>
            ServeAsync(context, context.GetRouteValue("path") as string ?? string.Empty));
        routes.MapGet("/api/v1/namespaces/{namespace}/change-events", ChangeEventsEndpoint.StreamAsync);
        routes.MapGet("/api/v1/artifacts/{id}/download", ArtifactDownloadEndpoint.DownloadAsync);
        return routes;
    }

    private static Task ServePageAsync(HttpContext context) => ServeAsync(context, "index.html");

    private static async Task ServeAsync(HttpContext context, string path)
    {
        var asset = context.RequestServices.GetRequiredService<WebUiAssets>().Find(path);
        var response = context.Response;
        if (asset is null)
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            response.ContentType = "text/plain; charset=utf-8";
            await response.WriteAsync($"the web UI has no file '{path}'", context.RequestAborted);
            return;
        }

        var headers = response.Headers;
        // Revalidated on every use (a 304 costs one round trip on the same connection), so an upgraded server never
        // runs an old script against its new API.
        headers.CacheControl = "no-cache";
        headers.ETag = asset.ETag;
        headers.Vary = HeaderNames.AcceptEncoding;
        headers.XContentTypeOptions = "nosniff";
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers["Referrer-Policy"] = "same-origin";
        if (context.Request.Headers.IfNoneMatch.Any(v => v is not null && v.Contains(asset.ETag, StringComparison.Ordinal)))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        response.ContentType = asset.ContentType;
        var body = asset.Content;
        if (asset.Gzipped is not null && context.Request.Headers.AcceptEncoding.Any(v => v is not null && v.Contains("gzip", StringComparison.OrdinalIgnoreCase)))
        {
            headers.ContentEncoding = "gzip";
            body = asset.Gzipped;
        }

        response.ContentLength = body.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await response.Body.WriteAsync(body, context.RequestAborted);
        }
    }
}
