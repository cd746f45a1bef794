using System.Diagnostics;
using ModelBox.Domain;
using ModelBox.Domain.Storage;
using ModelBox.Storage.Filesystem;

namespace ModelBox.Storage.Tests.Blobs;

public sealed class FilesystemBlobStoreTests : BlobStoreSpecification
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "modelbox-blob-tests", Guid.NewGuid().ToString("N"));

    protected override Task<IBlobStore> CreateStoreAsync() => Task.FromResult<IBlobStore>(new FilesystemBlobStore(_directory));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task Blobs_live_under_the_base_folder_at_a_path_made_of_their_hash_only()
    {
        var data = RandomBytes(500);
        await WriteAsync(data);
        var sha = Sha(data);

        var files = Directory.GetFiles(_directory, "*", SearchOption.AllDirectories);

        var blob = Assert.Single(files);
        Assert.Equal(Path.Combine(_directory, "sha256", sha[..2], sha[2..4], sha), blob);
    }

    [Fact]
    public async Task Leftover_temporaries_of_a_crashed_process_are_listed_and_swept()
    {
        var leftover = Path.Combine(_directory, "tmp", "crashed-upload.part");
        await File.WriteAllBytesAsync(leftover, RandomBytes(100));
        File.SetLastWriteTimeUtc(leftover, DateTime.UtcNow.AddHours(-2));

        Assert.Equal("crashed-upload.part", Assert.Single(await ListTemporariesAsync()).Name);
        Assert.Equal(1, await Store.SweepTemporariesAsync(DateTimeOffset.UtcNow.AddHours(-1)));

        Assert.False(File.Exists(leftover));
    }

    [Fact]
    public async Task A_recent_temporary_no_writer_holds_is_swept_at_once_and_a_held_one_is_spared()
    {
        // A crashed process leaves a fresh temporary; the kernel dropped its writer's lock with the process.
        var leftover = Path.Combine(_directory, "tmp", "crashed-just-now.part");
        await File.WriteAllBytesAsync(leftover, RandomBytes(100));
        await using var live = await Store.BeginWriteAsync();
        await live.WriteAsync(RandomBytes(100));

        Assert.Equal(1, await Store.SweepTemporariesAsync(DateTimeOffset.UtcNow.AddHours(-1)));

        Assert.False(File.Exists(leftover));
        Assert.Single(await ListTemporariesAsync());
    }

    [Fact]
    public async Task A_full_disk_is_resource_exhausted_and_leaves_nothing_behind()
    {
        // A real full filesystem: a 1 MiB tmpfs (the suite runs as root, as CI does).
        var mountPoint = Path.Combine(_directory, "tiny");
        Directory.CreateDirectory(mountPoint);
        await RunAsync("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint);
        try
        {
            var store = new FilesystemBlobStore(mountPoint);
            var data = RandomBytes(3 * 1024 * 1024);

            var error = await Assert.ThrowsAsync<ModelBoxException>(async () =>
            {
                await using var writer = await store.BeginWriteAsync();
                for (var offset = 0; offset < data.Length; offset += 64 * 1024)
                {
                    await writer.WriteAsync(data.AsMemory(offset, 64 * 1024));
                }

                await writer.CommitAsync(Sha(data));
            });

            Assert.Equal(ErrorKind.ResourceExhausted, error.Kind);
            Assert.Contains("out of disk space", error.Message, StringComparison.Ordinal);
            Assert.Empty(Directory.GetFiles(mountPoint, "*", SearchOption.AllDirectories));
            Assert.False(await store.ExistsAsync(Sha(data)));

            // Once space is there again, the store works.
            var small = RandomBytes(1000);
            await using (var writer = await store.BeginWriteAsync())
            {
                await writer.WriteAsync(small);
                Assert.True(await writer.CommitAsync(Sha(small)));
            }

            Assert.True(await store.ExistsAsync(Sha(small)));
        }
        finally
        {
            await RunAsync("umount", mountPoint);
        }
    }

    private static async Task RunAsync(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)} failed: {error}");
    }
}
