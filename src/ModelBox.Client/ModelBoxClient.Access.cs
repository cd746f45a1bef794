using ModelBox.Protocol;

namespace ModelBox.Client;

/// <summary>Who the server takes the client to be.</summary>
/// <param name="Principal"><c>user:alice</c>, <c>sa:ci</c>, <c>group:anonymous</c> without a token; empty when the server has auth off.</param>
/// <param name="Admin">True for a server admin.</param>
/// <param name="Groups">The groups the caller is in.</param>
/// <param name="TokenPrefix">The public prefix of the API token used; empty for single sign-on.</param>
/// <param name="Grants">The grants that apply to the caller.</param>
/// <param name="AuthMode">The server's auth mode: <c>none</c> or <c>enforced</c>.</param>
public sealed record Identity(string Principal, bool Admin, IReadOnlyList<string> Groups, string TokenPrefix, IReadOnlyList<AccessGrant> Grants, string AuthMode);

/// <summary>A role on a namespace and everything below it.</summary>
/// <param name="Principal">Whom: <c>user:alice</c>, <c>sa:ci</c>, <c>group:vision</c> or <c>group:anonymous</c>.</param>
/// <param name="Namespace">The namespace subtree.</param>
/// <param name="Role"><c>viewer</c>, <c>editor</c> or <c>owner</c>.</param>
/// <param name="CreatedAt">When it was set.</param>
/// <param name="GrantedBy">Who set it.</param>
public sealed record AccessGrant(string Principal, string Namespace, string Role, DateTimeOffset CreatedAt, string GrantedBy);

/// <summary>An API token as listed (never its secret).</summary>
/// <param name="Prefix">The public prefix that names it.</param>
/// <param name="Principal">Whose token it is.</param>
/// <param name="Description">What it is for.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="ExpiresAt">When it expires; null when never.</param>
/// <param name="RevokedAt">When it was revoked; null while valid.</param>
/// <param name="LastUsedAt">When it was last used (to the minute); null when never.</param>
public sealed record TokenInfo(
    string Prefix, string Principal, string Description, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt, DateTimeOffset? LastUsedAt);

// Access control: who am I, API tokens and grants (docs/security.md).
public sealed partial class ModelBoxClient
{
    /// <summary>Who the server takes this client to be, and its grants.</summary>
    public async Task<Identity> WhoAmIAsync(CancellationToken cancellationToken = default)
    {
        var response = await InvokeAsync(o => _access.WhoAmIAsync(new WhoAmIRequest(), o), cancellationToken).ConfigureAwait(false);
        return new Identity(response.Principal, response.Admin, [.. response.Groups], response.TokenPrefix, [.. response.Grants.Select(ToSdk)], response.AuthMode);
    }

    /// <summary>Creates an API token; the returned secret is shown this once.</summary>
    /// <param name="principal">Whose token: null for the caller's own; another's needs an admin.</param>
    /// <param name="description">What the token is for.</param>
    /// <param name="expiresIn">Its lifetime; null for a token that does not expire.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<(string Token, TokenInfo Info)> CreateTokenAsync(
        string? principal = null, string? description = null, TimeSpan? expiresIn = null, CancellationToken cancellationToken = default)
    {
        var request = new CreateTokenRequest
        {
            Principal = principal ?? "",
            Description = description ?? "",
            ExpiresInSeconds = expiresIn is { } span ? (long)Math.Ceiling(span.TotalSeconds) : 0,
        };
        var response = await InvokeAsync(o => _access.CreateTokenAsync(request, o), cancellationToken).ConfigureAwait(false);
        return (response.Token, ToSdk(response.Info));
    }

    /// <summary>Creates a user or service account (<c>user:NAME</c>, <c>sa:NAME</c>); admin only. Returns its id.</summary>
    public async Task<string> CreatePrincipalAsync(string principal, bool admin = false, CancellationToken cancellationToken = default) =>
        (await InvokeAsync(o => _access.CreatePrincipalAsync(new CreatePrincipalRequest { Principal = principal ?? "", Admin = admin }, o), cancellationToken)
            .ConfigureAwait(false)).Principal;

    /// <summary>Lists tokens: the caller's own, one principal's, or (an admin, with null) everyone's.</summary>
    public async Task<IReadOnlyList<TokenInfo>> ListTokensAsync(string? principal = null, CancellationToken cancellationToken = default)
    {
        var response = await InvokeAsync(o => _access.ListTokensAsync(new ListTokensRequest { Principal = principal ?? "" }, o), cancellationToken)
            .ConfigureAwait(false);
        return [.. response.Tokens.Select(ToSdk)];
    }

    /// <summary>Revokes a token by its prefix.</summary>
    public async Task<TokenInfo> RevokeTokenAsync(string prefix, CancellationToken cancellationToken = default) =>
        ToSdk((await InvokeAsync(o => _access.RevokeTokenAsync(new RevokeTokenRequest { Prefix = prefix ?? "" }, o), cancellationToken)
            .ConfigureAwait(false)).Info);

    /// <summary>Gives a principal a role on a namespace subtree (the caller must own it).</summary>
    public async Task<AccessGrant> SetGrantAsync(string principal, string namespaceName, string role, CancellationToken cancellationToken = default) =>
        ToSdk((await InvokeAsync(
            o => _access.SetGrantAsync(new SetGrantRequest { Principal = principal ?? "", Namespace = namespaceName ?? "", Role = role ?? "" }, o),
            cancellationToken).ConfigureAwait(false)).Grant);

    /// <summary>Removes a principal's grant on a namespace (the caller must own it).</summary>
    public async Task RemoveGrantAsync(string principal, string namespaceName, CancellationToken cancellationToken = default) =>
        await InvokeAsync(
            o => _access.RemoveGrantAsync(new RemoveGrantRequest { Principal = principal ?? "", Namespace = namespaceName ?? "" }, o),
            cancellationToken).ConfigureAwait(false);

    /// <summary>Lists the grants the caller may see, only on a namespace subtree when given.</summary>
    public async Task<IReadOnlyList<AccessGrant>> ListGrantsAsync(string? namespaceName = null, CancellationToken cancellationToken = default)
    {
        var response = await InvokeAsync(o => _access.ListGrantsAsync(new ListGrantsRequest { Namespace = namespaceName ?? "" }, o), cancellationToken)
            .ConfigureAwait(false);
        return [.. response.Grants.Select(ToSdk)];
    }

    private static AccessGrant ToSdk(Grant grant) =>
        new(grant.Principal, grant.Namespace, grant.Role, grant.CreatedAt.ToDateTimeOffset(), grant.GrantedBy);

    private static TokenInfo ToSdk(ApiToken token) => new(
        token.Prefix,
        token.Principal,
        token.Description,
        token.CreatedAt.ToDateTimeOffset(),
        token.ExpiresAt?.ToDateTimeOffset(),
        token.RevokedAt?.ToDateTimeOffset(),
        token.LastUsedAt?.ToDateTimeOffset());
}
