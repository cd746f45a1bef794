using ModelBox.Domain;
using ModelBox.Domain.Operations;
using Proto = ModelBox.Protocol;

namespace ModelBox.Server.Services;

/// <summary>Wire ↔ domain mapping of experiments and checkpoints.</summary>
internal static class ExperimentMapping
{
    public static NewExperiment ToDomain(this Proto.CreateExperimentRequest request) => new(
        request.Namespace,
        request.Name,
        request.Owner,
        request.Framework.ToDomain(),
        request.Task,
        request.ExternalId,
        request.Description,
        request.Metadata.ToJsonMap());

    public static Proto.CreateExperimentResponse ToResponse(this CreateResult<Experiment> result) => new()
    {
        ExperimentId = result.Value.Id,
        ExperimentExists = result.Existed,
        CreatedAt = result.Value.CreatedAt.ToTimestamp(),
        UpdatedAt = result.Value.UpdatedAt.ToTimestamp(),
    };

    /// <summary>The changes an update asks for: an unset status or field changes nothing.</summary>
    public static ExperimentChanges ToDomain(this Proto.UpdateExperimentRequest request) => new(
        request.Status == Proto.ExperimentStatus.Unspecified ? null : (ExperimentStatus)request.Status,
        request.HasDescription ? request.Description : null,
        request.HasExternalId ? request.ExternalId : null);

    public static NewCheckpoint ToDomain(this Proto.CreateCheckpointRequest request) => new(
        request.ExperimentId,
        request.Epoch,
        request.Metrics.ToDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal),
        request.Metadata.ToJsonMap());

    public static Proto.CreateCheckpointResponse ToResponse(this CreateResult<Checkpoint> result) => new()
    {
        CheckpointId = result.Value.Id,
        Exists = result.Existed,
        CreatedAt = result.Value.CreatedAt.ToTimestamp(),
        UpdatedAt = result.Value.UpdatedAt.ToTimestamp(),
    };

    public static Proto.Experiment ToProto(this Experiment e)
    {
        var proto = new Proto.Experiment
        {
            Id = e.Id,
            Name = e.Name,
            Namespace = e.Namespace,
            Owner = e.Owner,
            Framework = (Proto.MLFramework)e.Framework,
            ExternalId = e.ExternalId,
            Task = e.Task,
            Description = e.Description,
            Metadata = e.Metadata.ToProtoMetadata(),
            Status = (Proto.ExperimentStatus)e.Status,
            CreatedAt = e.CreatedAt.ToTimestamp(),
            UpdatedAt = e.UpdatedAt.ToTimestamp(),
        };
        if (e.EndedAt is { } ended)
        {
            proto.EndedAt = ended.ToTimestamp();
        }

        return proto;
    }

    /// <summary>An experiment with its labels.</summary>
    public static Proto.Experiment ToProto(this Detailed<Experiment> e) => e.Value.ToProto(e.Labels);

    /// <summary>An experiment with the given labels.</summary>
    public static Proto.Experiment ToProto(this Experiment e, IReadOnlyDictionary<string, string> labels)
    {
        var proto = e.ToProto();
        proto.Labels.AddLabels(labels);
        return proto;
    }

    public static Proto.Checkpoint ToProto(this Checkpoint c)
    {
        var proto = new Proto.Checkpoint
        {
            Id = c.Id,
            Epoch = (ulong)c.Epoch,
            ExperimentId = c.ExperimentId,
            Metadata = c.Metadata.ToProtoMetadata(),
            CreatedAt = c.CreatedAt.ToTimestamp(),
            UpdatedAt = c.UpdatedAt.ToTimestamp(),
        };
        proto.Metrics.Add(c.Metrics.ToDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal));
        return proto;
    }

    /// <summary>A checkpoint with its files.</summary>
    public static Proto.Checkpoint ToProto(this Detailed<Checkpoint> c)
    {
        var proto = c.Value.ToProto();
        proto.Files.Add(c.Files.Select(f => f.ToProto()));
        return proto;
    }
}
