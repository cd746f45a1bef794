using Google.Protobuf;
using Google.Protobuf.Reflection;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Storage;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Security;

/// <summary>
/// Every RPC of every service (from the service descriptors) × every kind of caller → the status the policy says, and a
/// refused call changes nothing. The expected policy is written here, independently of the server's rule table: a new
/// RPC without a row here fails the test.
/// </summary>
[Collection(AuthServerCollection.Name)]
public sealed partial class AccessMatrixTests(AuthServerFixture fixture)
{
    /// <summary>What a call needs, in the policy's words.</summary>
    private enum Need { AnyCaller, SignedIn, Admin, Viewer, Editor, Owner, NotServed }

    private enum Outcome { Allowed, Unauthenticated, PermissionDenied, Unimplemented }

    /// <summary>The callers in the order they call (destructive calls by owners come after the readers).</summary>
    private static readonly string[] Callers =
        ["no-token", "malformed", "wrong-secret", "expired", "revoked", "expired-jwt", "forged-jwt", "viewer", "editor", "other-owner", "owner", "oidc-group-user", "admin"];

    private sealed record Ids(string Team, string Experiment, string Checkpoint, string Model, string Version, string Dataset, string DatasetVersion, string File);

    [Fact]
    public async Task Every_rpc_gives_every_caller_the_status_the_policy_says_and_refused_calls_change_nothing()
    {
        var ids = await SeedAsync();
        var rows = Rows(ids);
        var methods = new[] { ModelStore.Descriptor, ModelBoxAdmin.Descriptor, Access.Descriptor }.SelectMany(s => s.Methods).ToList();
        var missing = methods.Select(m => m.FullName).Except(rows.Keys, StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, "RPCs without a row in the access matrix: " + string.Join(", ", missing));

        var failures = new List<string>();
        var checkedCalls = 0;
        foreach (var caller in Callers)
        {
            foreach (var method in methods)
            {
                var (need, requests) = rows[method.FullName];
                var expected = Expect(caller, need);
                var before = expected == Outcome.Allowed ? default : await SnapshotAsync(ids);
                var actual = await CallAsync(method, caller, requests);
                checkedCalls++;
                // An RPC the service does not implement yet answers UNIMPLEMENTED once access control let it through.
                if (actual.Outcome != expected && !(expected == Outcome.Allowed && actual.Outcome == Outcome.Unimplemented))
                {
                    failures.Add($"{method.FullName} as {caller}: expected {expected}, got {actual.Outcome} ({actual.Status.StatusCode}: {actual.Status.Detail})");
                }
                else if (expected != Outcome.Allowed && await SnapshotAsync(ids) != before)
                {
                    failures.Add($"{method.FullName} as {caller} was refused but changed something");
                }
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {checkedCalls} matrix cells failed:\n" + string.Join("\n", failures));
    }

    /// <summary>The status a caller should get for a call that needs <paramref name="need"/> on the team namespace.</summary>
    private static Outcome Expect(string caller, Need need)
    {
        if (need == Need.NotServed)
        {
            return Outcome.Unimplemented;
        }

        if (caller is "malformed" or "wrong-secret" or "expired" or "revoked" or "expired-jwt" or "forged-jwt")
        {
            return Outcome.Unauthenticated;
        }

        if (need == Need.AnyCaller)
        {
            return Outcome.Allowed;
        }

        if (caller == "no-token")
        {
            return Outcome.Unauthenticated;
        }

        var role = caller switch
        {
            "viewer" => Need.Viewer,
            "editor" => Need.Editor,
            "owner" or "oidc-group-user" or "admin" => Need.Owner,
            _ => Need.SignedIn,
        };
        var allowed = need switch
        {
            Need.SignedIn => true,
            Need.Admin => caller == "admin",
            _ => role >= need && role >= Need.Viewer,
        };
        return allowed ? Outcome.Allowed : Outcome.PermissionDenied;
    }

    private async Task<(Outcome Outcome, Status Status)> CallAsync(MethodDescriptor method, string caller, IReadOnlyList<IMessage> requests)
    {
        var invoker = fixture.Channel.CreateCallInvoker();
        var call = new Method<IMessage, IMessage>(
            method.IsClientStreaming ? method.IsServerStreaming ? MethodType.DuplexStreaming : MethodType.ClientStreaming
                : method.IsServerStreaming ? MethodType.ServerStreaming : MethodType.Unary,
            method.Service.FullName,
            method.Name,
            Marshallers.Create<IMessage>(m => m.ToByteArray(), bytes => method.InputType.Parser.ParseFrom(bytes)),
            Marshallers.Create<IMessage>(m => m.ToByteArray(), bytes => method.OutputType.Parser.ParseFrom(bytes)));
        var options = new CallOptions(fixture.Headers(caller), DateTime.UtcNow.AddSeconds(20));
        try
        {
            switch (call.Type)
            {
                case MethodType.Unary:
                    await invoker.AsyncUnaryCall(call, null, options, requests[0]);
                    break;
                case MethodType.ServerStreaming:
                    using (var stream = invoker.AsyncServerStreamingCall(call, null, options, requests[0]))
                    {
                        await stream.ResponseStream.MoveNext(CancellationToken.None);
                    }

                    break;
                default:
                    using (var upload = invoker.AsyncClientStreamingCall(call, null, options))
                    {
                        try
                        {
                            foreach (var request in requests)
                            {
                                await upload.RequestStream.WriteAsync(request);
                            }

                            await upload.RequestStream.CompleteAsync();
                        }
                        catch (RpcException)
                        {
                            // The server ended the call early; its status comes from the response.
                        }
                        catch (InvalidOperationException)
                        {
                        }

                        await upload.ResponseAsync;
                    }

                    break;
            }

            return (Outcome.Allowed, Status.DefaultSuccess);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
        {
            return (Outcome.Unauthenticated, e.Status);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.PermissionDenied)
        {
            return (Outcome.PermissionDenied, e.Status);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
        {
            return (Outcome.Unimplemented, e.Status);
        }
        catch (RpcException e)
        {
            // Any other status (NOT_FOUND, INVALID_ARGUMENT, UNIMPLEMENTED...) means the call got past access control.
            return (Outcome.Allowed, e.Status);
        }
    }

    /// <summary>What a refused call must leave as it was: the change log, the access version, the team experiment's metrics and files.</summary>
    private async Task<(long Changes, long Access, int Points, int Files)> SnapshotAsync(Ids ids)
    {
        var services = fixture.Server.Server.Services;
        var admin = fixture.Store("admin");
        var metrics = await admin.GetMetricsAsync(new GetMetricsRequest { ParentId = ids.Experiment });
        var files = await admin.ListArtifactsAsync(new ListArtifactsRequest { ParentId = ids.Experiment });
        return (
            await services.GetRequiredService<IChangeLog>().ReadLastSequenceAsync(),
            await services.GetRequiredService<IAccessStore>().GetAccessVersionAsync(),
            metrics.Metrics.Sum(m => m.Values.Count),
            files.Files.Count);
    }

    private async Task<Ids> SeedAsync()
    {
        var admin = fixture.Store("admin");
        var team = fixture.Team;
        var experiment = (await admin.CreateExperimentAsync(new CreateExperimentRequest { Namespace = team, Name = "run-" + Guid.NewGuid().ToString("N")[..6] })).ExperimentId;
        var checkpoint = (await admin.CreateCheckpointAsync(new CreateCheckpointRequest { ExperimentId = experiment, Epoch = 1 })).CheckpointId;
        var model = (await admin.CreateModelAsync(new CreateModelRequest { Namespace = team, Name = "net-" + Guid.NewGuid().ToString("N")[..6] })).Id;
        var version = (await admin.CreateModelVersionAsync(new CreateModelVersionRequest { Model = model, Version = "1" })).ModelVersion;
        var dataset = await admin.CreateDatasetAsync(new CreateDatasetRequest { Namespace = team, Name = "data", Digest = "sha256:" + new string('b', 64) });
        using var upload = admin.UploadFile();
        await upload.RequestStream.WriteAsync(new UploadFileRequest { Metadata = new FileMetadata { ParentId = experiment, Path = "weights.bin", FileType = FileType.Model } });
        await upload.RequestStream.WriteAsync(new UploadFileRequest { Chunks = ByteString.CopyFromUtf8("weights") });
        await upload.RequestStream.CompleteAsync();
        var file = (await upload.ResponseAsync).FileId;
        await admin.LogMetricsAsync(new LogMetricsRequest { ParentId = experiment, Key = "loss", Value = new MetricsValue { Step = 1, FVal = 0.5f } });
        await admin.SetModelAliasAsync(new SetModelAliasRequest { ModelId = model, Alias = "prod", VersionId = version });
        return new Ids(team, experiment, checkpoint, model, version, dataset.Dataset.Id, dataset.Version.Id, file);
    }

    /// <summary>The policy and a request for every RPC, naming objects in the team namespace.</summary>
    private Dictionary<string, (Need Need, IReadOnlyList<IMessage> Requests)> Rows(Ids ids)
    {
        var rows = new Dictionary<string, (Need, IReadOnlyList<IMessage>)>(StringComparer.Ordinal);
        void Row(ServiceDescriptor service, string method, Need need, params IMessage[] requests) => rows.Add($"{service.FullName}.{method}", (need, requests));
        var s = ModelStore.Descriptor;
        var metadata = new Protocol.Metadata();
        metadata.Metadata_["k"] = Value.ForString("v");
        Row(s, "CreateModel", Need.Editor, new CreateModelRequest { Namespace = ids.Team, Name = "made" });
        Row(s, "ListModels", Need.Viewer, new ListModelsRequest { Namespace = ids.Team });
        Row(s, "CreateModelVersion", Need.Editor, new CreateModelVersionRequest { Model = ids.Model, Version = "2" });
        Row(s, "ListModelVersions", Need.Viewer, new ListModelVersionsRequest { Model = ids.Model });
        Row(s, "CreateExperiment", Need.Editor, new CreateExperimentRequest { Namespace = ids.Team, Name = "made" });
        Row(s, "ListExperiments", Need.Viewer, new ListExperimentsRequest { Namespace = ids.Team });
        Row(s, "GetExperiment", Need.Viewer, new GetExperimentRequest { Id = ids.Experiment });
        Row(s, "CreateCheckpoint", Need.Editor, new CreateCheckpointRequest { ExperimentId = ids.Experiment, Epoch = 2 });
        Row(s, "ListCheckpoints", Need.Viewer, new ListCheckpointsRequest { ExperimentId = ids.Experiment });
        Row(s, "GetCheckpoint", Need.Viewer, new GetCheckpointRequest { CheckpointId = ids.Checkpoint });
        Row(s, "UploadFile", Need.Editor,
            new UploadFileRequest { Metadata = new FileMetadata { ParentId = ids.Experiment, Path = "more.bin" } },
            new UploadFileRequest { Chunks = ByteString.CopyFromUtf8("more") });
        Row(s, "DownloadFile", Need.Viewer, new DownloadFileRequest { FileId = ids.File });
        Row(s, "GetUploadStatus", Need.Editor, new GetUploadStatusRequest { ParentId = ids.Experiment, UploadId = "u1" });
        Row(s, "UpdateMetadata", Need.Editor, new UpdateMetadataRequest { ParentId = ids.Experiment, Metadata = metadata });
        Row(s, "ListMetadata", Need.Viewer, new ListMetadataRequest { ParentId = ids.Experiment });
        Row(s, "TrackArtifacts", Need.Editor, new TrackArtifactsRequest { Files = { new FileMetadata { ParentId = ids.Experiment, Path = "s3://b/k", Checksum = new string('a', 32) } } });
        Row(s, "ListArtifacts", Need.Viewer, new ListArtifactsRequest { ParentId = ids.Experiment });
        Row(s, "LogMetrics", Need.Editor, new LogMetricsRequest { ParentId = ids.Experiment, Key = "loss", Value = new MetricsValue { Step = 2, FVal = 0.4f } });
        Row(s, "GetMetrics", Need.Viewer, new GetMetricsRequest { ParentId = ids.Experiment });
        Row(s, "LogEvent", Need.Editor, new LogEventRequest { ParentId = ids.Experiment, Event = new Event { Name = "e", Source = new EventSource { Name = "t" } } });
        Row(s, "ListEvents", Need.Viewer, new ListEventsRequest { ParentId = ids.Experiment });
        Row(s, "WatchNamespace", Need.Viewer, new WatchNamespaceRequest { Namespace = ids.Team });
        Row(s, "GetClusterMembers", Need.SignedIn, new GetClusterMembersRequest());
        Row(s, "CreateActions", Need.Editor, new CreateActionRequest { Name = "a", ObjectId = ids.Experiment });
        Row(s, "ListActions", Need.Viewer, new ListActionsRequest { ObjectId = ids.Experiment });
        Row(s, "UpdateExperiment", Need.Editor, new UpdateExperimentRequest { Id = ids.Experiment, Description = "d" });
        Row(s, "DeleteExperiment", Need.Owner, new DeleteExperimentRequest { Id = ids.Experiment });
        Row(s, "RestoreExperiment", Need.Owner, new RestoreExperimentRequest { Id = ids.Experiment });
        Row(s, "GetModel", Need.Viewer, new GetModelRequest { Id = ids.Model });
        Row(s, "DeleteModel", Need.Owner, new DeleteModelRequest { Id = ids.Model });
        Row(s, "RestoreModel", Need.Owner, new RestoreModelRequest { Id = ids.Model });
        Row(s, "GetModelVersion", Need.Viewer, new GetModelVersionRequest { Id = ids.Version });
        Row(s, "DeleteModelVersion", Need.Owner, new DeleteModelVersionRequest { Id = ids.Version });
        Row(s, "RestoreModelVersion", Need.Owner, new RestoreModelVersionRequest { Id = ids.Version });
        Row(s, "ListNamespaces", Need.SignedIn, new ListNamespacesRequest());
        Row(s, "GetArtifact", Need.Viewer, new GetArtifactRequest { Id = ids.File });
        Row(s, "DeleteArtifact", Need.Owner, new DeleteArtifactRequest { Id = ids.File });
        Row(s, "LogMetricsBatch", Need.Editor, new LogMetricsBatchRequest { Series = { new MetricSeriesPoints { ParentId = ids.Experiment, Key = "acc", Values = { new MetricsValue { Step = 1, FVal = 1 } } } } });
        Row(s, "LogMetricsStream", Need.Editor, new LogMetricsBatchRequest { Series = { new MetricSeriesPoints { ParentId = ids.Experiment, Key = "acc", Values = { new MetricsValue { Step = 2, FVal = 1 } } } } });
        Row(s, "GetMetricSeries", Need.Viewer, new GetMetricSeriesRequest { ParentId = ids.Experiment, Key = "loss" });
        Row(s, "ExportMetricPoints", Need.Viewer, new ExportMetricPointsRequest { ParentId = ids.Experiment, Key = "loss" });
        Row(s, "GetMetricSeriesBatch", Need.Viewer, new GetMetricSeriesBatchRequest { Series = { new MetricSeriesRef { ParentId = ids.Experiment, Key = "loss" } } });
        Row(s, "GetMetricSummaries", Need.Viewer, new GetMetricSummariesRequest { ParentIds = { ids.Experiment } });
        Row(s, "DeleteMetadata", Need.Editor, new DeleteMetadataRequest { ParentId = ids.Experiment, Keys = { "k" } });
        Row(s, "SetLabels", Need.Owner, new SetLabelsRequest { ObjectId = ids.Model, Labels = { ["env"] = "prod" } });
        Row(s, "RemoveLabels", Need.Owner, new RemoveLabelsRequest { ObjectId = ids.Model, Keys = { "env" } });
        Row(s, "SetModelAlias", Need.Owner, new SetModelAliasRequest { ModelId = ids.Model, Alias = "prod", VersionId = ids.Version });
        Row(s, "GetModelAlias", Need.Viewer, new GetModelAliasRequest { ModelId = ids.Model, Alias = "prod" });
        Row(s, "ListModelAliases", Need.Viewer, new ListModelAliasesRequest { ModelId = ids.Model });
        Row(s, "DeleteModelAlias", Need.Owner, new DeleteModelAliasRequest { ModelId = ids.Model, Alias = "staging" });
        Row(s, "UpdateUniqueTags", Need.Owner, new UpdateUniqueTagsRequest { VersionId = ids.Version, Add = { "best" } });
        Row(s, "CreateDataset", Need.Editor, new CreateDatasetRequest { Namespace = ids.Team, Name = "made", Digest = "sha256:" + new string('c', 64) });
        Row(s, "GetDataset", Need.Viewer, new GetDatasetRequest { Id = ids.Dataset });
        Row(s, "ListDatasets", Need.Viewer, new ListDatasetsRequest { Namespace = ids.Team });
        Row(s, "GetDatasetUsage", Need.Viewer, new GetDatasetUsageRequest { DatasetId = ids.Dataset });
        Row(s, "SetLineage", Need.Editor, new SetLineageRequest { SubjectId = ids.Version, Lineage = new LineageSpec { ExperimentId = ids.Experiment, Datasets = { new DatasetLink { DatasetVersionId = ids.DatasetVersion } } } });
        Row(s, "GetLineage", Need.Viewer, new GetLineageRequest { VersionId = ids.Version });
        Row(s, "ListVersionsTrainedIn", Need.Viewer, new ListVersionsTrainedInRequest { ExperimentId = ids.Experiment });
        Row(s, "SearchExperiments", Need.SignedIn, new SearchRequest { Namespace = ids.Team });
        Row(s, "SearchModels", Need.SignedIn, new SearchRequest());
        Row(s, "SearchModelVersions", Need.SignedIn, new SearchRequest());
        Row(s, "GetServerInfo", Need.AnyCaller, new GetServerInfoRequest());

        // The agent service is not served yet (no route: UNIMPLEMENTED for everyone); its rule is admin-only for when it is.
        var a = ModelBoxAdmin.Descriptor;
        Row(a, "RegisterAgent", Need.NotServed, new RegisterAgentRequest { AgentName = "agent" });
        Row(a, "Heartbeat", Need.NotServed, new HeartbeatRequest { NodeId = "n" });
        Row(a, "GetRunnableActionInstances", Need.NotServed, new GetRunnableActionInstancesRequest { ActionName = "a" });
        Row(a, "UpdateActionStatus", Need.NotServed, new UpdateActionStatusRequest { ActionInstanceId = "x" });

        var x = Access.Descriptor;
        Row(x, "WhoAmI", Need.AnyCaller, new WhoAmIRequest());
        Row(x, "CreatePrincipal", Need.Admin, new CreatePrincipalRequest { Principal = "sa:made-in-matrix" });
        Row(x, "AddGroupMember", Need.Admin, new AddGroupMemberRequest { Group = "group:matrix", Member = "user:viewer" });
        Row(x, "CreateToken", Need.SignedIn, new CreateTokenRequest { Description = "own", ExpiresInSeconds = 60 });
        Row(x, "ListTokens", Need.SignedIn, new ListTokensRequest());
        Row(x, "RevokeToken", Need.SignedIn, new RevokeTokenRequest { Prefix = "mbx_000000000000" });
        Row(x, "SetGrant", Need.Owner, new SetGrantRequest { Principal = "user:viewer", Namespace = ids.Team, Role = "viewer" });
        Row(x, "RemoveGrant", Need.Owner, new RemoveGrantRequest { Principal = "user:nobody", Namespace = ids.Team });
        Row(x, "ListGrants", Need.SignedIn, new ListGrantsRequest());
        return rows;
    }
}
