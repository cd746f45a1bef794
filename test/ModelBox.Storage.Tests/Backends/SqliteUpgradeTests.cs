using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Storage.Relational;
using ModelBox.Storage.Sqlite;

namespace ModelBox.Storage.Tests.Backends;

/// <summary>
/// A database written by the SQLite store as it was before it became a dialect (schema 7: NaN as a bare NULL, infinities as
/// infinite REALs), opened by today's store: migration 8 respells the non-finite values, and every value reads back as it
/// was written, bit for bit.
/// </summary>
public sealed class SqliteUpgradeTests : IAsyncLifetime
{
    private const string ExperimentId = "exp-f5b0ea4936a3f5cbb897e201df343ed0";
    private const string CheckpointId = "ckpt-50914ea585041b0a43a39f967d1db079";
    private const string ModelId = "mdl-3dddae6563aa83874725d4ec49786dc1";
    private const string VersionId = "mver-d0c46a7b34ead9e81bba06f4141613af";
    private const long Wallclock = 1_714_564_800;

    private static readonly DateTimeOffset CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(1_714_564_800_123).AddTicks(4_560);
    private static readonly DateTimeOffset UpdatedAt = DateTimeOffset.FromUnixTimeMilliseconds(1_714_564_801_654).AddTicks(3_210);

    private readonly string _directory = Directory.CreateTempSubdirectory("modelbox-upgrade-").FullName;
    private SqliteDialect? _dialect;
    private RelationalMetadataStore? _store;

    private RelationalMetadataStore Store => _store!;

    public async Task InitializeAsync()
    {
        // A copy: SQLite creates its -wal and -shm files beside the database it opens.
        var path = Path.Combine(_directory, "modelbox.db");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Assets", "legacy-schema7.db"), path);
        _dialect = new SqliteDialect(new SqliteStorageOptions { DatabasePath = path });
        _store = new RelationalMetadataStore(_dialect, new InProcessChangeSignal());
        Assert.Equal(7, (await _store.GetSchemaStatusAsync()).CurrentVersion);
        await _store.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        if (_dialect is not null)
        {
            await _dialect.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task The_upgrade_reaches_the_newest_schema()
    {
        var status = await Store.GetSchemaStatusAsync();

        Assert.Equal(status.LatestKnownVersion, status.CurrentVersion);
        Assert.True(status.CurrentVersion >= 8);
    }

    [Fact]
    public async Task Metric_points_read_back_bit_for_bit()
    {
        var series = (await new RelationalMetricStore(Store).ReadAllAsync(ExperimentId)).ToDictionary(s => s.Key, StringComparer.Ordinal);

        Assert.Equal(["acc", "blob", "loss", "text"], series.Keys.Order(StringComparer.Ordinal));
        // The old store kept -0.0 in a REAL column, which SQLite writes as the integer 0: the sign was lost when it was written.
        double[] loss = [double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0.0, 0.0, double.MaxValue, double.Epsilon, -1.0 / 3, 0.1 + 0.2, 1e-300];
        AssertPoints(series["loss"].Points, MetricValueKind.Double, loss);
        AssertPoints(series["acc"].Points, MetricValueKind.Float, [double.NaN, 0.5, float.MaxValue]);
        var text = Assert.Single(series["text"].Points);
        Assert.Equal((MetricValueKind.StringTensor, "héllo, 世界 ✓ \"quoted\"\n", Wallclock), (text.Kind, text.Text, text.WallclockSeconds));
        var bytes = Assert.Single(series["blob"].Points);
        Assert.Equal(MetricValueKind.BytesTensor, bytes.Kind);
        Assert.Equal(new byte[] { 0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF }, bytes.Bytes);
    }

    [Fact]
    public async Task Metric_points_appended_after_the_upgrade_continue_the_series()
    {
        var metrics = new RelationalMetricStore(Store);

        await metrics.AppendAsync([new MetricSeriesPoints(ExperimentId, "loss", [MetricPoint.OfDouble(10, Wallclock + 10, double.NaN)])]);

        var loss = (await metrics.ReadAllAsync(ExperimentId)).Single(s => s.Key == "loss").Points;
        Assert.Equal(11, loss.Count);
        Assert.True(double.IsNaN(loss[^1].Number));
    }

    [Fact]
    public async Task Objects_read_back_as_written()
    {
        var experiment = (await Store.GetExperimentAsync(ExperimentId))!;
        Assert.Equal(
            ("legacy", "run", "alice", Framework.PyTorch, "classification", "ext-42", "legacy fixture run", ExperimentStatus.Running, (DateTimeOffset?)null),
            (experiment.Namespace, experiment.Name, experiment.Owner, experiment.Framework, experiment.Task, experiment.ExternalId, experiment.Description,
                experiment.Status, experiment.EndedAt));
        Assert.Equal((CreatedAt, UpdatedAt, (DateTimeOffset?)null), (experiment.CreatedAt, experiment.UpdatedAt, experiment.DeletedAt));
        Assert.Equal(
            new Dictionary<string, string> { ["lr"] = "0.001", ["layers"] = "[64,128]", ["name"] = "\"resnet\"" },
            experiment.Metadata.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal));

        var checkpoint = (await Store.GetCheckpointAsync(CheckpointId))!;
        Assert.Equal((ExperimentId, 3L), (checkpoint.ExperimentId, checkpoint.Epoch));
        Assert.Equal(BitConverter.SingleToInt32Bits(float.NaN), BitConverter.SingleToInt32Bits(checkpoint.Metrics["loss"]));
        Assert.Equal(0x3F600000, BitConverter.SingleToInt32Bits(checkpoint.Metrics["acc"]));
        Assert.Equal(float.PositiveInfinity, checkpoint.Metrics["big"]);
        Assert.Equal(float.NegativeInfinity, checkpoint.Metrics["small"]);
        Assert.Equal("\"diverged\"", checkpoint.Metadata["note"]);

        var model = (await Store.GetModelAsync(ModelId))!;
        Assert.Equal(("legacy", "m", "alice", "classification", "legacy fixture model"), (model.Namespace, model.Name, model.Owner, model.Task, model.Description));
        Assert.Equal("\"resnet\"", model.Metadata["arch"]);

        var version = (await Store.GetModelVersionAsync(VersionId))!;
        Assert.Equal((ModelId, "m-1.0", "1.0", "first version", Framework.Onnx), (version.ModelId, version.Name, version.Version, version.Description, version.Framework));
        Assert.Equal(["prod", "v1"], version.UniqueTags);
        Assert.Equal("17", version.Metadata["opset"]);

        Assert.Equal(["legacy"], (await Store.ListNamespacesAsync(PageRequest.All)).Items.Select(n => n.Name));
        var changes = await Store.ReadChangesAsync("legacy", 0, 100);
        Assert.Equal(4, changes.Count);
        Assert.Equal(Enumerable.Range(1, 4).Select(i => (long)i), changes.Select(c => c.Sequence));
    }

    [Fact]
    public async Task Change_sequences_continue_after_the_upgrade()
    {
        var created = await Store.CreateExperimentAsync(new Experiment(
            ObjectIds.Experiment("legacy", "next"), "legacy", "next", "alice", Framework.PyTorch, "", "", "", ExperimentStatus.Running, null,
            new Dictionary<string, string>(), CreatedAt, CreatedAt));

        Assert.False(created.Existed);
        var changes = await Store.ReadChangesAsync("legacy", 4, 100);
        Assert.Equal(5, Assert.Single(changes).Sequence);
    }

    private static void AssertPoints(IReadOnlyList<MetricPoint> points, MetricValueKind kind, double[] expected)
    {
        Assert.Equal(expected.Length, points.Count);
        for (var step = 0; step < expected.Length; step++)
        {
            Assert.Equal((step, Wallclock + step, kind), (points[step].Step, points[step].WallclockSeconds, points[step].Kind));
            Assert.Equal(BitConverter.DoubleToInt64Bits(expected[step]), BitConverter.DoubleToInt64Bits(points[step].Number));
        }
    }
}
