using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing.Patterns;

namespace ModelBox.Server.Hosting;

/// <summary>
/// REST routes carry a metric key in one path segment (<c>/api/v1/objects/{parent_id}/metrics/{key}</c>), so a key with
/// '/' arrives escaped (<c>train%2Floss</c>). ASP.NET Core decodes every escape in a route value except <c>%2F</c>, and a
/// key may hold '%' itself (<c>100%25</c> arrives as <c>100%</c>), so the decoded value cannot be repaired by replacing
/// <c>%2F</c>: a key route value with a '%' in it is taken again from the request's raw target, its segment decoded once,
/// before the transcoded call binds its request.
/// </summary>
internal static class MetricKeyRouteValue
{
    private const string Key = "key";

    public static IApplicationBuilder UseMetricKeyRouteValue(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            if (context.Request.RouteValues.TryGetValue(Key, out var value)
                && value is string text
                && text.Contains('%', StringComparison.Ordinal)
                && RawSegment(context) is { } raw)
            {
                context.Request.RouteValues[Key] = Uri.UnescapeDataString(raw);
            }

            return next(context);
        });

    /// <summary>The undecoded path segment the route's key parameter matched, or null when it cannot be told.</summary>
    private static string? RawSegment(HttpContext context)
    {
        if (context.GetEndpoint() is not RouteEndpoint endpoint
            || context.Features.Get<IHttpRequestFeature>()?.RawTarget is not { } target
            || !target.StartsWith('/'))
        {
            return null;
        }

        var index = -1;
        var segments = endpoint.RoutePattern.PathSegments;
        for (var i = 0; i < segments.Count; i++)
        {
            if (segments[i].IsSimple && segments[i].Parts[0] is RoutePatternParameterPart { Name: Key })
            {
                index = i;
                break;
            }
        }

        var query = target.IndexOf('?', StringComparison.Ordinal);
        var raw = (query >= 0 ? target[..query] : target)[1..].Split('/');
        // The raw target also holds the path base; both split on the same '/' (an escaped one is not a separator).
        var path = context.Request.Path.Value ?? string.Empty;
        var offset = raw.Length - (path.Length <= 1 ? 0 : path[1..].Split('/').Length);
        return index >= 0 && offset >= 0 && offset + index < raw.Length ? raw[offset + index] : null;
    }
}
