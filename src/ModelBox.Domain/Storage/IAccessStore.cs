using ModelBox.Domain.Access;

namespace ModelBox.Domain.Storage;

/// <summary>
/// Principals, API tokens and grants. Every change bumps <see cref="GetAccessVersionAsync"/>, so the caches of every
/// replica can tell that what they hold is stale with one cheap read.
/// </summary>
public interface IAccessStore
{
    /// <summary>A counter that grows with every change to principals, memberships, tokens or grants.</summary>
    Task<long> GetAccessVersionAsync(CancellationToken cancellationToken = default);

    /// <summary>Creates the principal unless one with its id exists; returns the stored one.</summary>
    Task<CreateResult<Principal>> CreatePrincipalAsync(Principal principal, CancellationToken cancellationToken = default);

    Task<Principal?> GetPrincipalAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Principals by id.</summary>
    Task<IReadOnlyList<Principal>> ListPrincipalsAsync(CancellationToken cancellationToken = default);

    /// <summary>Adds a member to a group (both must exist); false when it was a member already.</summary>
    Task<bool> AddGroupMemberAsync(string groupId, string memberId, CancellationToken cancellationToken = default);

    /// <summary>Removes a member from a group; false when it was not a member.</summary>
    Task<bool> RemoveGroupMemberAsync(string groupId, string memberId, CancellationToken cancellationToken = default);

    /// <summary>The groups a principal is a member of (stored memberships only; SSO groups come with the token).</summary>
    Task<IReadOnlyList<string>> ListGroupsOfAsync(string memberId, CancellationToken cancellationToken = default);

    Task CreateTokenAsync(StoredToken token, CancellationToken cancellationToken = default);

    Task<StoredToken?> GetTokenAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>Tokens newest first; only those of one principal when <paramref name="principalId"/> is given.</summary>
    Task<IReadOnlyList<ApiToken>> ListTokensAsync(string? principalId, CancellationToken cancellationToken = default);

    /// <summary>Revokes a token; null when there is none with that prefix; a revoked token keeps its first revocation time.</summary>
    Task<ApiToken?> RevokeTokenAsync(string prefix, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Records when a token was last used (does not bump the access version).</summary>
    Task TouchTokenAsync(string prefix, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Sets the role of a principal on a namespace subtree (replacing an earlier one there).</summary>
    Task<Grant> SetGrantAsync(Grant grant, CancellationToken cancellationToken = default);

    /// <summary>Removes the grant of a principal on a namespace; false when there was none.</summary>
    Task<bool> RemoveGrantAsync(string principalId, string @namespace, CancellationToken cancellationToken = default);

    /// <summary>Grants by namespace then principal; only those of the given principals when <paramref name="principalIds"/> is given.</summary>
    Task<IReadOnlyList<Grant>> ListGrantsAsync(IReadOnlyCollection<string>? principalIds, CancellationToken cancellationToken = default);
}
