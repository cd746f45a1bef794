using ModelBox.Domain;
using ModelBox.Domain.Access;
using ModelBox.Domain.Storage;
using static ModelBox.Storage.Relational.RelationalValues;

namespace ModelBox.Storage.Relational;

// Principals, tokens and grants. Every write bumps the access version in its own transaction, so a replica that reads a
// newer version knows its caches are stale.
public sealed partial class RelationalMetadataStore : IAccessStore
{
    private const string PrincipalColumns =
        "id AS Id, kind AS Kind, name AS Name, admin AS Admin, created_at AS CreatedAt, created_by AS CreatedBy";

    private const string TokenColumns =
        "prefix AS Prefix, principal_id AS PrincipalId, secret_hash AS SecretHash, description AS Description, created_at AS CreatedAt, "
        + "expires_at AS ExpiresAt, revoked_at AS RevokedAt, last_used_at AS LastUsedAt";

    private const string GrantColumns =
        "principal_id AS PrincipalId, namespace AS Namespace, role AS Role, created_at AS CreatedAt, granted_by AS GrantedBy";

    public Task<long> GetAccessVersionAsync(CancellationToken cancellationToken = default) =>
        ReadAsync(
            session => session.ScalarAsync<long>("SELECT version FROM access_version WHERE id = 1", null, cancellationToken),
            cancellationToken);

    public Task<CreateResult<Principal>> CreatePrincipalAsync(Principal principal, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return WriteAsync(
            async session =>
            {
                var inserted = await session.ExecuteAsync(
                    _dialect.InsertIfAbsent(
                        "principals", "id, kind, name, admin, created_at, created_by", "@Id, @Kind, @Name, @Admin, @CreatedAt, @CreatedBy", "id"),
                    new
                    {
                        principal.Id,
                        Kind = (int)principal.Kind,
                        principal.Name,
                        Admin = principal.Admin ? 1 : 0,
                        CreatedAt = ToMicros(principal.CreatedAt),
                        principal.CreatedBy,
                    },
                    cancellationToken).ConfigureAwait(false) == 1;
                if (inserted)
                {
                    await BumpAccessVersionAsync(session, cancellationToken).ConfigureAwait(false);
                }

                var stored = await ReadPrincipalAsync(session, principal.Id, cancellationToken).ConfigureAwait(false);
                return new CreateResult<Principal>(stored!, Existed: !inserted);
            },
            cancellationToken);
    }

    public Task<Principal?> GetPrincipalAsync(string id, CancellationToken cancellationToken = default) =>
        ReadAsync(session => ReadPrincipalAsync(session, id, cancellationToken), cancellationToken);

    public Task<IReadOnlyList<Principal>> ListPrincipalsAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<Principal>>(
            async session => (await session.QueryAsync<PrincipalRow>(
                $"SELECT {PrincipalColumns} FROM principals ORDER BY id", null, cancellationToken).ConfigureAwait(false))
                .ConvertAll(row => row.ToPrincipal()),
            cancellationToken);

    public Task<bool> AddGroupMemberAsync(string groupId, string memberId, CancellationToken cancellationToken = default) =>
        WriteAsync(
            async session =>
            {
                foreach (var id in new[] { groupId, memberId })
                {
                    if (await ReadPrincipalAsync(session, id, cancellationToken).ConfigureAwait(false) is null)
                    {
                        throw ModelBoxException.NotFound("principal", id);
                    }
                }

                var added = await session.ExecuteAsync(
                    _dialect.InsertIfAbsent("group_members", "group_id, member_id", "@GroupId, @MemberId", "group_id, member_id"),
                    new { GroupId = groupId, MemberId = memberId },
                    cancellationToken).ConfigureAwait(false) == 1;
                if (added)
                {
                    await BumpAccessVersionAsync(session, cancellationToken).ConfigureAwait(false);
                }

                return added;
            },
            cancellationToken);

    public Task<bool> RemoveGroupMemberAsync(string groupId, string memberId, CancellationToken cancellationToken = default) =>
        WriteChangingAccessAsync(
            session => session.ExecuteAsync(
                "DELETE FROM group_members WHERE group_id = @GroupId AND member_id = @MemberId",
                new { GroupId = groupId, MemberId = memberId },
                cancellationToken),
            cancellationToken);

    public Task<IReadOnlyList<string>> ListGroupsOfAsync(string memberId, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<string>>(
            async session => await session.QueryAsync<string>(
                "SELECT group_id FROM group_members WHERE member_id = @MemberId ORDER BY group_id", new { MemberId = memberId }, cancellationToken)
                .ConfigureAwait(false),
            cancellationToken);

    public Task CreateTokenAsync(StoredToken token, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(token);
        var t = token.Token;
        return WriteAsync(
            async session =>
            {
                if (await ReadPrincipalAsync(session, t.PrincipalId, cancellationToken).ConfigureAwait(false) is null)
                {
                    throw ModelBoxException.NotFound("principal", t.PrincipalId);
                }

                await session.ExecuteAsync(
                    "INSERT INTO api_tokens (prefix, principal_id, secret_hash, description, created_at, expires_at, revoked_at, last_used_at) "
                    + "VALUES (@Prefix, @PrincipalId, @SecretHash, @Description, @CreatedAt, @ExpiresAt, NULL, NULL)",
                    new
                    {
                        t.Prefix,
                        t.PrincipalId,
                        SecretHash = Convert.ToHexStringLower(token.SecretHash),
                        t.Description,
                        CreatedAt = ToMicros(t.CreatedAt),
                        ExpiresAt = ToMicros(t.ExpiresAt),
                    },
                    cancellationToken).ConfigureAwait(false);
                await BumpAccessVersionAsync(session, cancellationToken).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    public Task<StoredToken?> GetTokenAsync(string prefix, CancellationToken cancellationToken = default) =>
        ReadAsync(
            async session =>
            {
                var rows = await session.QueryAsync<TokenRow>(
                    $"SELECT {TokenColumns} FROM api_tokens WHERE prefix = @Prefix", new { Prefix = prefix }, cancellationToken).ConfigureAwait(false);
                return rows.Count == 0 ? null : new StoredToken(rows[0].ToToken(), Convert.FromHexString(rows[0].SecretHash));
            },
            cancellationToken);

    public Task<IReadOnlyList<ApiToken>> ListTokensAsync(string? principalId, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<ApiToken>>(
            async session => (await session.QueryAsync<TokenRow>(
                $"SELECT {TokenColumns} FROM api_tokens"
                + (principalId is null ? string.Empty : " WHERE principal_id = @PrincipalId")
                + " ORDER BY created_at DESC, prefix",
                new { PrincipalId = principalId },
                cancellationToken).ConfigureAwait(false)).ConvertAll(row => row.ToToken()),
            cancellationToken);

    public Task<ApiToken?> RevokeTokenAsync(string prefix, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        WriteAsync(
            async session =>
            {
                var changed = await session.ExecuteAsync(
                    "UPDATE api_tokens SET revoked_at = @At WHERE prefix = @Prefix AND revoked_at IS NULL",
                    new { Prefix = prefix, At = ToMicros(at) },
                    cancellationToken).ConfigureAwait(false);
                if (changed > 0)
                {
                    await BumpAccessVersionAsync(session, cancellationToken).ConfigureAwait(false);
                }

                var rows = await session.QueryAsync<TokenRow>(
                    $"SELECT {TokenColumns} FROM api_tokens WHERE prefix = @Prefix", new { Prefix = prefix }, cancellationToken).ConfigureAwait(false);
                return rows.Count == 0 ? null : rows[0].ToToken();
            },
            cancellationToken);

    public Task TouchTokenAsync(string prefix, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        WriteAsync(
            session => session.ExecuteAsync(
                "UPDATE api_tokens SET last_used_at = @At WHERE prefix = @Prefix AND (last_used_at IS NULL OR last_used_at < @At)",
                new { Prefix = prefix, At = ToMicros(at) },
                cancellationToken),
            cancellationToken);

    public Task<Grant> SetGrantAsync(Grant grant, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(grant);
        return WriteAsync(
            async session =>
            {
                if (grant.PrincipalId != Principals.Anonymous
                    && await ReadPrincipalAsync(session, grant.PrincipalId, cancellationToken).ConfigureAwait(false) is null)
                {
                    throw ModelBoxException.NotFound("principal", grant.PrincipalId);
                }

                await session.ExecuteAsync(
                    _dialect.Upsert(
                        "access_grants",
                        "principal_id, namespace, role, created_at, granted_by",
                        "@PrincipalId, @Namespace, @Role, @CreatedAt, @GrantedBy",
                        "principal_id, namespace",
                        "role", "created_at", "granted_by"),
                    new
                    {
                        grant.PrincipalId,
                        grant.Namespace,
                        Role = (int)grant.Role,
                        CreatedAt = ToMicros(grant.CreatedAt),
                        grant.GrantedBy,
                    },
                    cancellationToken).ConfigureAwait(false);
                await BumpAccessVersionAsync(session, cancellationToken).ConfigureAwait(false);
                return grant;
            },
            cancellationToken);
    }

    public Task<bool> RemoveGrantAsync(string principalId, string @namespace, CancellationToken cancellationToken = default) =>
        WriteChangingAccessAsync(
            session => session.ExecuteAsync(
                "DELETE FROM access_grants WHERE principal_id = @PrincipalId AND namespace = @Namespace",
                new { PrincipalId = principalId, Namespace = @namespace },
                cancellationToken),
            cancellationToken);

    public Task<IReadOnlyList<Grant>> ListGrantsAsync(IReadOnlyCollection<string>? principalIds, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<Grant>>(
            async session =>
            {
                if (principalIds is { Count: 0 })
                {
                    return [];
                }

                var where = principalIds is null
                    ? string.Empty
                    : " WHERE principal_id IN (" + string.Join(", ", principalIds.Select((_, i) => $"@P{i}")) + ")";
                var parameters = new Dapper.DynamicParameters();
                var index = 0;
                foreach (var id in principalIds ?? [])
                {
                    parameters.Add($"P{index++}", id);
                }

                return (await session.QueryAsync<GrantRow>(
                    $"SELECT {GrantColumns} FROM access_grants{where} ORDER BY namespace, principal_id", parameters, cancellationToken)
                    .ConfigureAwait(false)).ConvertAll(row => row.ToGrant());
            },
            cancellationToken);

    /// <summary>Runs a delete-like write; bumps the access version when it changed a row; true when it did.</summary>
    private Task<bool> WriteChangingAccessAsync(Func<DbSession, Task<int>> write, CancellationToken cancellationToken) =>
        WriteAsync(
            async session =>
            {
                var changed = await write(session).ConfigureAwait(false) > 0;
                if (changed)
                {
                    await BumpAccessVersionAsync(session, cancellationToken).ConfigureAwait(false);
                }

                return changed;
            },
            cancellationToken);

    private static Task<int> BumpAccessVersionAsync(DbSession session, CancellationToken cancellationToken) =>
        session.ExecuteAsync("UPDATE access_version SET version = version + 1 WHERE id = 1", null, cancellationToken);

    private static async Task<Principal?> ReadPrincipalAsync(DbSession session, string id, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<PrincipalRow>(
            $"SELECT {PrincipalColumns} FROM principals WHERE id = @Id", new { Id = id }, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0].ToPrincipal();
    }

    private sealed class PrincipalRow
    {
        public string Id { get; set; } = string.Empty;
        public long Kind { get; set; }
        public string Name { get; set; } = string.Empty;
        public long Admin { get; set; }
        public long CreatedAt { get; set; }
        public string CreatedBy { get; set; } = string.Empty;

        public Principal ToPrincipal() => new(Id, (PrincipalKind)Kind, Name, Admin != 0, FromMicros(CreatedAt), CreatedBy);
    }

    private sealed class TokenRow
    {
        public string Prefix { get; set; } = string.Empty;
        public string PrincipalId { get; set; } = string.Empty;
        public string SecretHash { get; set; } = string.Empty;
        public string Description { get; set; } = string.Empty;
        public long CreatedAt { get; set; }
        public long? ExpiresAt { get; set; }
        public long? RevokedAt { get; set; }
        public long? LastUsedAt { get; set; }

        public ApiToken ToToken() =>
            new(Prefix, PrincipalId, Description, FromMicros(CreatedAt), FromMicros(ExpiresAt), FromMicros(RevokedAt), FromMicros(LastUsedAt));
    }

    private sealed class GrantRow
    {
        public string PrincipalId { get; set; } = string.Empty;
        public string Namespace { get; set; } = string.Empty;
        public long Role { get; set; }
        public long CreatedAt { get; set; }
        public string GrantedBy { get; set; } = string.Empty;

        public Grant ToGrant() => new(PrincipalId, Namespace, (Role)Role, FromMicros(CreatedAt), GrantedBy);
    }
}
