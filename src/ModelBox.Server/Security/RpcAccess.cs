using Google.Protobuf;
using ModelBox.Domain.Access;

namespace ModelBox.Server.Security;

/// <summary>What a call names that access is checked against: a namespace, or an object whose namespace is looked up.</summary>
internal readonly record struct AccessTarget(string? Namespace, string? ObjectId)
{
    public static AccessTarget InNamespace(string? @namespace) => new(@namespace ?? string.Empty, null);

    public static AccessTarget Of(string? objectId) => new(null, objectId);
}

/// <summary>How one RPC is authorised when auth is enforced (<see cref="RpcAccessTable"/>).</summary>
internal abstract record RpcAccess
{
    /// <summary>Needs <paramref name="Role"/> on every target the request names (a client stream: every message).</summary>
    public sealed record OnTargets(Role Role, Func<IMessage, IEnumerable<AccessTarget>> Targets) : RpcAccess;

    /// <summary>
    /// Any caller with some access (an anonymous caller only where public grants exist); the service narrows what it
    /// answers to what the caller may read (search, namespace listings, the change stream).
    /// </summary>
    public sealed record Filtered : RpcAccess;

    /// <summary>Any caller, signed in or not (who-am-I, server info).</summary>
    public sealed record AnyCaller : RpcAccess;

    /// <summary>A signed-in caller; the service checks the rest (token and grant management).</summary>
    public sealed record SignedIn : RpcAccess;

    /// <summary>Server admins only.</summary>
    public sealed record AdminOnly : RpcAccess;

    /// <summary>Needs <paramref name="Role"/> on targets the request names indirectly (a model reference), resolved by the interceptor.</summary>
    public sealed record OnResolvedTargets(Role Role, Func<IMessage, IServiceProvider, CancellationToken, ValueTask<IEnumerable<AccessTarget>>> Resolve) : RpcAccess;
}
