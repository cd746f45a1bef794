using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using ModelBox.Domain.Access;

namespace ModelBox.WebUi.Tests.Infrastructure;

/// <summary>
/// The web UI on a server with <c>[auth] mode = "enforced"</c>: an admin (whose token the seeding client sends), a viewer
/// of <see cref="Team"/> and a viewer of <see cref="Other"/> only.
/// </summary>
public sealed class AuthWebUiFixture : WebUiFixture
{
    public AuthWebUiFixture()
        : base(config => config with { AuthMode = "enforced", AuthRefreshSeconds = 0, AuthFailuresPerMinute = 1_000_000 })
    {
    }

    public string Team { get; } = "ui-acl-" + Guid.NewGuid().ToString("N")[..8];

    public string Other { get; } = "ui-acl-other-" + Guid.NewGuid().ToString("N")[..8];

    public string AdminToken { get; private set; } = string.Empty;

    /// <summary>A viewer of <see cref="Team"/>.</summary>
    public string ViewerToken { get; private set; } = string.Empty;

    /// <summary>A viewer of <see cref="Other"/>, with no role on <see cref="Team"/>.</summary>
    public string OtherViewerToken { get; private set; } = string.Empty;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var directory = Server.Server.Services.GetRequiredService<AccessDirectory>();
        AdminToken = (await directory.BootstrapAdminAsync("root", force: true))!.Value.Token;
        var root = await directory.AuthenticateTokenAsync(AdminToken);
        foreach (var (user, ns) in new[] { ("team-viewer", Team), ("other-viewer", Other) })
        {
            await directory.CreatePrincipalAsync(root, PrincipalKind.User, user, admin: false);
            await directory.SetGrantAsync(root, user, ns, "viewer");
        }

        ViewerToken = (await directory.CreateTokenAsync(root, "team-viewer", "ui", null)).Token;
        OtherViewerToken = (await directory.CreateTokenAsync(root, "other-viewer", "ui", null)).Token;
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
    }
}

/// <summary>Tests of the UI under enforced auth share one such server and one browser.</summary>
[CollectionDefinition(Name)]
public sealed class AuthWebUiCollection : ICollectionFixture<AuthWebUiFixture>
{
    public const string Name = "web-ui-auth";
}
