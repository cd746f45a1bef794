using System.Collections.Concurrent;
using ModelBox.Domain.Operations;
using ModelBox.Domain.Storage;

namespace ModelBox.Domain.Access;

/// <summary>Tuning of the <see cref="AccessDirectory"/>.</summary>
/// <param name="RefreshInterval">How long validated tokens and grants are used before the access version is read again:
/// a revocation on any replica takes effect within this time.</param>
/// <param name="LastUsedResolution">A token's last-used time is written at most this often (a write per call would cost
/// more than the call).</param>
public sealed record AccessDirectoryOptions(TimeSpan RefreshInterval, TimeSpan LastUsedResolution)
{
    public static AccessDirectoryOptions Default { get; } = new(TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(1));
}

/// <summary>
/// Identities, tokens and grants: authenticates API tokens and single sign-on identities to a <see cref="CallerAccess"/>,
/// and manages principals, tokens and grants for callers allowed to. What it reads is cached; the cache is dropped when
/// the store's access version moved (checked at most once per <see cref="AccessDirectoryOptions.RefreshInterval"/>), so
/// a change made through any replica holds everywhere within that interval.
/// </summary>
public sealed class AccessDirectory(IAccessStore store, TimeProvider time, AccessDirectoryOptions? options = null)
{
    private const int MaxCachedEntries = 10_000;
    private readonly AccessDirectoryOptions _options = options ?? AccessDirectoryOptions.Default;
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private readonly ConcurrentDictionary<string, CachedToken> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CallerAccess> _callers = new(StringComparer.Ordinal);
    private volatile Snapshot? _snapshot;

    /// <summary>Authenticates an API token; throws Unauthenticated naming the token's prefix (never its secret).</summary>
    public async ValueTask<CallerAccess> AuthenticateTokenAsync(string token, CancellationToken cancellationToken = default)
    {
        if (!ApiTokens.TryParse(token, out var prefix))
        {
            throw Unauthenticated($"the token {ApiTokens.Describe(token)} is not a ModelBox API token (mbx_...)");
        }

        var snapshot = await CurrentAsync(cancellationToken).ConfigureAwait(false);
        if (!_tokens.TryGetValue(prefix, out var cached) || cached.Version != snapshot.Version)
        {
            var stored = await store.GetTokenAsync(prefix, cancellationToken).ConfigureAwait(false);
            var principal = stored is null ? null : await store.GetPrincipalAsync(stored.Token.PrincipalId, cancellationToken).ConfigureAwait(false);
            cached = new CachedToken(stored, principal, snapshot.Version);
            Remember(_tokens, prefix, cached);
        }

        // Unknown prefixes are compared too, against a fixed hash, so the time taken does not tell them apart. A token
        // verified before (for this access version) is compared with itself in constant time instead of hashed again:
        // the hash was a quarter of the access check's cost per call.
        var matches = cached.Verified is { } verified
            ? ApiTokens.SameToken(token, verified)
            : ApiTokens.Matches(token, cached.Stored?.SecretHash ?? s_noHash);
        if (cached.Stored is not { } stored2 || cached.Principal is null || !matches)
        {
            throw Unauthenticated($"the token {prefix} is not valid (unknown, or its secret is wrong)");
        }

        cached.Verified ??= token;
        var now = time.GetUtcNow();
        if (stored2.Token.RevokedAt is not null)
        {
            throw Unauthenticated($"the token {prefix} was revoked");
        }

        if (stored2.Token.ExpiresAt is { } expires && expires <= now)
        {
            throw Unauthenticated($"the token {prefix} expired at {expires:u}");
        }

        if (cached.LastTouched is not { } touched || now - touched >= _options.LastUsedResolution)
        {
            cached.LastTouched = now;
            try
            {
                await store.TouchTokenAsync(prefix, now, cancellationToken).ConfigureAwait(false);
            }
            catch (ModelBoxException exception) when (exception.Kind == ErrorKind.Unavailable)
            {
                // The last-used time is a convenience; a call is not refused because it could not be written.
            }
        }

        // The caller's access is kept with the token for this access version: a call costs a lookup, a hash and a compare.
        return cached.Caller ??= await AccessOfAsync(cached.Principal.Id, cached.Principal.Admin, [], prefix, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The access of a principal that authenticated elsewhere (single sign-on): its stored admin flag and memberships, plus
    /// <paramref name="externalGroups"/> (group names from the identity provider).
    /// </summary>
    public async ValueTask<CallerAccess> AccessOfExternalAsync(
        string principalId, IReadOnlyList<string> externalGroups, CancellationToken cancellationToken = default)
    {
        var snapshot = await CurrentAsync(cancellationToken).ConfigureAwait(false);
        var admin = snapshot.Admins.Contains(principalId);
        return await AccessOfAsync(principalId, admin, externalGroups, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A caller without credentials: the public grants only.</summary>
    public async ValueTask<CallerAccess> AnonymousAsync(CancellationToken cancellationToken = default)
    {
        var snapshot = await CurrentAsync(cancellationToken).ConfigureAwait(false);
        return snapshot.AnonymousCaller;
    }

    private async ValueTask<CallerAccess> AccessOfAsync(
        string principalId, bool admin, IReadOnlyList<string> externalGroups, string? tokenPrefix, CancellationToken cancellationToken)
    {
        var snapshot = await CurrentAsync(cancellationToken).ConfigureAwait(false);
        var key = $"{snapshot.Version}\u001f{principalId}\u001f{tokenPrefix}\u001f{string.Join('\u001f', externalGroups)}";
        if (_callers.TryGetValue(key, out var known))
        {
            return known;
        }

        var stored = await store.ListGroupsOfAsync(principalId, cancellationToken).ConfigureAwait(false);
        var groups = stored.Concat(externalGroups.Select(g => Principals.Id(PrincipalKind.Group, g))).Distinct(StringComparer.Ordinal).ToList();
        var holders = new HashSet<string>(groups, StringComparer.Ordinal) { principalId, Principals.Anonymous };
        var caller = new CallerAccess(principalId, admin, groups, snapshot.Grants.Where(g => holders.Contains(g.PrincipalId)), tokenPrefix);
        Remember(_callers, key, caller);
        return caller;
    }

    // ---- Management ----

    /// <summary>Creates a user or service account (admin only, or the server itself when <paramref name="caller"/> is null).</summary>
    public async Task<Principal> CreatePrincipalAsync(
        CallerAccess? caller, PrincipalKind kind, string? name, bool admin, CancellationToken cancellationToken = default)
    {
        caller?.RequireAdmin("creating principals");
        var valid = Validation.Required(name, "name");
        if (kind == PrincipalKind.Group && admin)
        {
            throw ModelBoxException.InvalidArgument("a group cannot be an admin; make its members admins");
        }

        var result = await store.CreatePrincipalAsync(
            new Principal(Principals.Id(kind, valid), kind, valid, admin, Clock.Now(time), caller?.PrincipalId ?? Principals.System),
            cancellationToken).ConfigureAwait(false);
        return result.Value;
    }

    /// <summary>Adds a member to a group (admin only); creates the group when it does not exist yet.</summary>
    public async Task AddGroupMemberAsync(CallerAccess caller, string? group, string? member, CancellationToken cancellationToken = default)
    {
        caller.RequireAdmin("changing group members");
        var (groupKind, groupName) = Principals.Parse(group, "group");
        var (memberKind, memberName) = Principals.Parse(member, "member");
        if (groupKind != PrincipalKind.Group || memberKind == PrincipalKind.Group)
        {
            throw ModelBoxException.InvalidArgument("group must name a group (group:NAME) and member a user or service account");
        }

        await EnsurePrincipalAsync(PrincipalKind.Group, groupName, caller, cancellationToken).ConfigureAwait(false);
        await store.AddGroupMemberAsync(Principals.Id(groupKind, groupName), Principals.Id(memberKind, memberName), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Creates a token for a user or service account and returns it with its listing; the token is not kept. A caller
    /// creates tokens for itself; an admin for anyone (<c>null</c> caller: the server, for bootstrap).
    /// </summary>
    public async Task<(string Token, ApiToken Listing)> CreateTokenAsync(
        CallerAccess? caller, string? principal, string? description, TimeSpan? lifetime, CancellationToken cancellationToken = default)
    {
        var principalId = string.IsNullOrEmpty(principal) && caller is not null ? caller.PrincipalId : PrincipalIdOf(principal, "principal");
        if (caller is not null && !caller.Admin && principalId != caller.PrincipalId)
        {
            throw new ModelBoxException(ErrorKind.PermissionDenied, $"{caller.PrincipalId} may create tokens only for itself; {principalId} needs an admin");
        }

        if (principalId.StartsWith("group:", StringComparison.Ordinal) || principalId == Principals.Anonymous)
        {
            throw ModelBoxException.InvalidArgument($"principal '{principalId}': tokens belong to users and service accounts, not groups");
        }

        if (lifetime is { } span && span <= TimeSpan.Zero)
        {
            throw ModelBoxException.InvalidArgument("expires in must be positive (or absent for a token that does not expire)");
        }

        if (await store.GetPrincipalAsync(principalId, cancellationToken).ConfigureAwait(false) is null)
        {
            // A single sign-on user has no stored principal until it needs one: its first token creates it.
            if (caller is not null && principalId == caller.PrincipalId && principalId.StartsWith("user:", StringComparison.Ordinal))
            {
                await EnsurePrincipalAsync(PrincipalKind.User, principalId["user:".Length..], caller, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                throw ModelBoxException.NotFound("principal", principalId);
            }
        }

        var now = Clock.Now(time);
        var (token, prefix) = ApiTokens.Create();
        var listing = new ApiToken(prefix, principalId, Validation.Description(description), now, lifetime is { } l ? now + l : null, null, null);
        await store.CreateTokenAsync(new StoredToken(listing, ApiTokens.Hash(token)), cancellationToken).ConfigureAwait(false);
        return (token, listing);
    }

    /// <summary>Tokens of the caller, or of anyone (or one principal) for an admin.</summary>
    public async Task<IReadOnlyList<ApiToken>> ListTokensAsync(CallerAccess caller, string? principal, CancellationToken cancellationToken = default)
    {
        var principalId = string.IsNullOrEmpty(principal) ? (caller.Admin ? null : caller.PrincipalId) : PrincipalIdOf(principal, "principal");
        if (!caller.Admin && principalId != caller.PrincipalId)
        {
            throw new ModelBoxException(ErrorKind.PermissionDenied, $"{caller.PrincipalId} may list only its own tokens");
        }

        return await store.ListTokensAsync(principalId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Revokes a token of the caller's own (or any, for an admin).</summary>
    public async Task<ApiToken> RevokeTokenAsync(CallerAccess caller, string? prefix, CancellationToken cancellationToken = default)
    {
        var valid = Validation.Required(prefix, "prefix");
        var existing = await store.GetTokenAsync(valid, cancellationToken).ConfigureAwait(false);
        if (existing is null || (!caller.Admin && existing.Token.PrincipalId != caller.PrincipalId))
        {
            throw ModelBoxException.NotFound("token", valid);
        }

        var revoked = await store.RevokeTokenAsync(valid, Clock.Now(time), cancellationToken).ConfigureAwait(false);
        await InvalidateAsync(cancellationToken).ConfigureAwait(false);
        return revoked ?? throw ModelBoxException.NotFound("token", valid);
    }

    /// <summary>Gives a principal a role on a namespace subtree; the caller must own the namespace (or be an admin).</summary>
    public async Task<Grant> SetGrantAsync(
        CallerAccess caller, string? principal, string? @namespace, string? role, CancellationToken cancellationToken = default)
    {
        var ns = Validation.Namespace(@namespace);
        caller.Require(Role.Owner, ns);
        var principalId = PrincipalIdOf(principal, "principal");
        var parsedRole = Principals.ParseRole(role, "role");
        if (principalId == Principals.Anonymous && parsedRole != Role.Viewer)
        {
            throw ModelBoxException.InvalidArgument("anonymous callers may only be viewers (public read)");
        }

        if (principalId != Principals.Anonymous)
        {
            var (kind, name) = Principals.Parse(principalId, "principal");
            await EnsurePrincipalAsync(kind, name, caller, cancellationToken).ConfigureAwait(false);
        }

        var grant = await store.SetGrantAsync(new Grant(principalId, ns, parsedRole, Clock.Now(time), caller.PrincipalId), cancellationToken)
            .ConfigureAwait(false);
        await InvalidateAsync(cancellationToken).ConfigureAwait(false);
        return grant;
    }

    /// <summary>Removes a principal's grant on a namespace; the caller must own the namespace (or be an admin).</summary>
    public async Task RemoveGrantAsync(CallerAccess caller, string? principal, string? @namespace, CancellationToken cancellationToken = default)
    {
        var ns = Validation.Namespace(@namespace);
        caller.Require(Role.Owner, ns);
        var principalId = PrincipalIdOf(principal, "principal");
        if (!await store.RemoveGrantAsync(principalId, ns, cancellationToken).ConfigureAwait(false))
        {
            throw new ModelBoxException(ErrorKind.NotFound, $"{principalId} has no grant on namespace '{ns}'");
        }

        await InvalidateAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Grants the caller may see: an admin all of them; anyone else those naming it or its groups and those on namespaces
    /// it owns; only those on <paramref name="namespace"/> and below when given.
    /// </summary>
    public async Task<IReadOnlyList<Grant>> ListGrantsAsync(CallerAccess caller, string? @namespace, CancellationToken cancellationToken = default)
    {
        var scope = string.IsNullOrEmpty(@namespace) ? (NamespaceScope?)null : NamespaceScope.From(@namespace, recursive: true);
        var all = await store.ListGrantsAsync(null, cancellationToken).ConfigureAwait(false);
        return [.. all.Where(g =>
            (scope is null || scope.Value.Contains(g.Namespace))
            && (caller.Admin || g.PrincipalId == caller.PrincipalId || caller.Groups.Contains(g.PrincipalId) || caller.RoleOn(g.Namespace) == Role.Owner))];
    }

    /// <summary>
    /// Creates the first admin user and a token for it when no admin exists yet (or always, when <paramref name="force"/>);
    /// returns null when an admin exists and nothing was created.
    /// </summary>
    public async Task<(string Token, ApiToken Listing)?> BootstrapAdminAsync(string? name, bool force, CancellationToken cancellationToken = default)
    {
        if (!force && (await store.ListPrincipalsAsync(cancellationToken).ConfigureAwait(false)).Any(p => p.Admin))
        {
            return null;
        }

        var admin = await CreatePrincipalAsync(null, PrincipalKind.User, string.IsNullOrEmpty(name) ? "admin" : name, admin: true, cancellationToken)
            .ConfigureAwait(false);
        if (!admin.Admin)
        {
            throw ModelBoxException.FailedPrecondition($"user '{admin.Name}' exists and is not an admin; choose another name");
        }

        return await CreateTokenAsync(null, admin.Id, "bootstrap admin", null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Drops every cached token and grant (after a change through this process: it holds at once here).</summary>
    public async Task InvalidateAsync(CancellationToken cancellationToken = default)
    {
        _snapshot = null;
        await CurrentAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string PrincipalIdOf(string? text, InputName field)
    {
        if (text == Principals.Anonymous || text == "anonymous")
        {
            return Principals.Anonymous;
        }

        var (kind, name) = Principals.Parse(text, field);
        return Principals.Id(kind, name);
    }

    private async Task EnsurePrincipalAsync(PrincipalKind kind, string name, CallerAccess caller, CancellationToken cancellationToken) =>
        await store.CreatePrincipalAsync(new Principal(Principals.Id(kind, name), kind, name, false, Clock.Now(time), caller.PrincipalId), cancellationToken)
            .ConfigureAwait(false);

    /// <summary>The grants and admins as of the latest access version, read again when it moved.</summary>
    private async ValueTask<Snapshot> CurrentAsync(CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        var snapshot = _snapshot;
        if (snapshot is not null && time.GetElapsedTime(snapshot.CheckedAt, now) < _options.RefreshInterval)
        {
            return snapshot;
        }

        await _refresh.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            snapshot = _snapshot;
            if (snapshot is not null && time.GetElapsedTime(snapshot.CheckedAt, now) < _options.RefreshInterval)
            {
                return snapshot;
            }

            var version = await store.GetAccessVersionAsync(cancellationToken).ConfigureAwait(false);
            if (snapshot is not null && snapshot.Version == version)
            {
                _snapshot = snapshot with { CheckedAt = time.GetTimestamp() };
                return _snapshot;
            }

            var grants = await store.ListGrantsAsync(null, cancellationToken).ConfigureAwait(false);
            var admins = (await store.ListPrincipalsAsync(cancellationToken).ConfigureAwait(false)).Where(p => p.Admin).Select(p => p.Id);
            _tokens.Clear();
            _callers.Clear();
            var fresh = new Snapshot(
                version,
                time.GetTimestamp(),
                grants,
                admins.ToHashSet(StringComparer.Ordinal),
                CallerAccess.Anonymous(grants.Where(g => g.PrincipalId == Principals.Anonymous)));
            _snapshot = fresh;
            return fresh;
        }
        finally
        {
            _refresh.Release();
        }
    }

    private static void Remember<T>(ConcurrentDictionary<string, T> cache, string key, T value)
    {
        // Bounded: a flood of distinct (bogus) prefixes must not grow memory; the cache refills from the store.
        if (cache.Count >= MaxCachedEntries)
        {
            cache.Clear();
        }

        cache[key] = value;
    }

    private static ModelBoxException Unauthenticated(string message) => new(ErrorKind.Unauthenticated, message);

    private static readonly byte[] s_noHash = new byte[32];

    private sealed record Snapshot(long Version, long CheckedAt, IReadOnlyList<Grant> Grants, HashSet<string> Admins, CallerAccess AnonymousCaller);

    private sealed class CachedToken(StoredToken? stored, Principal? principal, long version)
    {
        public StoredToken? Stored { get; } = stored;
        public Principal? Principal { get; } = principal;
        public long Version { get; } = version;
        public DateTimeOffset? LastTouched { get; set; } = stored?.Token.LastUsedAt;
        public CallerAccess? Caller { get; set; }

        /// <summary>The token whose secret matched the stored hash; kept in memory only, dropped with the entry.</summary>
        public string? Verified { get; set; }
    }
}
