using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.Tests;

/// <summary>The ports one metadata backend provides; the specification suites below drive them together.</summary>
public sealed record MetadataBackend(
    IMetadataStore Store,
    IObjectMetadataStore ObjectMetadata,
    IEventStore Events,
    IChangeLog ChangeLog,
    IChangeSignal ChangeSignal,
    IAsyncDisposable Owner,
    IRegistryStore? Registry = null,
    IMetricStore? Metrics = null);

/// <summary>
/// Base of the change log, metadata and event specification suites: a fresh, empty, migrated backend per test,
/// builders, and helpers that read the change log and watch streams with a hang guard (a failing test ends, it never hangs).
/// </summary>
public abstract class BackendSpecification : StoreSpecification
{
    protected static readonly DateTimeOffset T0 = new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.Zero).AddTicks(1_234_560);

    /// <summary>Only a guard against a hung test; no test depends on how fast anything happens.</summary>
    protected static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    protected IMetadataStore Store => Backend.Store;

    protected async Task<List<ChangeRecord>> ReadLogAsync(string @namespace, long after = 0)
    {
        var all = new List<ChangeRecord>();
        while (true)
        {
            var batch = await Backend.ChangeLog.ReadChangesAsync(@namespace, after, 100);
            all.AddRange(batch);
            if (batch.Count < 100)
            {
                return all;
            }

            after = batch[^1].Sequence;
        }
    }

    protected static async Task<List<ChangeRecord>> TakeAsync(IAsyncEnumerator<ChangeRecord> watch, int count)
    {
        var taken = new List<ChangeRecord>();
        while (taken.Count < count)
        {
            var next = watch.MoveNextAsync().AsTask();
            if (!await next.WaitAsync(HangGuard))
            {
                throw new InvalidOperationException("the watch ended");
            }

            taken.Add(watch.Current);
        }

        return taken;
    }

    protected static IReadOnlyDictionary<string, string> Metadata(params (string Key, string Json)[] entries) =>
        entries.ToDictionary(entry => entry.Key, entry => entry.Json, StringComparer.Ordinal);

    protected static Experiment Experiment(string @namespace, string name, DateTimeOffset? at = null) => new(
        ObjectIds.Experiment(@namespace, name), @namespace, name, "owner", Framework.PyTorch, "task", string.Empty, string.Empty,
        ExperimentStatus.Running, EndedAt: null, Metadata(), at ?? T0, at ?? T0);

    protected static Checkpoint Checkpoint(string experimentId, long epoch, DateTimeOffset? at = null) => new(
        ObjectIds.Checkpoint(experimentId, epoch), experimentId, epoch, new Dictionary<string, float> { ["loss"] = 0.5f }, Metadata(), at ?? T0, at ?? T0);

    protected static Model Model(string @namespace, string name, DateTimeOffset? at = null) => new(
        ObjectIds.Model(@namespace, name), @namespace, name, "owner", "task", string.Empty, Metadata(), at ?? T0, at ?? T0);

    protected static ModelVersion Version(string modelId, string version, DateTimeOffset? at = null) => new(
        ObjectIds.ModelVersion(modelId, version), modelId, string.Empty, version, string.Empty, Framework.Onnx, ["prod"], Metadata(), at ?? T0, at ?? T0);

    protected async Task<Experiment> CreateExperimentAsync(string @namespace, string name) =>
        (await Store.CreateExperimentAsync(Experiment(@namespace, name))).Value;

    protected async Task<Model> CreateModelAsync(string @namespace, string name) =>
        (await Store.CreateModelAsync(Model(@namespace, name))).Value;

    protected static System.Text.Json.JsonElement State(ChangeRecord record) =>
        System.Text.Json.JsonDocument.Parse(record.StateJson).RootElement;
}
