using ModelBox.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Sdk;

/// <summary>Gives each test an SDK client on the shared server and names no other test uses.</summary>
public abstract class SdkTestBase(ModelBoxServerFixture server) : IAsyncLifetime
{
    protected ModelBoxServerFixture Server { get; } = server;

    protected ModelBoxClient Client { get; private set; } = null!;

    /// <summary>A namespace only this test writes to.</summary>
    protected string Namespace { get; } = "sdk-" + Guid.NewGuid().ToString("N")[..12];

    protected static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    public Task InitializeAsync()
    {
        Client = new ModelBoxClient(Server.HostPort);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await Client.DisposeAsync();
}
