namespace ModelBox.Server.Hosting;

/// <summary>
/// REST routes carry a namespace in one path segment (<c>/api/v1/namespaces/{namespace}/models</c>); a path namespace
/// arrives URL-encoded (<c>vision%2Fdetection</c>). ASP.NET Core decodes every escape in a route value except <c>%2F</c>
/// (so a path keeps its segments); '%' is never part of a namespace, so this turns the escaped separators back into '/'
/// before the transcoded call binds its request.
/// </summary>
internal static class NamespaceRouteValue
{
    private const string Key = "namespace";

    public static IApplicationBuilder UseNamespaceRouteValue(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            if (context.Request.RouteValues.TryGetValue(Key, out var value)
                && value is string text
                && text.Contains('%', StringComparison.Ordinal))
            {
                context.Request.RouteValues[Key] = text.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);
            }

            return next(context);
        });
}
