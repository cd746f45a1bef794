using ModelBox.Domain.Registry;
using ModelBox.Domain.Storage;

namespace ModelBox.Domain.Operations;

/// <summary>
/// What operations need on top of the registry: labels on experiments, models and versions; aliases that point a model
/// at one of its versions; unique tags that move between versions; and resolving <c>namespace/model@alias</c> or
/// <c>namespace/model:version</c> references. Every change is a change record and an audit event naming the actor.
/// </summary>
public sealed class ModelGovernance(IMetadataStore metadata, IRegistryStore store, TimeProvider time)
{
    private static readonly InputName ObjectId = "object id";

    public async Task<LabelWriteResult> SetLabelsAsync(
        string? objectId, IReadOnlyDictionary<string, string>? labels, string? actor, CancellationToken cancellationToken = default)
    {
        var id = LabeledObject(objectId);
        var checkedLabels = RegistryValidation.Labels(labels);
        if (checkedLabels.Count == 0)
        {
            throw ModelBoxException.InvalidArgument("labels is required: give at least one key=value");
        }

        return await store.SetLabelsAsync(id, checkedLabels, Audit(actor), cancellationToken).ConfigureAwait(false)
            ?? throw NotFound(id);
    }

    public async Task<LabelWriteResult> RemoveLabelsAsync(
        string? objectId, IReadOnlyCollection<string>? keys, string? actor, CancellationToken cancellationToken = default)
    {
        var id = LabeledObject(objectId);
        if (keys is null || keys.Count == 0)
        {
            throw ModelBoxException.InvalidArgument("keys is required: name at least one label key");
        }

        var checkedKeys = keys.Select(key => RegistryValidation.LabelKey(key, "keys")).Distinct(StringComparer.Ordinal).ToList();
        return await store.RemoveLabelsAsync(id, checkedKeys, Audit(actor), cancellationToken).ConfigureAwait(false)
            ?? throw NotFound(id);
    }

    public async Task<(ModelAlias Alias, string? PreviousVersionId)> SetAliasAsync(
        string? modelId, string? alias, string? versionId, string? actor, CancellationToken cancellationToken = default)
    {
        var model = Validation.Id(modelId, "model id", ObjectKind.Model);
        var name = RegistryValidation.Alias(alias);
        var version = Validation.Id(versionId, "version id", ObjectKind.ModelVersion);
        return await store.SetAliasAsync(model, name, version, Audit(actor), cancellationToken).ConfigureAwait(false);
    }

    public async Task<ModelAlias> GetAliasAsync(string? modelId, string? alias, CancellationToken cancellationToken = default)
    {
        var model = Validation.Id(modelId, "model id", ObjectKind.Model);
        var name = RegistryValidation.Alias(alias);
        return await store.GetAliasAsync(model, name, cancellationToken).ConfigureAwait(false)
            ?? throw new ModelBoxException(ErrorKind.NotFound, $"alias '{name}' of model '{model}' not found");
    }

    public async Task<IReadOnlyList<ModelAlias>> ListAliasesAsync(string? modelId, CancellationToken cancellationToken = default)
    {
        var model = Validation.Id(modelId, "model id", ObjectKind.Model);
        await RequireModelAsync(model, cancellationToken).ConfigureAwait(false);
        return await store.ListAliasesAsync(model, cancellationToken).ConfigureAwait(false);
    }

    public async Task<ModelAlias> DeleteAliasAsync(string? modelId, string? alias, string? actor, CancellationToken cancellationToken = default)
    {
        var model = Validation.Id(modelId, "model id", ObjectKind.Model);
        var name = RegistryValidation.Alias(alias);
        return await store.DeleteAliasAsync(model, name, Audit(actor), cancellationToken).ConfigureAwait(false)
            ?? throw new ModelBoxException(ErrorKind.NotFound, $"alias '{name}' of model '{model}' not found");
    }

    /// <summary>The live version an alias of a model points at.</summary>
    public async Task<ModelVersion> GetVersionByAliasAsync(string? modelId, string? alias, CancellationToken cancellationToken = default)
    {
        var pointer = await GetAliasAsync(modelId, alias, cancellationToken).ConfigureAwait(false);
        var version = await metadata.GetModelVersionAsync(pointer.VersionId, cancellationToken).ConfigureAwait(false);
        return version is null || version.DeletedAt is not null
            ? throw new ModelBoxException(ErrorKind.NotFound, $"alias '{pointer.Alias}' points at model version '{pointer.VersionId}', which is deleted")
            : version;
    }

    /// <summary>
    /// Resolves <c>namespace/model@alias</c>, <c>namespace/model:version</c>, or the same without <c>namespace/</c>
    /// (the default namespace) to a live version. The namespace is a path (<c>vision/detection/yolo@prod</c>) and a model
    /// name may contain '/' too: the deepest namespace with such a model wins.
    /// </summary>
    public async Task<ModelVersion> ResolveAsync(string? reference, CancellationToken cancellationToken = default)
    {
        var text = Validation.Required(reference, "reference");
        var (ns, name, alias, version) = ParseReference(text);
        var modelId = ObjectIds.Model(ns, name);
        var model = await metadata.GetModelAsync(modelId, cancellationToken).ConfigureAwait(false);
        for (var slash = ns.LastIndexOf('/'); (model is null || model.DeletedAt is not null) && slash > 0; slash = ns.LastIndexOf('/', slash - 1))
        {
            var shorter = ParseReference(text, slash);
            var id = ObjectIds.Model(shorter.Namespace, shorter.Model);
            if (await metadata.GetModelAsync(id, cancellationToken).ConfigureAwait(false) is { DeletedAt: null } found)
            {
                (ns, name, alias, version, modelId, model) = (shorter.Namespace, shorter.Model, shorter.Alias, shorter.Version, id, found);
            }
        }

        if (model is null || model.DeletedAt is not null)
        {
            throw new ModelBoxException(ErrorKind.NotFound, $"model '{name}' in namespace '{ns}' not found");
        }

        if (alias is not null)
        {
            return await GetVersionByAliasAsync(modelId, alias, cancellationToken).ConfigureAwait(false);
        }

        var versionId = ObjectIds.ModelVersion(modelId, version!);
        var versionFound = await metadata.GetModelVersionAsync(versionId, cancellationToken).ConfigureAwait(false);
        return versionFound is null || versionFound.DeletedAt is not null
            ? throw new ModelBoxException(ErrorKind.NotFound, $"version '{version}' of model '{ns}/{name}' not found")
            : versionFound;
    }

    /// <summary>Splits a reference at its last '/' (namespaces are paths); throws InvalidArgument naming what is wrong.</summary>
    public static (string Namespace, string Model, string? Alias, string? Version) ParseReference(string reference) =>
        ParseReference(reference, reference.LastIndexOf('/'));

    /// <summary>Splits a reference into namespace and the rest at <paramref name="slash"/> (-1: the default namespace).</summary>
    private static (string Namespace, string Model, string? Alias, string? Version) ParseReference(string reference, int slash)
    {
        var ns = slash < 0 ? Validation.DefaultNamespace : Validation.Namespace(reference[..slash], "reference namespace");
        var rest = slash < 0 ? reference : reference[(slash + 1)..];
        var at = rest.LastIndexOf('@');
        var colon = rest.LastIndexOf(':');
        if (at > 0 && at < rest.Length - 1)
        {
            return (ns, rest[..at], RegistryValidation.Alias(rest[(at + 1)..], "reference alias"), null);
        }

        if (colon > 0 && colon < rest.Length - 1)
        {
            return (ns, rest[..colon], null, rest[(colon + 1)..]);
        }

        throw ModelBoxException.InvalidArgument(
            $"reference '{reference}' must be NAMESPACE/MODEL@ALIAS or NAMESPACE/MODEL:VERSION");
    }

    public async Task<ModelVersion> UpdateUniqueTagsAsync(
        string? versionId, IReadOnlyCollection<string>? add, IReadOnlyCollection<string>? remove, string? actor, CancellationToken cancellationToken = default)
    {
        var id = Validation.Id(versionId, "version id", ObjectKind.ModelVersion);
        var added = (add ?? []).Select(tag => Validation.Required(tag, "add")).Distinct(StringComparer.Ordinal).ToList();
        var removed = (remove ?? []).Select(tag => Validation.Required(tag, "remove")).Distinct(StringComparer.Ordinal).ToList();
        if (added.Count == 0 && removed.Count == 0)
        {
            throw ModelBoxException.InvalidArgument("add or remove must name at least one tag");
        }

        if (added.Intersect(removed, StringComparer.Ordinal).FirstOrDefault() is { } both)
        {
            throw ModelBoxException.InvalidArgument($"tag '{both}' is both added and removed");
        }

        return await store.UpdateUniqueTagsAsync(id, added, removed, Audit(actor), cancellationToken).ConfigureAwait(false)
            ?? throw ModelBoxException.NotFound("model version", id);
    }

    /// <summary>
    /// Creates a version whose unique tags move to it, with its lineage and its <paramref name="files"/>, in one
    /// transaction; a version that exists already keeps its tags, lineage and files.
    /// </summary>
    public async Task<CreateResult<ModelVersion>> CreateModelVersionAsync(
        NewModelVersion request, Lineage? lineage, string? actor, IReadOnlyList<NewFile> files, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var newFiles = FileValidation.OfNewObject(files);
        var audit = Audit(actor);
        var version = ModelRegistry.BuildVersion(request, audit.At);
        var checkedLineage = lineage is null ? Lineage.Empty : LineageTracker.CheckLineage(lineage, ObjectKind.ModelVersion, version.Id);
        return ModelRegistry.CheckNotDeleted(
            await store.CreateModelVersionAsync(
                version, checkedLineage, audit, FileValidation.RecordsOfNewObject(newFiles, version.Id, audit.At), cancellationToken).ConfigureAwait(false));
    }

    private AuditContext Audit(string? actor) => new(RegistryValidation.Actor(actor), Clock.Now(time));

    private async Task RequireModelAsync(string modelId, CancellationToken cancellationToken, string? description = null)
    {
        var model = await metadata.GetModelAsync(modelId, cancellationToken).ConfigureAwait(false);
        if (model is null || model.DeletedAt is not null)
        {
            throw new ModelBoxException(ErrorKind.NotFound, $"{description ?? $"model '{modelId}'"} not found");
        }
    }

    private static string LabeledObject(string? objectId)
    {
        if (string.IsNullOrEmpty(objectId))
        {
            throw ModelBoxException.InvalidArgument($"{ObjectId} is required");
        }

        if (!ObjectIds.TryGetKind(objectId, out var kind))
        {
            throw ModelBoxException.InvalidArgument($"{ObjectId} '{(objectId.Length > 80 ? objectId[..80] : objectId)}' is not a ModelBox id");
        }

        return kind is ObjectKind.Experiment or ObjectKind.Model or ObjectKind.ModelVersion
            ? objectId
            : throw ModelBoxException.InvalidArgument(
                $"{ObjectId} '{objectId}' is the id of a {Validation.Describe(kind)}; labels belong to experiments, models and model versions");
    }

    private static ModelBoxException NotFound(string id) =>
        ObjectIds.TryGetKind(id, out var kind) ? ModelBoxException.NotFound(Validation.Describe(kind), id) : ModelBoxException.NotFound("object", id);
}
