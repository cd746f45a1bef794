using System.Collections.Frozen;
using Google.Protobuf;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;
using ModelBox.Domain.Access;
using ModelBox.Domain.Operations;
using ModelBox.Protocol;
using static ModelBox.Server.Security.AccessTarget;

namespace ModelBox.Server.Security;

/// <summary>
/// The access rule of every RPC of every service, by full method name (<c>/modelbox.ModelStore/GetExperiment</c>).
/// Roles: reading needs viewer, creating and changing objects, metadata, metrics, events and artifacts editor; deleting,
/// restoring, labels, aliases and unique tags owner (docs/security.md). A test fails when an RPC has no rule.
/// </summary>
internal static class RpcAccessTable
{
    /// <summary>The services whose RPCs the table covers.</summary>
    public static IReadOnlyList<ServiceDescriptor> Services { get; } = [ModelStore.Descriptor, ModelBoxAdmin.Descriptor, Access.Descriptor];

    public static FrozenDictionary<string, RpcAccess> Rules { get; } = Build();

    /// <summary>The gRPC health and reflection services: open to every caller whatever the auth mode.</summary>
    public static bool IsOpenInfrastructure(string method) =>
        method.StartsWith("/grpc.health.v1.Health/", StringComparison.Ordinal)
        || method.StartsWith("/grpc.reflection.", StringComparison.Ordinal);

    private static FrozenDictionary<string, RpcAccess> Build()
    {
        var rules = new Dictionary<string, RpcAccess>(StringComparer.Ordinal);
        void Add<TRequest>(ServiceDescriptor service, string method, RpcAccess access)
            where TRequest : IMessage
        {
            var descriptor = service.FindMethodByName(method)
                ?? throw new InvalidOperationException($"{service.FullName} has no RPC {method}");
            if (descriptor.InputType.ClrType != typeof(TRequest))
            {
                throw new InvalidOperationException($"{service.FullName}/{method} takes {descriptor.InputType.Name}, not {typeof(TRequest).Name}");
            }

            rules.Add($"/{service.FullName}/{method}", access);
        }

        void On<TRequest>(string method, Role role, Func<TRequest, IEnumerable<AccessTarget>> targets)
            where TRequest : IMessage =>
            Add<TRequest>(ModelStore.Descriptor, method, new RpcAccess.OnTargets(role, message => targets((TRequest)message)));

        var store = ModelStore.Descriptor;
        On<CreateModelRequest>("CreateModel", Role.Editor, r => [InNamespace(r.Namespace)]);
        On<ListModelsRequest>("ListModels", Role.Viewer, r => [InNamespace(r.Namespace)]);
        On<CreateModelVersionRequest>("CreateModelVersion", Role.Editor, r => [Of(r.Model)]);
        On<ListModelVersionsRequest>("ListModelVersions", Role.Viewer, r => [Of(r.Model)]);
        On<CreateExperimentRequest>("CreateExperiment", Role.Editor, r => [InNamespace(r.Namespace)]);
        On<ListExperimentsRequest>("ListExperiments", Role.Viewer, r => [InNamespace(r.Namespace)]);
        On<GetExperimentRequest>("GetExperiment", Role.Viewer, r => [Of(r.Id)]);
        On<CreateCheckpointRequest>("CreateCheckpoint", Role.Editor, r => [Of(r.ExperimentId)]);
        On<ListCheckpointsRequest>("ListCheckpoints", Role.Viewer, r => [Of(r.ExperimentId)]);
        On<GetCheckpointRequest>("GetCheckpoint", Role.Viewer, r => [Of(r.CheckpointId.Length > 0 ? r.CheckpointId : r.ExperimentId)]);
        // The first frame carries the metadata; later frames (chunks) name nothing.
        On<UploadFileRequest>("UploadFile", Role.Editor, r => r.Metadata is { } m ? [Of(m.ParentId)] : []);
        On<DownloadFileRequest>("DownloadFile", Role.Viewer, r => [Of(r.FileId)]);
        On<GetUploadStatusRequest>("GetUploadStatus", Role.Editor, r => [Of(r.ParentId)]);
        On<UpdateMetadataRequest>("UpdateMetadata", Role.Editor, r => [Of(r.ParentId)]);
        On<ListMetadataRequest>("ListMetadata", Role.Viewer, r => [Of(r.ParentId)]);
        On<TrackArtifactsRequest>("TrackArtifacts", Role.Editor, r => r.Files.Select(f => Of(f.ParentId)));
        On<ListArtifactsRequest>("ListArtifacts", Role.Viewer, r => [Of(r.ParentId)]);
        On<LogMetricsRequest>("LogMetrics", Role.Editor, r => [Of(r.ParentId)]);
        On<GetMetricsRequest>("GetMetrics", Role.Viewer, r => [Of(r.ParentId)]);
        On<LogEventRequest>("LogEvent", Role.Editor, r => [Of(r.ParentId)]);
        On<ListEventsRequest>("ListEvents", Role.Viewer, r => [Of(r.ParentId)]);
        Add<WatchNamespaceRequest>(store, "WatchNamespace", new RpcAccess.Filtered());
        Add<GetClusterMembersRequest>(store, "GetClusterMembers", new RpcAccess.SignedIn());
        On<CreateActionRequest>("CreateActions", Role.Editor, r => [Of(r.ObjectId)]);
        On<ListActionsRequest>("ListActions", Role.Viewer, r => [Of(r.ObjectId)]);
        On<UpdateExperimentRequest>("UpdateExperiment", Role.Editor, r => [Of(r.Id)]);
        On<DeleteExperimentRequest>("DeleteExperiment", Role.Owner, r => [Of(r.Id)]);
        On<RestoreExperimentRequest>("RestoreExperiment", Role.Owner, r => [Of(r.Id)]);
        On<GetModelRequest>("GetModel", Role.Viewer, r => [Of(r.Id)]);
        On<DeleteModelRequest>("DeleteModel", Role.Owner, r => [Of(r.Id)]);
        On<RestoreModelRequest>("RestoreModel", Role.Owner, r => [Of(r.Id)]);
        Add<GetModelVersionRequest>(store, "GetModelVersion", new RpcAccess.OnResolvedTargets(Role.Viewer, ModelVersionTargetsAsync));
        On<DeleteModelVersionRequest>("DeleteModelVersion", Role.Owner, r => [Of(r.Id)]);
        On<RestoreModelVersionRequest>("RestoreModelVersion", Role.Owner, r => [Of(r.Id)]);
        Add<ListNamespacesRequest>(store, "ListNamespaces", new RpcAccess.Filtered());
        On<GetArtifactRequest>("GetArtifact", Role.Viewer, r => [Of(r.Id)]);
        On<DeleteArtifactRequest>("DeleteArtifact", Role.Owner, r => [Of(r.Id)]);
        On<LogMetricsBatchRequest>("LogMetricsBatch", Role.Editor, r => r.Series.Select(s => Of(s.ParentId)));
        // Every batch of the stream is checked as it arrives.
        On<LogMetricsBatchRequest>("LogMetricsStream", Role.Editor, r => r.Series.Select(s => Of(s.ParentId)));
        On<GetMetricSeriesRequest>("GetMetricSeries", Role.Viewer, r => [Of(r.ParentId)]);
        On<ExportMetricPointsRequest>("ExportMetricPoints", Role.Viewer, r => [Of(r.ParentId)]);
        On<GetMetricSeriesBatchRequest>("GetMetricSeriesBatch", Role.Viewer, r => r.Series.Select(s => Of(s.ParentId)));
        On<GetMetricSummariesRequest>("GetMetricSummaries", Role.Viewer, r => r.ParentIds.Select(Of));
        On<DeleteMetadataRequest>("DeleteMetadata", Role.Editor, r => [Of(r.ParentId)]);
        On<SetLabelsRequest>("SetLabels", Role.Owner, r => [Of(r.ObjectId)]);
        On<RemoveLabelsRequest>("RemoveLabels", Role.Owner, r => [Of(r.ObjectId)]);
        On<SetModelAliasRequest>("SetModelAlias", Role.Owner, r => [Of(r.ModelId)]);
        On<GetModelAliasRequest>("GetModelAlias", Role.Viewer, r => [Of(r.ModelId)]);
        On<ListModelAliasesRequest>("ListModelAliases", Role.Viewer, r => [Of(r.ModelId)]);
        On<DeleteModelAliasRequest>("DeleteModelAlias", Role.Owner, r => [Of(r.ModelId)]);
        On<UpdateUniqueTagsRequest>("UpdateUniqueTags", Role.Owner, r => [Of(r.VersionId)]);
        On<CreateDatasetRequest>("CreateDataset", Role.Editor, r => [InNamespace(r.Namespace)]);
        On<GetDatasetRequest>("GetDataset", Role.Viewer, r => [Of(r.Id)]);
        On<ListDatasetsRequest>("ListDatasets", Role.Viewer, r => [InNamespace(r.Namespace)]);
        On<GetDatasetUsageRequest>("GetDatasetUsage", Role.Viewer, r => [Of(r.DatasetId)]);
        // Recording lineage changes the subject; what it points at must be readable (checked as editor: the subject's
        // role is the one that matters, and a link to an unreadable object would reveal it exists).
        On<SetLineageRequest>("SetLineage", Role.Editor, r => LineageTargets(r));
        On<GetLineageRequest>("GetLineage", Role.Viewer, r => [Of(r.VersionId)]);
        On<ListVersionsTrainedInRequest>("ListVersionsTrainedIn", Role.Viewer, r => [Of(r.ExperimentId)]);
        Add<SearchRequest>(store, "SearchExperiments", new RpcAccess.Filtered());
        Add<SearchRequest>(store, "SearchModels", new RpcAccess.Filtered());
        Add<SearchRequest>(store, "SearchModelVersions", new RpcAccess.Filtered());
        Add<GetServerInfoRequest>(store, "GetServerInfo", new RpcAccess.AnyCaller());

        // Agents run actions on any object: admins (service accounts made admins) only.
        var admin = ModelBoxAdmin.Descriptor;
        Add<RegisterAgentRequest>(admin, "RegisterAgent", new RpcAccess.AdminOnly());
        Add<HeartbeatRequest>(admin, "Heartbeat", new RpcAccess.AdminOnly());
        Add<GetRunnableActionInstancesRequest>(admin, "GetRunnableActionInstances", new RpcAccess.AdminOnly());
        Add<UpdateActionStatusRequest>(admin, "UpdateActionStatus", new RpcAccess.AdminOnly());

        // The access service checks admin and ownership itself (AccessDirectory).
        var access = Access.Descriptor;
        Add<WhoAmIRequest>(access, "WhoAmI", new RpcAccess.AnyCaller());
        Add<CreatePrincipalRequest>(access, "CreatePrincipal", new RpcAccess.AdminOnly());
        Add<AddGroupMemberRequest>(access, "AddGroupMember", new RpcAccess.AdminOnly());
        Add<CreateTokenRequest>(access, "CreateToken", new RpcAccess.SignedIn());
        Add<ListTokensRequest>(access, "ListTokens", new RpcAccess.SignedIn());
        Add<RevokeTokenRequest>(access, "RevokeToken", new RpcAccess.SignedIn());
        Add<SetGrantRequest>(access, "SetGrant", new RpcAccess.SignedIn());
        Add<RemoveGrantRequest>(access, "RemoveGrant", new RpcAccess.SignedIn());
        Add<ListGrantsRequest>(access, "ListGrants", new RpcAccess.SignedIn());
        return rules.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static IEnumerable<AccessTarget> LineageTargets(SetLineageRequest request)
    {
        yield return Of(request.SubjectId);
        if (request.Lineage is not { } lineage)
        {
            yield break;
        }

        foreach (var id in new[] { lineage.ExperimentId, lineage.CheckpointId }
            .Concat(lineage.Datasets.Select(d => d.DatasetVersionId))
            .Concat(lineage.DerivedFrom.Select(d => d.VersionId)))
        {
            if (id.Length > 0)
            {
                yield return Of(id);
            }
        }
    }

    /// <summary>GetModelVersion names a version by id, by model and alias, or by a reference resolved like the call does.</summary>
    private static async ValueTask<IEnumerable<AccessTarget>> ModelVersionTargetsAsync(IMessage message, IServiceProvider services, CancellationToken cancellationToken)
    {
        var request = (GetModelVersionRequest)message;
        if (request.Id.Length > 0)
        {
            return [Of(request.Id)];
        }

        if (request.ModelId.Length > 0)
        {
            return [Of(request.ModelId)];
        }

        if (request.Reference.Length == 0)
        {
            return [];
        }

        var version = await services.GetRequiredService<ModelGovernance>().ResolveAsync(request.Reference, cancellationToken);
        return [Of(version.Id)];
    }
}
