using Grpc.Core;
using ModelBox.Domain;
using ModelBox.Domain.Operations;
using ModelBox.Domain.Registry;
using Proto = ModelBox.Protocol;

namespace ModelBox.Server.Services;

/// <summary>Wire ↔ domain mapping of labels, aliases, datasets, lineage and the caller of registry changes.</summary>
internal static class RegistryMapping
{
    /// <summary>The gRPC metadata header that names the caller for audit events when the request's actor field is empty.</summary>
    public const string ActorHeader = "x-modelbox-actor";

    /// <summary>
    /// The caller: with auth enforced the authenticated principal (what the request or the x-modelbox-actor header claim is
    /// ignored); otherwise the request's actor field, else the header, else null (anonymous).
    /// </summary>
    public static string? Actor(string requestActor, ServerCallContext context) =>
        Security.CallerSession.Of(context) is { } session ? session.Current.PrincipalId
        : !string.IsNullOrWhiteSpace(requestActor) ? requestActor
        : context.RequestHeaders.GetValue(ActorHeader);

    public static Proto.SetLabelsResponse ToSetLabelsResponse(this LabelWriteResult result)
    {
        var response = new Proto.SetLabelsResponse { NumChanged = result.KeysChanged, UpdatedAt = result.UpdatedAt.ToTimestamp() };
        response.Labels.AddLabels(result.Labels);
        return response;
    }

    public static Proto.RemoveLabelsResponse ToRemoveLabelsResponse(this LabelWriteResult result)
    {
        var response = new Proto.RemoveLabelsResponse { NumChanged = result.KeysChanged, UpdatedAt = result.UpdatedAt.ToTimestamp() };
        response.Labels.AddLabels(result.Labels);
        return response;
    }

    public static Proto.ModelAlias ToProto(this ModelAlias alias) => new()
    {
        ModelId = alias.ModelId,
        Alias = alias.Alias,
        VersionId = alias.VersionId,
        UpdatedAt = alias.UpdatedAt.ToTimestamp(),
    };

    public static NewDataset ToDomain(this Proto.CreateDatasetRequest request) =>
        new(request.Namespace, request.Name, request.Description, request.Uri, request.Digest, request.Metadata.ToJsonMap());

    public static Proto.CreateDatasetResponse ToResponse(this DatasetRegistration result) => new()
    {
        Dataset = result.Dataset.ToProto(),
        Version = result.Version.ToProto(),
        DatasetExists = result.DatasetExisted,
        VersionExists = result.VersionExisted,
    };

    public static Proto.Dataset ToProto(this Dataset d) => new()
    {
        Id = d.Id,
        Namespace = d.Namespace,
        Name = d.Name,
        Description = d.Description,
        Metadata = d.Metadata.ToProtoMetadata(),
        CreatedAt = d.CreatedAt.ToTimestamp(),
        UpdatedAt = d.UpdatedAt.ToTimestamp(),
    };

    public static Proto.DatasetVersion ToProto(this DatasetVersion v) => new()
    {
        Id = v.Id,
        DatasetId = v.DatasetId,
        Digest = v.Digest,
        Uri = v.Uri,
        Metadata = v.Metadata.ToProtoMetadata(),
        CreatedAt = v.CreatedAt.ToTimestamp(),
    };

    public static Proto.DatasetRole ToProto(this DatasetRole role) =>
        role == DatasetRole.Evaluation ? Proto.DatasetRole.Evaluation : Proto.DatasetRole.Training;

    public static Lineage ToDomain(this Proto.LineageSpec? spec) => spec is null
        ? Lineage.Empty
        : new Lineage(
            string.IsNullOrEmpty(spec.ExperimentId) ? null : spec.ExperimentId,
            string.IsNullOrEmpty(spec.CheckpointId) ? null : spec.CheckpointId,
            spec.Datasets.Select(d => new DatasetLink(d.DatasetVersionId, d.Role switch
            {
                Proto.DatasetRole.Unspecified or Proto.DatasetRole.Training => DatasetRole.Training,
                Proto.DatasetRole.Evaluation => DatasetRole.Evaluation,
                _ => throw ModelBoxException.InvalidArgument($"datasets.role {(int)d.Role} is not a known role"),
            })).ToList(),
            spec.DerivedFrom.Select(p => new DerivationLink(p.VersionId, p.Relation)).ToList());

    public static Proto.LineageSpec ToProto(this Lineage lineage)
    {
        var spec = new Proto.LineageSpec { ExperimentId = lineage.ExperimentId ?? string.Empty, CheckpointId = lineage.CheckpointId ?? string.Empty };
        spec.Datasets.Add(lineage.Datasets.Select(d => new Proto.DatasetLink { DatasetVersionId = d.DatasetVersionId, Role = d.Role.ToProto() }));
        spec.DerivedFrom.Add(lineage.DerivedFrom.Select(p => new Proto.DerivationLink { VersionId = p.ParentVersionId, Relation = p.Relation }));
        return spec;
    }

    /// <summary>A lineage graph as GetLineage answers it: the experiment, models and versions with their labels.</summary>
    public static Proto.GetLineageResponse ToResponse(this LabeledLineage lineage)
    {
        var graph = lineage.Graph;
        var response = new Proto.GetLineageResponse
        {
            Version = graph.Version.ToProto(lineage.LabelsOf(graph.Version.Id)),
            Model = graph.Model.ToProto(lineage.LabelsOf(graph.Model.Id)),
            Experiment = graph.Experiment?.ToProto(lineage.LabelsOf(graph.Experiment.Id)),
            Checkpoint = graph.Checkpoint?.ToProto(),
        };
        response.Datasets.Add(graph.Datasets.Select(d => new Proto.DatasetUse { Dataset = d.Dataset.ToProto(), Version = d.Version.ToProto(), Role = d.Role.ToProto() }));
        response.Ancestors.Add(graph.Ancestors.Select(a => new Proto.LineageAncestor
        {
            Version = a.Version.ToProto(lineage.LabelsOf(a.Version.Id)),
            ChildId = a.ChildId,
            Relation = a.Relation,
            Depth = a.Depth,
            ExperimentId = a.ExperimentId ?? string.Empty,
        }));
        response.Descendants.Add(graph.Descendants.Select(d => d.ToProto(lineage.LabelsOf(d.Id))));
        return response;
    }
}
