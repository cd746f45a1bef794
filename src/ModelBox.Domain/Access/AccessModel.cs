namespace ModelBox.Domain.Access;

/// <summary>What a principal is.</summary>
public enum PrincipalKind
{
    /// <summary>A person (signs in with a token or through single sign-on).</summary>
    User = 1,
    /// <summary>A program (CI, a training cluster) with tokens of its own.</summary>
    ServiceAccount = 2,
    /// <summary>A set of users and service accounts that grants can name; members come from the store or an SSO claim.</summary>
    Group = 3,
}

/// <summary>What a grant allows in a namespace subtree; each role includes the ones before it.</summary>
public enum Role
{
    /// <summary>Nothing.</summary>
    None = 0,
    /// <summary>Read objects, metadata, metrics, artifacts and changes.</summary>
    Viewer = 1,
    /// <summary>Also create and change objects, metadata, metrics, events and artifacts.</summary>
    Editor = 2,
    /// <summary>Also delete and restore, labels, aliases, unique tags, and the grants of the subtree.</summary>
    Owner = 3,
}

/// <summary>
/// A user, service account or group. The id is <c>kind:name</c> (<c>user:alice</c>, <c>sa:ci</c>, <c>group:vision</c>),
/// so the three kinds never collide and a grant shows whom it names.
/// </summary>
public sealed record Principal(string Id, PrincipalKind Kind, string Name, bool Admin, DateTimeOffset CreatedAt, string CreatedBy);

/// <summary>
/// An API token as listed: everything but its secret, which is shown once and stored only as a hash. The prefix is the
/// public part (<c>mbx_1a2b3c4d5e6f</c>): it names the token in listings, logs and errors.
/// </summary>
public sealed record ApiToken(
    string Prefix,
    string PrincipalId,
    string Description,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt,
    DateTimeOffset? LastUsedAt);

/// <summary>A stored token: the listing and the SHA-256 of the whole token.</summary>
public sealed record StoredToken(ApiToken Token, byte[] SecretHash);

/// <summary>A role on a namespace and everything below it.</summary>
public sealed record Grant(string PrincipalId, string Namespace, Role Role, DateTimeOffset CreatedAt, string GrantedBy);

/// <summary>The names principals are known by.</summary>
public static class Principals
{
    /// <summary>The group every caller is in, signed in or not; only a viewer grant may name it (public read).</summary>
    public const string Anonymous = "group:anonymous";

    /// <summary>The actor recorded for changes the server makes itself (bootstrap).</summary>
    public const string System = "system";

    public static string Prefix(PrincipalKind kind) => kind switch
    {
        PrincipalKind.User => "user",
        PrincipalKind.ServiceAccount => "sa",
        PrincipalKind.Group => "group",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static string Id(PrincipalKind kind, string name) => $"{Prefix(kind)}:{name}";

    /// <summary>
    /// Reads <c>alice</c> (a user), <c>user:alice</c>, <c>sa:ci</c> or <c>group:vision</c>; the name follows the rules of
    /// names (1 to 256 characters without control characters).
    /// </summary>
    public static (PrincipalKind Kind, string Name) Parse(string? text, InputName field)
    {
        var value = Validation.Required(text, field);
        var colon = value.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return (PrincipalKind.User, value);
        }

        var kind = value[..colon] switch
        {
            "user" => PrincipalKind.User,
            "sa" or "service-account" => PrincipalKind.ServiceAccount,
            "group" => PrincipalKind.Group,
            var other => throw ModelBoxException.InvalidArgument($"{field} '{value}': '{other}' is not a principal kind (user, sa, group)"),
        };
        return (kind, Validation.Required(value[(colon + 1)..], field));
    }

    /// <summary>A role by name (viewer, editor, owner).</summary>
    public static Role ParseRole(string? text, InputName field) => text switch
    {
        "viewer" => Role.Viewer,
        "editor" => Role.Editor,
        "owner" => Role.Owner,
        _ => throw ModelBoxException.InvalidArgument($"{field} '{text}' is not a role (viewer, editor, owner)"),
    };

    public static string RoleName(Role role) => role switch
    {
        Role.Viewer => "viewer",
        Role.Editor => "editor",
        Role.Owner => "owner",
        _ => "none",
    };
}
