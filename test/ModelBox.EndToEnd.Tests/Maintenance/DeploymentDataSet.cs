using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using ModelBox.Client;

namespace ModelBox.EndToEnd.Tests.Maintenance;

/// <summary>
/// A namespace with something of every kind (experiments live and deleted, checkpoints, models, versions, an alias,
/// labels, metadata, events, a dataset and lineage, metric series of every value kind with NaN and infinities, uploaded
/// files sharing a blob), and its snapshot through the API: what a user sees, to compare two deployments with.
/// </summary>
public sealed class DeploymentDataSet(string namespaceName)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    public string Namespace { get; } = namespaceName;

    /// <summary>The experiment created last: its created change is the newest record of the namespace.</summary>
    public string MarkerId { get; private set; } = "";

    public List<string> ExperimentIds { get; } = [];

    public List<string> ModelIds { get; } = [];

    public async Task PopulateAsync(ModelBoxClient client, string scratch, int pointsPerSeries = 300)
    {
        var metadata = new Dictionary<string, JsonElement>
        {
            ["lr"] = JsonDocument.Parse("0.001").RootElement,
            ["layers"] = JsonDocument.Parse("""{"depth": 12, "names": ["a", "b"]}""").RootElement,
        };
        var shared = Path.Combine(scratch, "shared.bin");
        await File.WriteAllBytesAsync(shared, RandomNumberGenerator.GetBytes(200_000));
        for (var e = 0; e < 3; e++)
        {
            var experiment = (await client.CreateExperimentAsync($"run-{e}", "owner@example.com", Namespace, Framework.PyTorch, "asr", metadata: metadata)).Value;
            ExperimentIds.Add(experiment.Id);
            await client.UpdateMetadataAsync(experiment.Id, new Dictionary<string, JsonElement> { ["epoch"] = JsonDocument.Parse($"{e}").RootElement });
            await client.SetLabelsAsync(experiment.Id, new Dictionary<string, string> { ["env"] = e == 0 ? "prod" : "dev" });
            await client.CreateCheckpointAsync(experiment.Id, 1, metrics: new Dictionary<string, float> { ["acc"] = 0.5f + e });
            await client.LogEventAsync(experiment.Id, "started", "trainer", DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000 + e),
                new Dictionary<string, JsonElement> { ["host"] = JsonDocument.Parse("\"gpu-1\"").RootElement });
            var points = Enumerable.Range(0, pointsPerSeries)
                .Select(i => new MetricPoint(i, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000 + i), MetricValue.FromDouble(i % 50 == 7 ? double.NaN : 1.0 / (i + 1))))
                .Append(new MetricPoint(pointsPerSeries, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), MetricValue.FromDouble(double.PositiveInfinity)))
                .ToList();
            await client.LogMetricsBatchAsync(
            [
                new MetricSeriesPoints(experiment.Id, "loss", points),
                new MetricSeriesPoints(experiment.Id, "acc", [new MetricPoint(1, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), MetricValue.FromFloat(0.25f))]),
                new MetricSeriesPoints(experiment.Id, "sample", [new MetricPoint(1, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), MetricValue.FromString("héllo"))]),
                new MetricSeriesPoints(experiment.Id, "raw", [new MetricPoint(1, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), MetricValue.FromBytes([0, 1, 2, 255]))]),
            ]);
            var own = Path.Combine(scratch, $"own-{e}.bin");
            await File.WriteAllBytesAsync(own, RandomNumberGenerator.GetBytes(50_000 + e));
            await client.UploadFileAsync(experiment.Id, own);
            await client.UploadFileAsync(experiment.Id, shared);
        }

        var model = (await client.CreateModelAsync("classifier", "owner@example.com", Namespace, "classification")).Value;
        ModelIds.Add(model.Id);
        var dataset = await client.CreateDatasetAsync(Namespace, "speech", "sha256:" + new string('a', 64), "s3://data/speech");
        var version = (await client.CreateModelVersionAsync(model.Id, "v1", "first", framework: Framework.PyTorch, uniqueTags: ["best"],
            lineage: new LineageSpec { ExperimentId = ExperimentIds[0], Datasets = [new DatasetLink(dataset.Version.Id)] })).Value;
        await client.SetAliasAsync(model.Id, "production", version.Id);
        await client.DeleteExperimentAsync(ExperimentIds[2]);
        MarkerId = (await client.CreateExperimentAsync("marker", "owner@example.com", Namespace, Framework.Unknown)).Value.Id;
    }

    /// <summary>Everything a user can read about the namespace, as JSON (timestamps, ids and sequences included).</summary>
    public async Task<string> SnapshotAsync(ModelBoxClient client, string scratch)
    {
        var snapshot = new StringBuilder();
        // Keys of JSON objects are sorted: maps (metadata, event metadata, change states) have no order to compare, and
        // PostgreSQL lists an object's metadata in whatever order its rows come back.
        void Add(string what, object? value) =>
            snapshot.Append(what).Append(": ").AppendLine(JsonSerializer.Serialize(SortedNode(JsonSerializer.SerializeToElement(value, Json)), Json));

        foreach (var id in ExperimentIds.Append(MarkerId))
        {
            try
            {
                Add("experiment", await client.GetExperimentAsync(id));
            }
            catch (ModelBoxNotFoundException)
            {
                Add("deleted experiment", id);
                continue;
            }

            Add("metadata", (await client.ListMetadataAsync(id)).OrderBy(m => m.Key, StringComparer.Ordinal).ToList());
            Add("checkpoints", await client.ListCheckpointsAsync(id).ToListAsync());
            Add("events", await client.ListEventsAsync(id).ToListAsync());
            Add("metrics", (await client.GetMetricsAsync(id)).OrderBy(s => s.Key, StringComparer.Ordinal).ToList());
            foreach (var file in (await client.ListArtifactsAsync(id)).OrderBy(f => f.Id, StringComparer.Ordinal))
            {
                Add("file", file);
                var local = Path.Combine(scratch, "download-" + Guid.NewGuid().ToString("N"));
                await client.DownloadFileAsync(file.Id, local);
                Add("content", Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(local))));
                File.Delete(local);
            }
        }

        Add("experiments", await client.ListExperimentsAsync(Namespace).ToListAsync());
        foreach (var id in ModelIds)
        {
            Add("model", await client.GetModelAsync(id));
            Add("aliases", await client.ListAliasesAsync(id));
            foreach (var version in await client.ListModelVersionsAsync(id, "").ToListAsync())
            {
                Add("version", version);
                Add("lineage", await client.GetLineageAsync(version.Id));
            }
        }

        Add("datasets", await client.ListDatasetsAsync(Namespace).ToListAsync());
        Add("changes", await ChangesAsync(client));
        return snapshot.ToString();
    }

    private static object? SortedNode(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal)
            .Select(p => KeyValuePair.Create(p.Name, SortedNode(p.Value))).ToList(),
        JsonValueKind.Array => element.EnumerateArray().Select(SortedNode).ToList(),
        _ => element,
    };

    /// <summary>The namespace's change log from the start through the marker's creation.</summary>
    public async Task<List<Change>> ChangesAsync(ModelBoxClient client)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var changes = new List<Change>();
        await foreach (var change in client.WatchNamespaceAsync(Namespace, 0, timeout.Token))
        {
            changes.Add(change);
            if (change.ObjectId == MarkerId)
            {
                break;
            }
        }

        return changes;
    }
}
