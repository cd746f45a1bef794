using ModelBox.Domain;
using ModelBox.Domain.Access;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.Tests;

/// <summary>Principals, group memberships, API tokens and grants, and the access version every change of them bumps.</summary>
public abstract class AccessStoreSpecification : StoreSpecification
{
    private static readonly DateTimeOffset T0 = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(1_234_560);

    private IAccessStore Access => Factory.Store;

    [Fact]
    public async Task A_revocation_or_grant_change_through_one_replica_holds_on_another()
    {
        // Two servers on one database, each with its own cache; a refresh interval of zero checks the access version on
        // every call (the interval only bounds how stale a cache may be, it is not what this test is about).
        var replica = Factory.OpenReplica(new ModelBox.Domain.Changes.InProcessChangeSignal());
        await using var replicaDatabase = (IAsyncDisposable)replica.Dialect;
        var options = new AccessDirectoryOptions(TimeSpan.Zero, TimeSpan.FromMinutes(1));
        var here = new AccessDirectory(Access, TimeProvider.System, options);
        var there = new AccessDirectory(replica, TimeProvider.System, options);
        var token = (await here.BootstrapAdminAsync("root", force: false))!.Value.Token;
        var root = await here.AuthenticateTokenAsync(token);
        await here.CreatePrincipalAsync(root, PrincipalKind.User, "alice", admin: false);
        await here.SetGrantAsync(root, "alice", "vision", "editor");
        var alice = (await here.CreateTokenAsync(root, "alice", "laptop", null)).Token;

        Assert.Equal(Role.Editor, (await there.AuthenticateTokenAsync(alice)).RoleOn("vision/detection"));
        await here.SetGrantAsync(root, "alice", "vision", "viewer");
        Assert.Equal(Role.Viewer, (await there.AuthenticateTokenAsync(alice)).RoleOn("vision/detection"));
        await here.RemoveGrantAsync(root, "alice", "vision");
        Assert.Equal(Role.None, (await there.AuthenticateTokenAsync(alice)).RoleOn("vision"));

        await here.RevokeTokenAsync(root, ApiTokens.Describe(alice));
        var refused = await Assert.ThrowsAsync<ModelBoxException>(async () => await there.AuthenticateTokenAsync(alice));
        Assert.Equal(ErrorKind.Unauthenticated, refused.Kind);
        Assert.Contains("revoked", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Principals_are_created_once_and_every_access_change_bumps_the_version()
    {
        var v0 = await Access.GetAccessVersionAsync();
        var alice = await Access.CreatePrincipalAsync(new Principal("user:alice", PrincipalKind.User, "alice", Admin: false, T0, "system"));
        Assert.False(alice.Existed);
        var again = await Access.CreatePrincipalAsync(new Principal("user:alice", PrincipalKind.User, "alice", Admin: true, T0.AddHours(1), "x"));
        Assert.True(again.Existed);
        Assert.False(again.Value.Admin);
        Assert.Equal(T0, again.Value.CreatedAt);
        var v1 = await Access.GetAccessVersionAsync();
        Assert.True(v1 > v0);

        await Access.CreatePrincipalAsync(new Principal("group:vision", PrincipalKind.Group, "vision", false, T0, "system"));
        Assert.True(await Access.AddGroupMemberAsync("group:vision", "user:alice"));
        Assert.False(await Access.AddGroupMemberAsync("group:vision", "user:alice"));
        Assert.Equal(["group:vision"], await Access.ListGroupsOfAsync("user:alice"));
        var missing = await Assert.ThrowsAsync<ModelBoxException>(() => Access.AddGroupMemberAsync("group:vision", "user:nobody"));
        Assert.Equal(ErrorKind.NotFound, missing.Kind);
        var v2 = await Access.GetAccessVersionAsync();
        Assert.True(v2 > v1);
        Assert.True(await Access.RemoveGroupMemberAsync("group:vision", "user:alice"));
        Assert.Empty(await Access.ListGroupsOfAsync("user:alice"));
        Assert.True(await Access.GetAccessVersionAsync() > v2);
        Assert.Equal(["group:vision", "user:alice"], (await Access.ListPrincipalsAsync()).Select(p => p.Id));
    }

    [Fact]
    public async Task Tokens_keep_their_hash_expiry_revocation_and_last_use()
    {
        await Access.CreatePrincipalAsync(new Principal("sa:ci", PrincipalKind.ServiceAccount, "ci", false, T0, "system"));
        var hash = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        await Access.CreateTokenAsync(new StoredToken(new ApiToken("mbx_0123456789ab", "sa:ci", "nightly", T0, T0.AddDays(30), null, null), hash));
        await Access.CreateTokenAsync(new StoredToken(new ApiToken("mbx_ffffffffffff", "sa:ci", "other", T0.AddMinutes(1), null, null, null), hash));

        var stored = await Access.GetTokenAsync("mbx_0123456789ab");
        Assert.NotNull(stored);
        Assert.Equal(hash, stored.SecretHash);
        Assert.Equal(T0.AddDays(30), stored.Token.ExpiresAt);
        Assert.Null(await Access.GetTokenAsync("mbx_000000000000"));
        Assert.Equal(["mbx_ffffffffffff", "mbx_0123456789ab"], (await Access.ListTokensAsync("sa:ci")).Select(t => t.Prefix));
        Assert.Empty(await Access.ListTokensAsync("user:nobody"));

        await Access.TouchTokenAsync("mbx_0123456789ab", T0.AddHours(2));
        await Access.TouchTokenAsync("mbx_0123456789ab", T0.AddHours(1));
        Assert.Equal(T0.AddHours(2), (await Access.GetTokenAsync("mbx_0123456789ab"))!.Token.LastUsedAt);

        var before = await Access.GetAccessVersionAsync();
        var revoked = await Access.RevokeTokenAsync("mbx_0123456789ab", T0.AddHours(3));
        Assert.Equal(T0.AddHours(3), revoked!.RevokedAt);
        Assert.True(await Access.GetAccessVersionAsync() > before);
        Assert.Equal(T0.AddHours(3), (await Access.RevokeTokenAsync("mbx_0123456789ab", T0.AddHours(4)))!.RevokedAt);
        Assert.Null(await Access.RevokeTokenAsync("mbx_000000000000", T0));

        var orphan = await Assert.ThrowsAsync<ModelBoxException>(
            () => Access.CreateTokenAsync(new StoredToken(new ApiToken("mbx_aaaaaaaaaaaa", "user:nobody", "", T0, null, null, null), hash)));
        Assert.Equal(ErrorKind.NotFound, orphan.Kind);
    }

    [Fact]
    public async Task A_grant_per_principal_and_namespace_is_set_replaced_listed_and_removed()
    {
        await Access.CreatePrincipalAsync(new Principal("user:alice", PrincipalKind.User, "alice", false, T0, "system"));
        await Access.CreatePrincipalAsync(new Principal("group:nlp", PrincipalKind.Group, "nlp", false, T0, "system"));
        await Access.SetGrantAsync(new Grant("user:alice", "vision", Role.Viewer, T0, "user:root"));
        await Access.SetGrantAsync(new Grant("user:alice", "vision", Role.Editor, T0.AddMinutes(1), "user:root"));
        await Access.SetGrantAsync(new Grant("group:nlp", "nlp/asr", Role.Owner, T0, "user:root"));
        await Access.SetGrantAsync(new Grant(Principals.Anonymous, "public", Role.Viewer, T0, "user:root"));

        var all = await Access.ListGrantsAsync(null);
        Assert.Equal(
            [("group:nlp", "nlp/asr", Role.Owner), (Principals.Anonymous, "public", Role.Viewer), ("user:alice", "vision", Role.Editor)],
            all.Select(g => (g.PrincipalId, g.Namespace, g.Role)));
        Assert.Equal(["vision"], (await Access.ListGrantsAsync(["user:alice"])).Select(g => g.Namespace));
        Assert.Equal(2, (await Access.ListGrantsAsync(["user:alice", "group:nlp"])).Count);
        Assert.Empty(await Access.ListGrantsAsync([]));

        var missing = await Assert.ThrowsAsync<ModelBoxException>(() => Access.SetGrantAsync(new Grant("user:nobody", "x", Role.Viewer, T0, "r")));
        Assert.Equal(ErrorKind.NotFound, missing.Kind);
        var before = await Access.GetAccessVersionAsync();
        Assert.True(await Access.RemoveGrantAsync("user:alice", "vision"));
        Assert.False(await Access.RemoveGrantAsync("user:alice", "vision"));
        Assert.True(await Access.GetAccessVersionAsync() > before);
        Assert.Empty(await Access.ListGrantsAsync(["user:alice"]));
    }
}
