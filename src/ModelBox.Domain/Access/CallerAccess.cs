namespace ModelBox.Domain.Access;

/// <summary>
/// Who a call comes from and what it may do: the principal, its groups (stored and from single sign-on), whether it is
/// an admin, and the grants of all of them (plus <see cref="Principals.Anonymous"/>'s public grants).
/// </summary>
public sealed class CallerAccess
{
    private readonly Grant[] _grants;

    public CallerAccess(string principalId, bool admin, IReadOnlyList<string> groups, IEnumerable<Grant> grants, string? tokenPrefix)
    {
        PrincipalId = principalId;
        Admin = admin;
        Groups = groups;
        TokenPrefix = tokenPrefix;
        _grants = [.. grants];
    }

    /// <summary>The caller that sent no credential: only public (anonymous) grants apply.</summary>
    public static CallerAccess Anonymous(IEnumerable<Grant> publicGrants) => new(Principals.Anonymous, false, [], publicGrants, null);

    /// <summary><c>user:alice</c>, <c>sa:ci</c>, or <see cref="Principals.Anonymous"/>.</summary>
    public string PrincipalId { get; }

    public bool Admin { get; }

    public IReadOnlyList<string> Groups { get; }

    /// <summary>The public prefix of the API token the call used; null for single sign-on and anonymous callers.</summary>
    public string? TokenPrefix { get; }

    public bool IsAnonymous => PrincipalId == Principals.Anonymous;

    public IReadOnlyList<Grant> Grants => _grants;

    /// <summary>The strongest role the caller has on <paramref name="namespace"/> (a grant on an ancestor covers it).</summary>
    public Role RoleOn(string @namespace)
    {
        if (Admin)
        {
            return Role.Owner;
        }

        var role = Role.None;
        foreach (var grant in _grants)
        {
            if (grant.Role > role && NamespaceScope.IsWithin(@namespace, grant.Namespace))
            {
                role = grant.Role;
            }
        }

        return role;
    }

    public bool CanRead(string @namespace) => RoleOn(@namespace) >= Role.Viewer;

    /// <summary>The subtrees the caller may read; null when it may read everything (an admin).</summary>
    public IReadOnlyList<NamespaceScope>? ReadableScopes => Admin
        ? null
        : [.. _grants.Where(g => g.Role >= Role.Viewer).Select(g => new NamespaceScope(g.Namespace, Recursive: true)).Distinct()];

    /// <summary>Throws PermissionDenied naming the caller, the role it lacks and the namespace.</summary>
    public void Require(Role role, string @namespace)
    {
        if (RoleOn(@namespace) < role)
        {
            throw new ModelBoxException(
                ErrorKind.PermissionDenied,
                $"{PrincipalId} needs the {Principals.RoleName(role)} role on namespace '{@namespace}' (or one above it)");
        }
    }

    /// <summary>Throws PermissionDenied unless the caller is an admin.</summary>
    public void RequireAdmin(string what)
    {
        if (!Admin)
        {
            throw new ModelBoxException(ErrorKind.PermissionDenied, $"{PrincipalId} is not an admin; {what} needs one");
        }
    }
}
