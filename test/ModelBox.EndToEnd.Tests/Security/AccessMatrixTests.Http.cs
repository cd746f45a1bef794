using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Google.Api;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Security;

// The HTTP side of the matrix: every transcoded REST route (from the google.api.http bindings of the service
// descriptors) and every other route the server maps under /api/v1 (the web UI's change events and downloads) × every
// kind of caller. A route the server serves without a row here fails the test.
public sealed partial class AccessMatrixTests
{
    /// <summary>One HTTP route: its key (<c>VERB /template</c> with parameters as <c>{}</c>), its policy, and its request.</summary>
    private sealed record HttpRow(string Key, Need Need, Func<HttpRequestMessage> Request);

    [Fact]
    public async Task Every_rest_route_and_web_ui_endpoint_gives_every_caller_the_status_the_policy_says_and_refused_calls_change_nothing()
    {
        var ids = await SeedAsync();
        var rows = HttpRows(ids, Rows(ids));
        var served = ServedRoutes();
        var missing = served.Except(rows.Select(r => r.Key), StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, "HTTP routes without a row in the access matrix: " + string.Join(", ", missing));
        var unserved = rows.Select(r => r.Key).Except(served, StringComparer.Ordinal).ToList();
        Assert.True(unserved.Count == 0, "matrix rows for routes the server does not serve: " + string.Join(", ", unserved));

        using var http = new HttpClient { BaseAddress = new Uri(fixture.Server.HttpAddress), Timeout = TimeSpan.FromSeconds(30) };
        var failures = new List<string>();
        var checkedCalls = 0;
        foreach (var caller in Callers)
        {
            foreach (var row in rows)
            {
                var expected = Expect(caller, row.Need);
                var before = expected == Outcome.Allowed ? default : await SnapshotAsync(ids);
                var (actual, detail) = await SendAsync(http, row, caller);
                checkedCalls++;
                // A route whose RPC the service does not implement yet answers 501 once access control let it through.
                if (actual != expected && !(expected == Outcome.Allowed && actual == Outcome.Unimplemented))
                {
                    failures.Add($"{row.Key} as {caller}: expected {expected}, got {actual} ({detail})");
                }
                else if (expected != Outcome.Allowed && await SnapshotAsync(ids) != before)
                {
                    failures.Add($"{row.Key} as {caller} was refused but changed something");
                }
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {checkedCalls} HTTP matrix cells failed:\n" + string.Join("\n", failures));
    }

    private async Task<(Outcome Outcome, string Detail)> SendAsync(HttpClient http, HttpRow row, string caller)
    {
        using var request = row.Request();
        if (fixture.Tokens[caller] is { } token)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        // Streams (downloads, change streams) are judged by their status line: refusals come before any body.
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var detail = $"HTTP {(int)response.StatusCode}";
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            detail += ": " + await response.Content.ReadAsStringAsync();
        }

        return (response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => Outcome.Unauthenticated,
            HttpStatusCode.Forbidden => Outcome.PermissionDenied,
            HttpStatusCode.NotImplemented => Outcome.Unimplemented,
            _ => Outcome.Allowed,
        }, detail);
    }

    /// <summary>
    /// A row for every binding of every RPC that has one, with the RPC's policy and a request made from its gRPC row's
    /// message (path parameters from its fields, the rest as the JSON body or the query), and the web UI's endpoints.
    /// </summary>
    private List<HttpRow> HttpRows(Ids ids, Dictionary<string, (Need Need, IReadOnlyList<IMessage> Requests)> rpcRows)
    {
        // Bindings whose path names fields the RPC's row leaves empty get a request of their own.
        var requests = new Dictionary<string, IMessage>(StringComparer.Ordinal)
        {
            ["GET /api/v1/experiments/{}/checkpoints/{}"] = new GetCheckpointRequest { ExperimentId = ids.Experiment, Epoch = 1 },
        };
        var rows = new List<HttpRow>();
        foreach (var method in new[] { ModelStore.Descriptor, ModelBoxAdmin.Descriptor, Access.Descriptor }.SelectMany(s => s.Methods))
        {
            var rule = method.GetOptions()?.GetExtension(AnnotationsExtensions.Http);
            if (rule is null)
            {
                continue;
            }

            Assert.True(rpcRows.TryGetValue(method.FullName, out var rpc), $"{method.FullName} has a REST binding but no row");
            foreach (var binding in new[] { rule }.Concat(rule.AdditionalBindings))
            {
                var (verb, template) = Pattern(binding);
                var key = Key(verb, template);
                var message = requests.GetValueOrDefault(key) ?? rpc.Requests[0];
                rows.Add(new HttpRow(key, rpc.Need, () => Transcoded(verb, template, binding.Body, message)));
            }
        }

        var team = Uri.EscapeDataString(ids.Team);
        rows.Add(new HttpRow("GET /api/v1/namespaces/{}/change-events", Need.Viewer,
            () => new HttpRequestMessage(HttpMethod.Get, $"/api/v1/namespaces/{team}/change-events?since=0")));
        rows.Add(new HttpRow("GET /api/v1/artifacts/{}/download", Need.Viewer,
            () => new HttpRequestMessage(HttpMethod.Get, $"/api/v1/artifacts/{Uri.EscapeDataString(ids.File)}/download")));
        return rows;
    }

    /// <summary>Every route the server maps under <c>/api/v1</c>, as <c>VERB /template</c> keys.</summary>
    private HashSet<string> ServedRoutes()
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var source in fixture.Server.Server.Services.GetServices<EndpointDataSource>())
        {
            foreach (var endpoint in source.Endpoints.OfType<RouteEndpoint>())
            {
                var template = "/" + (endpoint.RoutePattern.RawText ?? string.Empty).TrimStart('/');
                if (!template.StartsWith("/api/v1/", StringComparison.Ordinal) && template != "/api/v1")
                {
                    continue;
                }

                foreach (var verb in endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"])
                {
                    keys.Add(Key(verb, template));
                }
            }
        }

        return keys;
    }

    private static string Key(string verb, string template) => verb + " " + Regex.Replace(template, @"\{[^}]*\}", "{}");

    private static (string Verb, string Template) Pattern(HttpRule rule) => rule.PatternCase switch
    {
        HttpRule.PatternOneofCase.Get => ("GET", rule.Get),
        HttpRule.PatternOneofCase.Post => ("POST", rule.Post),
        HttpRule.PatternOneofCase.Put => ("PUT", rule.Put),
        HttpRule.PatternOneofCase.Delete => ("DELETE", rule.Delete),
        HttpRule.PatternOneofCase.Patch => ("PATCH", rule.Patch),
        _ => throw new InvalidOperationException($"unexpected HTTP pattern {rule.PatternCase}"),
    };

    /// <summary>The HTTP request JSON transcoding maps to <paramref name="message"/> on this binding.</summary>
    private static HttpRequestMessage Transcoded(string verb, string template, string body, IMessage message)
    {
        var inPath = new HashSet<string>(StringComparer.Ordinal);
        var path = Regex.Replace(template, @"\{([^}=]+)(=[^}]*)?\}", match =>
        {
            var field = message.Descriptor.FindFieldByName(match.Groups[1].Value)
                ?? throw new InvalidOperationException($"{template} names no field of {message.Descriptor.Name}");
            inPath.Add(field.Name);
            return Uri.EscapeDataString(Text(field.Accessor.GetValue(message)));
        });
        var request = new HttpRequestMessage(new HttpMethod(verb), path);
        if (body == "*")
        {
            request.Content = new StringContent(JsonFormatter.Default.Format(message), Encoding.UTF8, "application/json");
            return request;
        }

        var query = new List<string>();
        foreach (var field in message.Descriptor.Fields.InDeclarationOrder())
        {
            if (inPath.Contains(field.Name) || field.FieldType == FieldType.Message)
            {
                continue;
            }

            var value = field.Accessor.GetValue(message);
            // Fields left at their defaults are not sent.
            var values = field.IsRepeated ? ((System.Collections.IEnumerable)value).Cast<object>() : Text(value) is "" or "0" or "false" ? [] : [value];
            query.AddRange(values.Select(v => field.JsonName + "=" + Uri.EscapeDataString(Text(v))));
        }

        if (query.Count > 0)
        {
            request.RequestUri = new Uri(path + "?" + string.Join("&", query), UriKind.Relative);
        }

        return request;
    }

    private static string Text(object value) => value switch
    {
        string text => text,
        bool flag => flag ? "true" : "false",
        Enum => Convert.ToInt32(value, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };
}
