using System.Text.Json;
using Grpc.Net.Client;
using ModelBox.Client;
using ModelBox.EndToEnd.Tests.Cli;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Namespaces;

/// <summary>The SDK's and the CLI's recursive listings and watch: a subtree, not its prefix siblings.</summary>
[Collection(ServerCollection.Name)]
public sealed class RecursiveClientTests(ModelBoxServerFixture server) : IAsyncLifetime
{
    private readonly string _root = "rec-" + Guid.NewGuid().ToString("N")[..10];
    private readonly CliRunner _cli = new(server);
    private GrpcChannel _channel = null!;
    private ModelBoxClient _sdk = null!;

    public async Task InitializeAsync()
    {
        _channel = GrpcChannel.ForAddress(server.Address);
        _sdk = new ModelBoxClient(server.HostPort);
        var store = new ModelStore.ModelStoreClient(_channel);
        // One of each in a sibling that only shares the root's prefix, the root, and a child two levels down, in this
        // order: a watch of the subtree from the start reaches the child's changes after the sibling's.
        foreach (var (ns, name) in new[] { ($"{_root}x", "in-sibling"), (_root, "at-root"), ($"{_root}/a/b", "in-child") })
        {
            await store.CreateExperimentAsync(new CreateExperimentRequest { Namespace = ns, Name = name });
            var model = await store.CreateModelAsync(new CreateModelRequest { Namespace = ns, Name = name });
            await store.CreateDatasetAsync(new CreateDatasetRequest { Namespace = ns, Name = name, Digest = "sha256:" + new string('d', 64) });
            await store.CreateModelVersionAsync(new CreateModelVersionRequest { Model = model.Id, Name = name, Version = "1" });
        }
    }

    public async Task DisposeAsync()
    {
        await _sdk.DisposeAsync();
        _channel.Dispose();
    }

    [Fact]
    public async Task The_sdk_lists_a_subtree_with_recursive_and_only_the_namespace_without()
    {
        Assert.Equal(["at-root", "in-child"], (await _sdk.ListExperimentsAsync(_root, recursive: true).ToListAsync()).Select(e => e.Name).Order());
        Assert.Equal(["at-root"], (await _sdk.ListExperimentsAsync(_root, recursive: false).ToListAsync()).Select(e => e.Name));
        Assert.Equal(["at-root", "in-child"], (await _sdk.ListModelsAsync(_root, recursive: true).ToListAsync()).Select(m => m.Name).Order());
        Assert.Equal(["at-root"], (await _sdk.ListModelsAsync(_root).ToListAsync()).Select(m => m.Name));
        Assert.Equal(["at-root", "in-child"], (await _sdk.ListDatasetsAsync(_root, recursive: true).ToListAsync()).Select(d => d.Name).Order());
        Assert.Equal(["at-root"], (await _sdk.ListDatasetsAsync(_root).ToListAsync()).Select(d => d.Name));
    }

    [Fact]
    public async Task The_sdk_watches_a_subtree_with_recursive()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var seen = new List<Change>();
        await foreach (var change in _sdk.WatchNamespaceAsync(_root, recursive: true, since: 0, cancel.Token))
        {
            seen.Add(change);
            if (change.Payload.ToString().Contains("in-child", StringComparison.Ordinal))
            {
                break;
            }
        }

        var payloads = seen.Select(c => c.Payload.ToString()).ToList();
        Assert.Contains(payloads, p => p.Contains("at-root", StringComparison.Ordinal));
        Assert.DoesNotContain(payloads, p => p.Contains("in-sibling", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_cli_lists_a_subtree_with_recursive()
    {
        foreach (var noun in new[] { "experiments", "models", "datasets" })
        {
            var subtree = (await _cli.ClientAsync(noun, "list", "--namespace", _root, "--recursive", "--output", "json")).AssertSuccess().Stdout;
            var own = (await _cli.ClientAsync(noun, "list", "--namespace", _root, "--output", "json")).AssertSuccess().Stdout;
            Assert.Contains("in-child", subtree, StringComparison.Ordinal);
            Assert.Contains("at-root", subtree, StringComparison.Ordinal);
            Assert.DoesNotContain("in-sibling", subtree, StringComparison.Ordinal);
            Assert.Contains("at-root", own, StringComparison.Ordinal);
            Assert.DoesNotContain("in-child", own, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_sdk_searches_a_subtree_with_recursive_and_only_the_namespace_without()
    {
        Assert.Equal(["at-root", "in-child"], (await _sdk.SearchExperimentsAsync("", _root, recursive: true).ToListAsync()).Select(e => e.Name).Order());
        Assert.Equal(["at-root"], (await _sdk.SearchExperimentsAsync("", _root, recursive: false).ToListAsync()).Select(e => e.Name));
        Assert.Equal(["at-root"], (await _sdk.SearchExperimentsAsync("", _root).ToListAsync()).Select(e => e.Name));
        Assert.Equal(
            ["in-child"],
            (await _sdk.SearchExperimentsAsync("name = 'in-child'", _root, recursive: true, orderBy: "name asc").ToListAsync()).Select(e => e.Name));
        Assert.Equal(["at-root", "in-child"], (await _sdk.SearchModelsAsync("", _root, recursive: true, orderBy: "name asc").ToListAsync()).Select(m => m.Name));
        Assert.Equal(["at-root"], (await _sdk.SearchModelsAsync("", _root).ToListAsync()).Select(m => m.Name));
        Assert.Equal(["at-root", "in-child"], (await _sdk.SearchModelVersionsAsync("", _root, recursive: true).ToListAsync()).Select(v => v.Name).Order());
        Assert.Equal(["at-root"], (await _sdk.SearchModelVersionsAsync("", _root).ToListAsync()).Select(v => v.Name));
    }

    [Fact]
    public async Task The_cli_searches_a_subtree_with_recursive()
    {
        foreach (var noun in new[] { "experiments", "models", "versions" })
        {
            var subtree = (await _cli.ClientAsync("search", noun, "--namespace", _root, "--recursive", "--output", "json")).AssertSuccess().Json();
            var own = (await _cli.ClientAsync("search", noun, "--namespace", _root, "--output", "json")).AssertSuccess().Json();
            var subtreeNames = subtree.EnumerateArray().Select(o => o.GetProperty("name").GetString()).ToList();
            var ownNames = own.EnumerateArray().Select(o => o.GetProperty("name").GetString()).ToList();
            Assert.Contains("in-child", subtreeNames);
            Assert.Contains("at-root", subtreeNames);
            Assert.DoesNotContain(subtreeNames, n => n!.StartsWith("in-sibling", StringComparison.Ordinal));
            Assert.Contains("at-root", ownNames);
            Assert.DoesNotContain(ownNames, n => n!.StartsWith("in-child", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task The_cli_watches_a_subtree_with_recursive()
    {
        using var process = ModelBoxExecutable.Start(["client", "--server-addr", server.HostPort, "watch", "--namespace", _root, "--recursive"]);
        try
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var namespaces = new List<string>();
            // The child's changes come after the root's and the sibling's (InitializeAsync's order): read up to the child's first.
            while (!namespaces.Contains($"{_root}/a/b"))
            {
                var line = await process.StandardOutput.ReadLineAsync(cancel.Token)
                    ?? throw new InvalidOperationException("watch ended: " + await process.StandardError.ReadToEndAsync(cancel.Token));
                if (JsonDocument.Parse(line).RootElement.GetProperty("payload").TryGetProperty("namespace", out var ns))
                {
                    namespaces.Add(ns.GetString()!);
                }
            }

            Assert.Contains(_root, namespaces);
            Assert.DoesNotContain($"{_root}x", namespaces);
            Assert.False(process.HasExited);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }
}
