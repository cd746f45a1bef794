using System.Diagnostics;
using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using ModelBox.Protocol;
using Xunit.Abstractions;

namespace ModelBox.EndToEnd.Tests.Replicas;

/// <summary>Two replicas on one database and one blob folder behave as one service.</summary>
public abstract class ReplicaTests<TPair>(TPair replicas, ITestOutputHelper output) : IClassFixture<TPair>
    where TPair : ReplicaPair
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task The_same_create_sent_to_both_replicas_at_once_yields_one_object()
    {
        var ns = "race-" + Guid.NewGuid().ToString("N")[..8];
        for (var i = 0; i < 20; i++)
        {
            var experiment = new CreateExperimentRequest { Name = $"run-{i}", Namespace = ns, Owner = "race@example.com" };
            var experiments = await Task.WhenAll(
                replicas.A.Store.CreateExperimentAsync(experiment).ResponseAsync,
                replicas.B.Store.CreateExperimentAsync(experiment).ResponseAsync);
            Assert.Equal(experiments[0].ExperimentId, experiments[1].ExperimentId);
            Assert.Single(experiments, r => !r.ExperimentExists);

            var model = new CreateModelRequest { Name = $"model-{i}", Namespace = ns, Owner = "race@example.com" };
            var models = await Task.WhenAll(
                replicas.A.Store.CreateModelAsync(model).ResponseAsync,
                replicas.B.Store.CreateModelAsync(model).ResponseAsync);
            Assert.Equal(models[0].Id, models[1].Id);
            Assert.Single(models, r => !r.Exists);
        }

        foreach (var replica in new[] { replicas.A, replicas.B })
        {
            var listed = await replica.Store.ListExperimentsAsync(new ListExperimentsRequest { Namespace = ns });
            Assert.Equal(20, listed.Experiments.Count);
            Assert.Equal(20, listed.Experiments.Select(e => e.Id).Distinct().Count());
        }

        replicas.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_file_uploaded_through_one_replica_downloads_through_the_other()
    {
        var experiment = await replicas.A.Store.CreateExperimentAsync(new CreateExperimentRequest
        {
            Name = "with-files", Namespace = "files-" + Guid.NewGuid().ToString("N")[..8], Owner = "files@example.com",
        });
        var content = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);
        var md5 = Convert.ToHexStringLower(MD5.HashData(content));

        string fileId;
        using (var upload = replicas.A.Store.UploadFile(deadline: DateTime.UtcNow.Add(Patience)))
        {
            await upload.RequestStream.WriteAsync(new UploadFileRequest
            {
                Metadata = new FileMetadata { ParentId = experiment.ExperimentId, Path = "weights.bin", Checksum = md5, FileType = FileType.Model },
            });
            foreach (var chunk in content.Chunk(64 * 1024))
            {
                await upload.RequestStream.WriteAsync(new UploadFileRequest { Chunks = ByteString.CopyFrom(chunk) });
            }

            await upload.RequestStream.CompleteAsync();
            fileId = (await upload.ResponseAsync).FileId;
        }

        var downloaded = new MemoryStream();
        FileMetadata? metadata = null;
        using (var download = replicas.B.Store.DownloadFile(new DownloadFileRequest { FileId = fileId }, deadline: DateTime.UtcNow.Add(Patience)))
        {
            await foreach (var frame in download.ResponseStream.ReadAllAsync())
            {
                if (frame.StreamFrameCase == DownloadFileResponse.StreamFrameOneofCase.Metadata)
                {
                    metadata = frame.Metadata;
                }
                else
                {
                    frame.Chunks.WriteTo(downloaded);
                }
            }
        }

        Assert.NotNull(metadata);
        Assert.Equal(md5, metadata.Checksum);
        Assert.Equal(md5, Convert.ToHexStringLower(MD5.HashData(downloaded.ToArray())));
        Assert.Equal(content.Length, downloaded.Length);

        var listed = await replicas.B.Store.ListArtifactsAsync(new ListArtifactsRequest { ParentId = experiment.ExperimentId });
        Assert.Equal(fileId, Assert.Single(listed.Files).Id);
        replicas.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_watcher_on_one_replica_receives_a_change_committed_through_the_other()
    {
        var ns = "watch-" + Guid.NewGuid().ToString("N")[..8];
        using var timeout = new CancellationTokenSource(Patience);
        using var watch = replicas.A.Store.WatchNamespace(new WatchNamespaceRequest { Namespace = ns, Since = 0 }, cancellationToken: timeout.Token);

        // A change through A itself proves the stream is live (past its backlog) before B commits anything.
        var first = await replicas.A.Store.CreateExperimentAsync(new CreateExperimentRequest { Name = "through-a", Namespace = ns }, cancellationToken: timeout.Token);
        Assert.Equal(first.ExperimentId, (await NextAsync(watch.ResponseStream, timeout.Token)).ObjectId);

        var latencies = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            var created = await replicas.B.Store.CreateExperimentAsync(new CreateExperimentRequest { Name = $"through-b-{i}", Namespace = ns }, cancellationToken: timeout.Token);
            var committed = clock.Elapsed;
            var change = await NextAsync(watch.ResponseStream, timeout.Token);
            var received = clock.Elapsed;
            Assert.Equal(created.ExperimentId, change.ObjectId);
            Assert.Equal(ChangeEvent.ObjectCreated, change.Event);
            latencies.Add($"create answered by B after {committed.TotalMilliseconds:0.0} ms, change on A after {received.TotalMilliseconds:0.0} ms");
        }

        // Measured, not asserted (timing belongs in bench/): the target is well under a second.
        output.WriteLine(string.Join('\n', latencies));
        replicas.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task The_registry_is_one_registry_across_replicas_an_alias_moved_through_one_resolves_through_the_other()
    {
        var ns = "registry-" + Guid.NewGuid().ToString("N")[..8];
        using var timeout = new CancellationTokenSource(Patience);
        var token = timeout.Token;
        var model = await replicas.A.Store.CreateModelAsync(new CreateModelRequest { Name = "asr", Namespace = ns, Owner = "ops@example.com" }, cancellationToken: token);
        var v1 = (await replicas.A.Store.CreateModelVersionAsync(new CreateModelVersionRequest { Model = model.Id, Version = "1" }, cancellationToken: token)).ModelVersion;
        var v2 = (await replicas.B.Store.CreateModelVersionAsync(
            new CreateModelVersionRequest { Model = model.Id, Version = "2", UniqueTags = { "candidate" } }, cancellationToken: token)).ModelVersion;
        using var watch = replicas.B.Store.WatchNamespace(new WatchNamespaceRequest { Namespace = ns, Since = 0 }, cancellationToken: token);

        // A moves the alias; B resolves it and learns of the move from its change stream.
        await replicas.A.Store.SetModelAliasAsync(new SetModelAliasRequest { ModelId = model.Id, Alias = "production", VersionId = v1, Actor = "alice" }, cancellationToken: token);
        var resolved = await replicas.B.Store.GetModelVersionAsync(new GetModelVersionRequest { ModelId = model.Id, Alias = "production" }, cancellationToken: token);
        Assert.Equal(v1, resolved.ModelVersion.Id);
        WatchNamespaceResponse change;
        do
        {
            change = await NextAsync(watch.ResponseStream, token);
        }
        while (change.ObjectKind != "alias");
        Assert.Equal(model.Id, change.ObjectId);
        Assert.Equal(v1, change.Payload.StructValue.Fields["version_id"].StringValue);

        // B moves it on and sees A's move as where it pointed before; A then resolves B's move.
        var moved = await replicas.B.Store.SetModelAliasAsync(new SetModelAliasRequest { ModelId = model.Id, Alias = "production", VersionId = v2 }, cancellationToken: token);
        Assert.Equal(v1, moved.PreviousVersionId);
        Assert.Equal(v2, (await replicas.A.Store.GetModelAliasAsync(new GetModelAliasRequest { ModelId = model.Id, Alias = "production" }, cancellationToken: token)).Alias.VersionId);

        // Labels set through A select and search through B; a unique tag claimed through A leaves the version B created.
        await replicas.A.Store.SetLabelsAsync(new SetLabelsRequest { ObjectId = v2, Labels = { ["env"] = "production" } }, cancellationToken: token);
        var selected = await replicas.B.Store.ListModelVersionsAsync(new ListModelVersionsRequest { Model = model.Id, LabelSelector = "env=production" }, cancellationToken: token);
        Assert.Equal([v2], selected.ModelVersions.Select(v => v.Id));
        var found = await replicas.B.Store.SearchModelVersionsAsync(
            new SearchRequest { Namespace = ns, Filter = "labels.env = 'production' and model = 'asr' and version = '2'" }, cancellationToken: token);
        Assert.Equal([v2], found.ModelVersions.Select(v => v.Id));
        await replicas.A.Store.UpdateUniqueTagsAsync(new UpdateUniqueTagsRequest { VersionId = v1, Add = { "candidate" } }, cancellationToken: token);
        Assert.Empty((await replicas.B.Store.GetModelVersionAsync(new GetModelVersionRequest { Id = v2 }, cancellationToken: token)).ModelVersion.UniqueTags);

        replicas.AssertNoErrorsLogged();
    }

    private static async Task<WatchNamespaceResponse> NextAsync(IAsyncStreamReader<WatchNamespaceResponse> stream, CancellationToken cancellationToken)
    {
        Assert.True(await stream.MoveNext(cancellationToken), "the watch stream ended");
        return stream.Current;
    }
}

/// <summary>The replica behaviour on PostgreSQL.</summary>
public sealed class PostgresReplicaTests(PostgresReplicaPair replicas, ITestOutputHelper output) : ReplicaTests<PostgresReplicaPair>(replicas, output);

/// <summary>The replica behaviour on MariaDB.</summary>
public sealed class MySqlReplicaTests(MySqlReplicaPair replicas, ITestOutputHelper output) : ReplicaTests<MySqlReplicaPair>(replicas, output);
