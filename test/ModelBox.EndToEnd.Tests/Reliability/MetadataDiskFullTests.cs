using Grpc.Core;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;
using Xunit.Abstractions;

namespace ModelBox.EndToEnd.Tests.Reliability;

/// <summary>
/// The metadata disk full: the embedded store's data folder is a small tmpfs of its own (a real filesystem that runs out of
/// space, mounted for this test; the tests run as root), filled up while ModelBox runs. Writes then fail with
/// RESOURCE_EXHAUSTED naming the full disk, reads go on, and once space is freed writes work again without a restart, with
/// nothing acknowledged lost.
/// </summary>
public sealed class MetadataDiskFullTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int PointsPerBatch = 500;

    private readonly string _root = Directory.CreateTempSubdirectory("modelbox-disk-full-").FullName;
    private bool _mounted;
    private ModelBoxProcess? _server;

    private string DataDir => Path.Combine(_root, "data");

    private string Filler => Path.Combine(DataDir, "filler");

    public async Task InitializeAsync()
    {
        Assert.True(Environment.IsPrivilegedProcess, "this test mounts a tmpfs and needs root (test.sh and CI run as root)");
        Directory.CreateDirectory(DataDir);
        await ToolProcess.RunAsync("mount", ["-t", "tmpfs", "-o", "size=24m", "tmpfs", DataDir]);
        _mounted = true;
        _server = await ModelBoxProcess.StartAsync(new Dictionary<string, string> { ["MODELBOX_DATA_DIR"] = DataDir }, _root);
    }

    [Fact]
    public async Task Writes_fail_with_resource_exhausted_naming_the_full_disk_reads_go_on_and_writes_work_again_when_space_returns()
    {
        var store = _server!.Store;
        var experiment = (await store.CreateExperimentAsync(new CreateExperimentRequest { Name = "disk-full", Namespace = "disk-full" })).ExperimentId;
        var batches = new List<CrashTests.MetricBatch>();
        long step = 0;

        async Task<StatusCode> LogBatchAsync()
        {
            var batch = new CrashTests.MetricBatch(experiment, "loss", step, PointsPerBatch);
            step += PointsPerBatch;
            batches.Add(batch);
            try
            {
                await store.LogMetricsBatchAsync(batch.Request(), deadline: DateTime.UtcNow.AddMinutes(2));
                batch.Acknowledged = true;
                return StatusCode.OK;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
            {
                Assert.Contains("disk", ex.Status.Detail, StringComparison.Ordinal);
                Assert.Contains("full", ex.Status.Detail, StringComparison.Ordinal);
                Assert.Contains(Path.Combine(DataDir, "modelbox.db"), ex.Status.Detail, StringComparison.Ordinal);
                output.WriteLine($"refused: {ex.Status.Detail}");
                return ex.StatusCode;
            }
        }

        Assert.Equal(StatusCode.OK, await LogBatchAsync());
        await FillDiskAsync();

        // The database may still have free pages and WAL room for a few writes; the first write that needs new space fails.
        var statuses = new List<StatusCode>();
        while (statuses.Count < 400 && !statuses.Contains(StatusCode.ResourceExhausted))
        {
            statuses.Add(await LogBatchAsync());
        }

        output.WriteLine($"writes on the full disk: {string.Join(", ", statuses.GroupBy(s => s).Select(g => $"{g.Key} x{g.Count()}"))}");
        Assert.Contains(StatusCode.ResourceExhausted, statuses);
        Assert.Equal(StatusCode.ResourceExhausted, await LogBatchAsync());

        // Reads go on while the disk is full.
        Assert.Equal("disk-full", (await store.GetExperimentAsync(new GetExperimentRequest { Id = experiment })).Experiment.Name);
        Assert.Contains(experiment, (await store.ListExperimentsAsync(new ListExperimentsRequest { Namespace = "disk-full" })).Experiments.Select(e => e.Id));
        await CrashTests.VerifyBatchesAsync(store, batches);

        // Space returns: writes work again, through the same process.
        File.Delete(Filler);
        Assert.Equal(StatusCode.OK, await LogBatchAsync());
        Assert.NotEmpty((await store.CreateExperimentAsync(new CreateExperimentRequest { Name = "after", Namespace = "disk-full" })).ExperimentId);
        await CrashTests.VerifyBatchesAsync(store, batches);

        Assert.Equal(0, await _server.StopAsync());
        var errors = _server.Output.Split('\n').Where(line => line.Contains(" fail: ", StringComparison.Ordinal) || line.Contains(" crit: ", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 0, "the server logged errors:\n" + string.Join('\n', errors));
    }

    /// <summary>Writes a file until the filesystem has no space left (ENOSPC).</summary>
    private async Task FillDiskAsync()
    {
        var chunk = new byte[64 * 1024];
        Random.Shared.NextBytes(chunk);
        await using var filler = new FileStream(Filler, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
        try
        {
            while (true)
            {
                await filler.WriteAsync(chunk);
            }
        }
        catch (IOException ex)
        {
            output.WriteLine($"filled the data folder with {filler.Length} bytes: {ex.Message}");
        }

        // Whatever a partial last chunk left free, the last bytes one at a time take it.
        try
        {
            while (true)
            {
                await filler.WriteAsync(chunk.AsMemory(0, 1));
            }
        }
        catch (IOException)
        {
        }
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        if (_mounted)
        {
            await ToolProcess.RunAsync("umount", [DataDir]);
        }

        Directory.Delete(_root, recursive: true);
    }
}
