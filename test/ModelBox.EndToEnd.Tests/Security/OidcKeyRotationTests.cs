using Grpc.Core;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Security;

/// <summary>
/// The identity provider rotates its signing key: tokens signed with the new key work without restarting ModelBox (an
/// unknown key id makes the JWT handler fetch the JWKS again), and tokens signed with the removed key stop working.
/// Its own server and issuer: the rotation must not disturb the shared auth fixture.
/// </summary>
public sealed class OidcKeyRotationTests : IAsyncLifetime
{
    /// <summary>How long the server may take to fetch the new keys (it refreshes on an unknown key id, at most every few seconds).</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly EnforcedOidcServer _server = new();

    private LocalOidcIssuer Issuer => _server.Issuer;

    public Task InitializeAsync() => _server.InitializeAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Tokens_of_a_rotated_key_are_accepted_without_a_restart_and_those_of_the_removed_key_refused()
    {
        var before = Issuer.Token("carol", ["ml"]);
        Assert.Equal("user:carol", (await WhoAmIAsync(before)).Principal);

        var oldKey = Issuer.RotateKey();
        var rotated = Issuer.Token("carol", ["ml"]);
        using var cancel = new CancellationTokenSource(Patience);
        var first = await WhoAmIUntilAcceptedAsync(rotated, cancel.Token);
        Assert.Equal("user:carol", first.Principal);

        // The server now knows only the new key: a token the old key signs (as a leaked key would) is refused.
        var stale = Issuer.Token("carol", ["ml"], signingKey: oldKey);
        var refused = await Assert.ThrowsAsync<RpcException>(() => WhoAmIAsync(stale));
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.Equal("user:carol", (await WhoAmIAsync(rotated)).Principal);
    }

    private async Task<WhoAmIResponse> WhoAmIAsync(string token, CancellationToken cancellationToken = default) =>
        await new Access.AccessClient(_server.Channel).WhoAmIAsync(
            new WhoAmIRequest(), new global::Grpc.Core.Metadata { { "authorization", "Bearer " + token } }, cancellationToken: cancellationToken);

    /// <summary>
    /// The first call with the new key id may be refused (it is the one that makes the handler fetch the keys again); the
    /// server must accept the token soon after, without a restart.
    /// </summary>
    private async Task<WhoAmIResponse> WhoAmIUntilAcceptedAsync(string token, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                return await WhoAmIAsync(token, cancellationToken);
            }
            catch (RpcException exception) when (exception.StatusCode == StatusCode.Unauthenticated)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
            }
        }
    }
}
