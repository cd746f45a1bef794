using ModelBox.Domain;
using ModelBox.Domain.Operations;
using Proto = ModelBox.Protocol;

namespace ModelBox.Server.Services;

/// <summary>Wire ↔ domain mapping of models, model versions and namespaces.</summary>
internal static class ModelMapping
{
    public static NewModel ToDomain(this Proto.CreateModelRequest request) =>
        new(request.Namespace, request.Name, request.Owner, request.Task, request.Description, request.Metadata.ToJsonMap());

    public static Proto.CreateModelResponse ToResponse(this CreateResult<Model> result) => new()
    {
        Id = result.Value.Id,
        Exists = result.Existed,
        CreatedAt = result.Value.CreatedAt.ToTimestamp(),
        UpdatedAt = result.Value.UpdatedAt.ToTimestamp(),
    };

    public static NewModelVersion ToDomain(this Proto.CreateModelVersionRequest request) => new(
        request.Model,
        request.Name,
        request.Version,
        request.Description,
        request.Framework.ToDomain(),
        request.UniqueTags,
        request.Metadata.ToJsonMap());

    public static Proto.CreateModelVersionResponse ToResponse(this CreateResult<ModelVersion> result) => new()
    {
        ModelVersion = result.Value.Id,
        Exists = result.Existed,
        CreatedAt = result.Value.CreatedAt.ToTimestamp(),
        UpdatedAt = result.Value.UpdatedAt.ToTimestamp(),
    };

    public static Proto.Model ToProto(this Model m) => new()
    {
        Id = m.Id,
        Name = m.Name,
        Owner = m.Owner,
        Namespace = m.Namespace,
        Description = m.Description,
        Task = m.Task,
        Metadata = m.Metadata.ToProtoMetadata(),
        CreatedAt = m.CreatedAt.ToTimestamp(),
        UpdatedAt = m.UpdatedAt.ToTimestamp(),
    };

    /// <summary>A model with its labels and files.</summary>
    public static Proto.Model ToProto(this Detailed<Model> m)
    {
        var proto = m.Value.ToProto(m.Labels);
        proto.Files.Add(m.Files.Select(f => f.ToProto()));
        return proto;
    }

    /// <summary>A model with the given labels.</summary>
    public static Proto.Model ToProto(this Model m, IReadOnlyDictionary<string, string> labels)
    {
        var proto = m.ToProto();
        proto.Labels.AddLabels(labels);
        return proto;
    }

    public static Proto.ModelVersion ToProto(this ModelVersion v)
    {
        var proto = new Proto.ModelVersion
        {
            Id = v.Id,
            ModelId = v.ModelId,
            Name = v.Name,
            Version = v.Version,
            Description = v.Description,
            Metadata = v.Metadata.ToProtoMetadata(),
            Framework = (Proto.MLFramework)v.Framework,
            CreatedAt = v.CreatedAt.ToTimestamp(),
            UpdatedAt = v.UpdatedAt.ToTimestamp(),
        };
        proto.UniqueTags.Add(v.UniqueTags);
        return proto;
    }

    /// <summary>A model version with its labels and files.</summary>
    public static Proto.ModelVersion ToProto(this Detailed<ModelVersion> v)
    {
        var proto = v.Value.ToProto(v.Labels);
        proto.Files.Add(v.Files.Select(f => f.ToProto()));
        return proto;
    }

    /// <summary>A model version with the given labels.</summary>
    public static Proto.ModelVersion ToProto(this ModelVersion v, IReadOnlyDictionary<string, string> labels)
    {
        var proto = v.ToProto();
        proto.Labels.AddLabels(labels);
        return proto;
    }

    public static Proto.Namespace ToProto(this NamespaceInfo n) => new() { Name = n.Name, CreatedAt = n.CreatedAt.ToTimestamp() };
}
