using Grpc.Core;
using ModelBox.Domain.Access;

namespace ModelBox.Server.Security;

/// <summary>
/// The authenticated caller of one call, kept on the call while it runs. Long calls (a watch) ask for it again with
/// <see cref="RefreshAsync"/>, so a revoked token or grant ends or narrows them within the access refresh interval.
/// </summary>
public sealed class CallerSession(CallerAccess caller, Func<CancellationToken, ValueTask<CallerAccess>> authenticate)
{
    private const string Key = "modelbox.caller";

    public CallerAccess Current { get; private set; } = caller;

    /// <summary>Authenticates again (from the cache, which checks the store's access version every few seconds).</summary>
    public async ValueTask<CallerAccess> RefreshAsync(CancellationToken cancellationToken)
    {
        Current = await authenticate(cancellationToken);
        return Current;
    }

    /// <summary>The caller of an authorised call; null when auth is off (every caller may do anything).</summary>
    public static CallerSession? Of(ServerCallContext context) => Of(context.GetHttpContext());

    /// <summary>The caller of an authorised HTTP request; null when auth is off.</summary>
    public static CallerSession? Of(HttpContext context) =>
        context.Items.TryGetValue(Key, out var value) ? (CallerSession?)value : null;

    internal void AttachTo(HttpContext context) => context.Items[Key] = this;
}
