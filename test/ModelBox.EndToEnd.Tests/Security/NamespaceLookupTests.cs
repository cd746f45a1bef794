using System.Globalization;
using System.Text.RegularExpressions;
using Grpc.Core;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Security;

/// <summary>
/// A call naming many objects the server has not seen yet: with auth enforced, the access check looks their namespaces up
/// together, and the call itself finds them together, in a few reads rather than one per object. Reads are counted by
/// the server's own storage metric (one per store transaction), in a server process of its own so that no other test's
/// reads are counted.
/// </summary>
public sealed partial class NamespaceLookupTests : IAsyncLifetime
{
    private const int Objects = 200;
    private readonly string _root = Directory.CreateTempSubdirectory("modelbox-lookups-").FullName;
    private readonly HttpClient _http = new();
    private ModelBoxProcess? _server;
    private string _adminToken = string.Empty;

    public async Task InitializeAsync()
    {
        var environment = new Dictionary<string, string>
        {
            ["MODELBOX_DATA_DIR"] = Path.Combine(_root, "data"),
            ["MODELBOX_AUTH_MODE"] = "enforced",
        };
        var bootstrap = await ModelBoxExecutable.RunAsync(["server", "bootstrap-admin", "--name", "ops"], environment, _root);
        Assert.True(bootstrap.ExitCode == 0, bootstrap.Stderr);
        _adminToken = bootstrap.Stdout.Trim();
        _server = await ModelBoxProcess.StartAsync(environment, _root);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task Summaries_of_many_unseen_objects_take_a_few_reads_not_one_per_object_and_still_refuse_an_unreadable_one()
    {
        var server = _server!;
        var admin = new ModelStore.ModelStoreClient(server.WithToken(_adminToken));
        var access = new Access.AccessClient(server.WithToken(_adminToken));
        await access.CreatePrincipalAsync(new CreatePrincipalRequest { Principal = "user:viewer" });
        await access.SetGrantAsync(new SetGrantRequest { Principal = "user:viewer", Namespace = "lookups/team", Role = "viewer" });
        var viewer = new ModelStore.ModelStoreClient(server.WithToken((await access.CreateTokenAsync(new CreateTokenRequest { Principal = "user:viewer" })).Token));

        var ids = new List<string>();
        for (var i = 0; i < Objects; i++)
        {
            ids.Add((await admin.CreateExperimentAsync(new CreateExperimentRequest { Namespace = "lookups/team", Name = $"run-{i}" })).ExperimentId);
        }

        foreach (var id in ids.Take(2))
        {
            await admin.LogMetricsAsync(new LogMetricsRequest
            {
                ParentId = id, Key = "loss", Value = new MetricsValue { Step = 1, WallclockTime = 1_700_000_000, FVal = 0.5f },
            });
        }

        // A deleted object's series are hidden like the object.
        await admin.DeleteExperimentAsync(new DeleteExperimentRequest { Id = ids[1] });
        var elsewhere = (await admin.CreateExperimentAsync(new CreateExperimentRequest { Namespace = "lookups/other", Name = "hidden" })).ExperimentId;

        var before = await ReadTransactionsAsync(server);
        var summaries = await viewer.GetMetricSummariesAsync(new GetMetricSummariesRequest { ParentIds = { ids } });
        var reads = await ReadTransactionsAsync(server) - before;
        Assert.Equal([(ids[0], "loss")], summaries.Summaries.Select(s => (s.ParentId, s.Key)));
        // Looked up one by one, these would be at least one read per object for the check and one for the call.
        Assert.InRange(reads, 1, Objects / 10 - 1);

        // The objects now known and one not yet seen, in a namespace the viewer may not read: the call is refused.
        var refused = await Assert.ThrowsAsync<RpcException>(
            async () => await viewer.GetMetricSummariesAsync(new GetMetricSummariesRequest { ParentIds = { ids, elsewhere } }));
        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.Contains("lookups/other", refused.Status.Detail, StringComparison.Ordinal);
    }

    /// <summary>How many read transactions the server's metadata store has run so far (its Prometheus histogram's count).</summary>
    private async Task<double> ReadTransactionsAsync(ModelBoxProcess server)
    {
        var metrics = await _http.GetStringAsync(server.PrometheusAddress + "/metrics");
        var match = ReadCount().Match(metrics);
        Assert.True(match.Success, "the server's metrics have no count of read transactions:\n" + metrics);
        return double.Parse(match.Groups["count"].Value, CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"^modelbox_storage_duration_seconds_count\{[^}]*operation=""read""[^}]*\} (?<count>\S+)$", RegexOptions.Multiline)]
    private static partial Regex ReadCount();
}
