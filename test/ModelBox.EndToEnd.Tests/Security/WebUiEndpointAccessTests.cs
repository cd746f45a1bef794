using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using ModelBox.Domain.Access;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Security;

/// <summary>
/// The web UI's two plain HTTP endpoints under enforced auth: the change events of a subtree show only what the caller
/// may read and end when its token is revoked; a download gives the bytes to a viewer and nothing to anyone else.
/// </summary>
[Collection(AuthServerCollection.Name)]
public sealed class WebUiEndpointAccessTests(AuthServerFixture fixture) : IDisposable
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);
    private readonly HttpClient _http = new() { BaseAddress = new Uri(fixture.Server.HttpAddress), Timeout = Timeout.InfiniteTimeSpan };

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task Recursive_change_events_show_only_readable_namespaces_and_end_when_the_token_is_revoked()
    {
        var directory = fixture.Server.Server.Services.GetRequiredService<AccessDirectory>();
        var root = await directory.AuthenticateTokenAsync(fixture.Tokens["admin"]!);
        var user = "sse-" + Guid.NewGuid().ToString("N")[..8];
        await directory.CreatePrincipalAsync(root, PrincipalKind.User, user, admin: false);
        await directory.SetGrantAsync(root, user, fixture.Team, "viewer");
        var token = await directory.CreateTokenAsync(root, user, "sse", null);
        fixture.Secrets.Add(token.Token);

        using var cancel = new CancellationTokenSource(HangGuard);
        using var request = Get($"/api/v1/namespaces/{Uri.EscapeDataString(fixture.Root)}/change-events?recursive=true", token.Token);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var events = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
        Assert.Contains("event: ready", await ReadEventAsync(events, cancel.Token), StringComparison.Ordinal);

        // A change in a namespace the caller may not read comes first: it must not be among what the stream shows.
        var admin = fixture.Store("admin");
        var hidden = "hidden-" + Guid.NewGuid().ToString("N")[..6];
        var shown = "shown-" + Guid.NewGuid().ToString("N")[..6];
        await admin.CreateExperimentAsync(new CreateExperimentRequest { Namespace = fixture.Other, Name = hidden });
        await admin.CreateExperimentAsync(new CreateExperimentRequest { Namespace = fixture.Team + "/sub", Name = shown });
        var seen = new List<string>();
        while (!seen.Any(e => e.Contains(shown, StringComparison.Ordinal)))
        {
            seen.Add(await ReadEventAsync(events, cancel.Token) ?? throw new InvalidOperationException("the stream ended: " + string.Join("\n", seen)));
        }

        Assert.DoesNotContain(seen, e => e.Contains(hidden, StringComparison.Ordinal));

        // Revoked mid-stream: the next change ends the stream with an error event instead of showing it.
        await directory.RevokeTokenAsync(root, token.Listing.Prefix);
        var after = "after-" + Guid.NewGuid().ToString("N")[..6];
        await admin.CreateExperimentAsync(new CreateExperimentRequest { Namespace = fixture.Team, Name = after });
        var rest = new List<string>();
        while (await ReadEventAsync(events, cancel.Token) is { } next)
        {
            rest.Add(next);
        }

        Assert.DoesNotContain(rest, e => e.Contains(after, StringComparison.Ordinal));
        Assert.Contains(rest, e => e.Contains("event: error", StringComparison.Ordinal) && e.Contains("\"code\":16", StringComparison.Ordinal));

        using var again = Get($"/api/v1/namespaces/{Uri.EscapeDataString(fixture.Team)}/change-events", token.Token);
        using var refused = await _http.SendAsync(again, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task A_download_gives_the_bytes_to_a_viewer_and_refuses_the_owner_of_another_namespace_and_anonymous_callers()
    {
        var admin = fixture.Store("admin");
        var experiment = (await admin.CreateExperimentAsync(new CreateExperimentRequest { Namespace = fixture.Team, Name = "dl" })).ExperimentId;
        using var upload = admin.UploadFile();
        await upload.RequestStream.WriteAsync(new UploadFileRequest { Metadata = new FileMetadata { ParentId = experiment, Path = "w.bin", FileType = FileType.Model } });
        await upload.RequestStream.WriteAsync(new UploadFileRequest { Chunks = ByteString.CopyFromUtf8("the weights") });
        await upload.RequestStream.CompleteAsync();
        var file = (await upload.ResponseAsync).FileId;
        var path = $"/api/v1/artifacts/{file}/download";

        using (var response = await _http.SendAsync(Get(path, fixture.Tokens["viewer"])))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("the weights", await response.Content.ReadAsStringAsync());
        }

        using (var response = await _http.SendAsync(Get(path, fixture.Tokens["other-owner"])))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.DoesNotContain("the weights", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var response = await _http.SendAsync(Get(path, token: null)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        }
    }

    private static HttpRequestMessage Get(string path, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return request;
    }

    /// <summary>The next event (its lines up to the blank line), skipping keep-alive comments; null at the end of the stream.</summary>
    private static async Task<string?> ReadEventAsync(StreamReader reader, CancellationToken cancellationToken)
    {
        var lines = new List<string>();
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                if (lines.Count > 0)
                {
                    return string.Join("\n", lines);
                }

                continue;
            }

            if (!line.StartsWith(':'))
            {
                lines.Add(line);
            }
        }

        return lines.Count > 0 ? string.Join("\n", lines) : null;
    }
}
