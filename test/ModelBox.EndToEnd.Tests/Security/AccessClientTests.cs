using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Grpc.Core;
using ModelBox.Client;
using ModelBox.EndToEnd.Tests.Cli;
using Microsoft.Extensions.DependencyInjection;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Security;

/// <summary>Access control as users meet it: the CLI, the SDK, REST, the change stream, and what the logs keep.</summary>
[Collection(AuthServerCollection.Name)]
public sealed class AccessClientTests(AuthServerFixture fixture)
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    private Task<CliResult> CliAsync(string? token, params string[] args) =>
        CliRunner.RunAsync(
            ["client", "--server-addr", fixture.Server.HostPort, .. args],
            token is null ? null : new Dictionary<string, string> { ["MODELBOX_TOKEN"] = token });

    [Fact]
    public async Task The_cli_says_which_token_it_sent_and_how_to_supply_one_and_never_prints_a_secret()
    {
        var none = await CliAsync(null, "experiments", "list", "--namespace", fixture.Team);
        none.AssertError(1, "sent no token");
        Assert.Contains("MODELBOX_TOKEN", none.Stderr, StringComparison.Ordinal);

        var revoked = fixture.Tokens["revoked"]!;
        var refused = await CliAsync(revoked, "experiments", "list", "--namespace", fixture.Team);
        refused.AssertError(1, $"sent token {revoked[..16]}");
        Assert.Contains("revoked", refused.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(revoked[17..], refused.Stderr, StringComparison.Ordinal);

        var who = (await CliAsync(fixture.Tokens["viewer"], "whoami", "-o", "json")).AssertSuccess().Json();
        Assert.Equal("user:viewer", who.GetProperty("principal").GetString());
        Assert.Equal(fixture.Team, who.GetProperty("grants")[0].GetProperty("namespace").GetString());
    }

    [Fact]
    public async Task An_admin_makes_a_token_with_the_cli_which_works_until_revoked()
    {
        var admin = fixture.Tokens["admin"];
        var account = "sa:ci-" + Guid.NewGuid().ToString("N")[..6];
        (await CliAsync(fixture.Tokens["editor"], "principals", "create", account)).AssertError(1, "admin");
        (await CliAsync(admin, "principals", "create", account)).AssertSuccess();
        (await CliAsync(admin, "tokens", "create", "--principal", account)).AssertSuccess();
        var created = (await CliAsync(admin, "tokens", "create", "--principal", "user:editor", "--description", "ci", "--expires-in", "1d", "-o", "json"))
            .AssertSuccess().Json();
        var token = created.GetProperty("token").GetString()!;
        var prefix = created.GetProperty("info").GetProperty("prefix").GetString()!;
        Assert.StartsWith(prefix + "_", token, StringComparison.Ordinal);

        Assert.Equal("user:editor", (await CliAsync(token, "whoami", "-o", "json")).AssertSuccess().Json().GetProperty("principal").GetString());
        var listed = (await CliAsync(admin, "tokens", "list", "--principal", "user:editor", "-o", "json")).AssertSuccess().Json();
        var row = listed.EnumerateArray().Single(t => t.GetProperty("prefix").GetString() == prefix);
        Assert.NotEqual(JsonValueKind.Null, row.GetProperty("last_used_at").ValueKind);
        Assert.DoesNotContain(token, listed.GetRawText(), StringComparison.Ordinal);

        // The editor lists its own tokens only, and cannot revoke another principal's.
        var own = (await CliAsync(token, "tokens", "list", "-o", "json")).AssertSuccess().Json();
        Assert.All(own.EnumerateArray(), t => Assert.Equal("user:editor", t.GetProperty("principal").GetString()));
        (await CliAsync(token, "tokens", "list", "--principal", "user:viewer")).AssertError(1, "only its own tokens");

        (await CliAsync(admin, "tokens", "revoke", prefix)).AssertSuccess();
        (await CliAsync(token, "whoami")).AssertError(1, $"the token {prefix} was revoked");
    }

    [Fact]
    public async Task Owners_manage_grants_of_their_subtree_only()
    {
        var owner = fixture.Tokens["owner"];
        var sub = fixture.Team + "/grants-" + Guid.NewGuid().ToString("N")[..6];
        (await CliAsync(owner, "grants", "set", "--namespace", sub, "--principal", "other-owner", "--role", "viewer")).AssertSuccess();
        var list = (await CliAsync(owner, "grants", "list", "--namespace", sub, "-o", "json")).AssertSuccess().Json();
        Assert.Equal(("user:other-owner", "viewer"), list.EnumerateArray().Select(g => (g.GetProperty("principal").GetString(), g.GetProperty("role").GetString())).Single());
        (await CliAsync(owner, "grants", "set", "--namespace", fixture.Other, "--principal", "viewer", "--role", "owner")).AssertError(1, "owner role on namespace");
        (await CliAsync(fixture.Tokens["editor"], "grants", "set", "--namespace", sub, "--principal", "editor", "--role", "owner")).AssertError(1, "owner role");
        (await CliAsync(owner, "grants", "set", "--namespace", sub, "--principal", "anonymous", "--role", "editor")).AssertError(1, "anonymous callers may only be viewers");
        (await CliAsync(owner, "grants", "remove", "--namespace", sub, "--principal", "other-owner")).AssertSuccess();
        (await CliAsync(owner, "grants", "remove", "--namespace", sub, "--principal", "other-owner")).AssertError(1, "has no grant");
    }

    [Fact]
    public async Task The_sdk_sends_its_token_and_an_editor_of_one_subtree_reads_nothing_of_another()
    {
        var admin = fixture.Store("admin");
        var secret = await admin.CreateExperimentAsync(new CreateExperimentRequest { Namespace = fixture.Other, Name = "secret-" + Guid.NewGuid().ToString("N")[..6] });
        await using var editor = new ModelBoxClient(fixture.Server.Address, new ModelBoxClientOptions { Token = fixture.Tokens["editor"] });
        var created = await editor.CreateExperimentAsync("mine-" + Guid.NewGuid().ToString("N")[..6], "me", fixture.Team, Framework.PyTorch);
        Assert.Equal(fixture.Team, created.Value.Namespace);

        var denied = await Assert.ThrowsAsync<ModelBoxException>(() => editor.GetExperimentAsync(secret.ExperimentId));
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        await Assert.ThrowsAsync<ModelBoxException>(async () => await editor.ListExperimentsAsync(fixture.Other).ToListAsync());
        // Search and namespace listings leave out what the editor may not read.
        var found = await editor.SearchExperimentsAsync("", null, null).ToListAsync();
        Assert.Contains(found, e => e.Id == created.Value.Id);
        Assert.DoesNotContain(found, e => e.Namespace == fixture.Other);
        var namespaces = await editor.ListNamespacesAsync().ToListAsync();
        Assert.Contains(namespaces, n => n.Name == fixture.Team);
        Assert.DoesNotContain(namespaces, n => n.Name == fixture.Other);

        await using var anonymous = new ModelBoxClient(fixture.Server.Address);
        var unauthenticated = await Assert.ThrowsAsync<ModelBoxUnauthenticatedException>(() => anonymous.GetExperimentAsync(created.Value.Id));
        Assert.Equal("no token", unauthenticated.TokenSent);
    }

    [Fact]
    public async Task A_recursive_search_returns_only_the_readable_part_of_the_subtree_through_the_sdk_and_the_cli()
    {
        var admin = fixture.Store("admin");
        var name = "subtree-" + Guid.NewGuid().ToString("N")[..6];
        var readable = await admin.CreateExperimentAsync(new CreateExperimentRequest { Namespace = fixture.Team + "/deep", Name = name });
        var hidden = await admin.CreateExperimentAsync(new CreateExperimentRequest { Namespace = fixture.Other + "/deep", Name = name });
        var filter = $"name = '{name}'";

        await using var viewer = new ModelBoxClient(fixture.Server.Address, new ModelBoxClientOptions { Token = fixture.Tokens["viewer"] });
        Assert.Equal([readable.ExperimentId], (await viewer.SearchExperimentsAsync(filter, fixture.Root, recursive: true).ToListAsync()).Select(e => e.Id));
        // Without recursive only the root namespace itself, where nothing matches.
        Assert.Empty(await viewer.SearchExperimentsAsync(filter, fixture.Root).ToListAsync());
        await using var root = new ModelBoxClient(fixture.Server.Address, new ModelBoxClientOptions { Token = fixture.Tokens["admin"] });
        Assert.Equal(
            new[] { readable.ExperimentId, hidden.ExperimentId }.Order(),
            (await root.SearchExperimentsAsync(filter, fixture.Root, recursive: true).ToListAsync()).Select(e => e.Id).Order());

        var cli = (await CliAsync(fixture.Tokens["viewer"], "search", "experiments", "--namespace", fixture.Root, "--recursive", "--filter", filter, "-o", "json"))
            .AssertSuccess().Json();
        Assert.Equal([readable.ExperimentId], cli.EnumerateArray().Select(e => e.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task Rest_answers_401_403_and_200_by_the_same_rules()
    {
        var admin = fixture.Store("admin");
        var team = await admin.CreateExperimentAsync(new CreateExperimentRequest { Namespace = fixture.Team, Name = "rest-" + Guid.NewGuid().ToString("N")[..6] });
        using var http = new HttpClient { BaseAddress = new Uri(fixture.Server.HttpAddress) };

        async Task<HttpStatusCode> GetAsync(string path, string? caller)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (caller is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fixture.Tokens[caller]);
            }

            using var response = await http.SendAsync(request);
            return response.StatusCode;
        }

        var experiment = $"/api/v1/experiments/{team.ExperimentId}";
        Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync(experiment, null));
        Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync(experiment, "wrong-secret"));
        Assert.Equal(HttpStatusCode.Forbidden, await GetAsync(experiment, "other-owner"));
        Assert.Equal(HttpStatusCode.OK, await GetAsync(experiment, "viewer"));
        Assert.Equal(HttpStatusCode.OK, await GetAsync(experiment, "oidc-group-user"));
        Assert.Equal(HttpStatusCode.OK, await GetAsync($"/api/v1/namespaces/{Uri.EscapeDataString(fixture.Team)}/experiments", "viewer"));
        Assert.Equal(HttpStatusCode.Forbidden, await GetAsync($"/api/v1/namespaces/{Uri.EscapeDataString(fixture.Other)}/experiments", "viewer"));
        Assert.Equal(HttpStatusCode.OK, await GetAsync("/api/v1/access/whoami", null));

        // The MLflow API: per-namespace rules (AccessMatrixTests covers every endpoint); a search needs some access.
        Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync("/api/2.0/mlflow/experiments/search", null));
        Assert.Equal(HttpStatusCode.OK, await GetAsync("/api/2.0/mlflow/experiments/search?max_results=10", "owner"));
        Assert.Equal(HttpStatusCode.OK, await GetAsync("/api/2.0/mlflow/experiments/search?max_results=10", "admin"));
    }

    [Fact]
    public async Task The_recorded_actor_is_the_token_s_principal_whatever_the_header_claims()
    {
        var admin = fixture.Store("admin");
        var model = await admin.CreateModelAsync(new CreateModelRequest { Namespace = fixture.Team, Name = "actor-" + Guid.NewGuid().ToString("N")[..6] });
        var headers = fixture.Headers("owner");
        headers.Add("x-modelbox-actor", "someone-else");
        await new ModelStore.ModelStoreClient(fixture.Channel).SetLabelsAsync(new SetLabelsRequest { ObjectId = model.Id, Labels = { ["env"] = "prod" }, Actor = "also-not-me" }, headers);
        var events = await admin.ListEventsAsync(new ListEventsRequest { ParentId = model.Id });
        var labelEvent = Assert.Single(events.Events, e => e.Name.Contains("label", StringComparison.Ordinal));
        Assert.Equal("user:owner", labelEvent.Source.Name);
    }

    [Fact]
    public async Task A_watcher_sees_only_readable_changes_and_a_revoked_grant_stops_the_flow()
    {
        var directory = fixture.Server.Server.Services.GetRequiredService<ModelBox.Domain.Access.AccessDirectory>();
        var root = await directory.AuthenticateTokenAsync(fixture.Tokens["admin"]!);
        var watcherName = "watcher-" + Guid.NewGuid().ToString("N")[..6];
        var tree = fixture.Root + "/watch-" + Guid.NewGuid().ToString("N")[..6];
        await directory.CreatePrincipalAsync(root, ModelBox.Domain.Access.PrincipalKind.User, watcherName, admin: false);
        await directory.SetGrantAsync(root, watcherName, tree + "/open", "viewer");
        var token = (await directory.CreateTokenAsync(root, watcherName, "watch", null)).Token;
        fixture.Secrets.Add(token);

        using var cancel = new CancellationTokenSource(HangGuard);
        var watcher = new ModelStore.ModelStoreClient(fixture.Channel);
        var auth = new global::Grpc.Core.Metadata { { "authorization", "Bearer " + token } };
        using var watch = watcher.WatchNamespace(new WatchNamespaceRequest { Namespace = tree, Recursive = true }, auth, cancellationToken: cancel.Token);
        var admin = fixture.Store("admin");
        var hidden = await admin.CreateExperimentAsync(new CreateExperimentRequest { Namespace = tree + "/closed", Name = "hidden" });
        var seen = await admin.CreateExperimentAsync(new CreateExperimentRequest { Namespace = tree + "/open", Name = "seen" });
        Assert.True(await watch.ResponseStream.MoveNext(cancel.Token));
        Assert.Equal(seen.ExperimentId, watch.ResponseStream.Current.ObjectId);

        await directory.RemoveGrantAsync(root, watcherName, tree + "/open");
        var afterRevoke = await admin.CreateExperimentAsync(new CreateExperimentRequest { Namespace = tree + "/open", Name = "after" });
        var grantedAgain = tree + "/closed";
        await directory.SetGrantAsync(root, watcherName, grantedAgain, "viewer");
        var marker = await admin.CreateExperimentAsync(new CreateExperimentRequest { Namespace = grantedAgain, Name = "marker" });

        // The next change delivered is the marker: nothing of the revoked subtree came through, nor the earlier hidden one.
        Assert.True(await watch.ResponseStream.MoveNext(cancel.Token));
        Assert.Equal(marker.ExperimentId, watch.ResponseStream.Current.ObjectId);
        Assert.NotEqual(hidden.ExperimentId, afterRevoke.ExperimentId);

        // Revoking the token ends the stream with UNAUTHENTICATED at the next change.
        await directory.RevokeTokenAsync(root, ModelBox.Domain.Access.ApiTokens.Describe(token));
        await admin.CreateExperimentAsync(new CreateExperimentRequest { Namespace = grantedAgain, Name = "last" });
        var ended = await Assert.ThrowsAsync<RpcException>(() => watch.ResponseStream.MoveNext(cancel.Token));
        Assert.Equal(StatusCode.Unauthenticated, ended.StatusCode);
    }

    [Fact]
    public async Task No_token_secret_appears_in_any_log_line()
    {
        // Every kind of caller has called by now or calls here, failing and succeeding.
        foreach (var caller in fixture.Tokens.Keys)
        {
            try
            {
                await fixture.Store(caller).ListExperimentsAsync(new ListExperimentsRequest { Namespace = fixture.Team });
            }
            catch (RpcException)
            {
            }
        }

        var logs = fixture.Logs.ToArray();
        Assert.Contains(logs, line => line.Contains("authentication failed", StringComparison.Ordinal));
        foreach (var secret in fixture.Secrets)
        {
            // The public prefix may appear; no part of a secret past it may.
            var hidden = secret.StartsWith("mbx_", StringComparison.Ordinal) && secret.Length > 17 ? secret[17..] : secret[^24..];
            Assert.DoesNotContain(logs, line => line.Contains(hidden, StringComparison.Ordinal));
        }
    }
}
