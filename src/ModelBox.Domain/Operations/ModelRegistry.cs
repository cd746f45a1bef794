using ModelBox.Domain.Storage;

namespace ModelBox.Domain.Operations;

/// <summary>Input of <see cref="ModelRegistry.CreateModelAsync"/>, as the client sent it.</summary>
public sealed record NewModel(
    string? Namespace,
    string? Name,
    string? Owner,
    string? Task,
    string? Description,
    IReadOnlyDictionary<string, string>? Metadata);

/// <summary>Input of <see cref="ModelGovernance.CreateModelVersionAsync"/>.</summary>
public sealed record NewModelVersion(
    string? ModelId,
    string? Name,
    string? Version,
    string? Description,
    Framework Framework,
    IReadOnlyList<string>? UniqueTags,
    IReadOnlyDictionary<string, string>? Metadata);

/// <summary>Models, their versions, and the namespaces objects live in.</summary>
public sealed class ModelRegistry(IMetadataStore store, RegistrySearch search, TimeProvider time)
{
    /// <summary>Creates a model with its <paramref name="files"/> in one transaction, as checkpoints are created.</summary>
    public async Task<CreateResult<Model>> CreateModelAsync(NewModel request, IReadOnlyList<NewFile> files, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var newFiles = FileValidation.OfNewObject(files);
        var ns = Validation.Namespace(request.Namespace);
        var name = Validation.Required(request.Name, "name");
        var now = Clock.Now(time);
        var model = new Model(
            ObjectIds.Model(ns, name),
            ns,
            name,
            Validation.ShortText(request.Owner, "owner"),
            Validation.ShortText(request.Task, "task"),
            Validation.Description(request.Description),
            Validation.Metadata(request.Metadata),
            now,
            now);
        var result = await store.CreateModelAsync(model, FileValidation.RecordsOfNewObject(newFiles, model.Id, now), cancellationToken).ConfigureAwait(false);
        if (result.Value.DeletedAt is not null)
        {
            throw ModelBoxException.FailedPrecondition(
                $"model '{name}' in namespace '{ns}' (id '{model.Id}') is deleted; restore it with RestoreModel");
        }

        return result;
    }

    /// <summary>A model by id, soft-deleted ones too (<see cref="Model.DeletedAt"/> set); null when there is none.</summary>
    public Task<Model?> FindModelAsync(string? id, CancellationToken cancellationToken = default)
    {
        Validation.Id(id, "id", ObjectKind.Model);
        return store.GetModelAsync(id!, cancellationToken);
    }

    public async Task<Model> GetModelAsync(string? id, CancellationToken cancellationToken = default)
    {
        Validation.Id(id, "id", ObjectKind.Model);
        var model = await store.GetModelAsync(id!, cancellationToken).ConfigureAwait(false);
        return model is null || model.DeletedAt is not null ? throw ModelBoxException.NotFound("model", id!) : model;
    }

    /// <summary>
    /// Live models of a namespace (and of the namespaces below it when <paramref name="recursive"/>), newest first; only those
    /// a label selector picks when one is given.
    /// </summary>
    public Task<Page<Model>> ListModelsAsync(
        string? @namespace, bool recursive, string? labelSelector, PageRequest page, CancellationToken cancellationToken = default) =>
        string.IsNullOrEmpty(labelSelector)
            ? store.ListModelsAsync(NamespaceScope.From(@namespace, recursive), page, cancellationToken)
            : search.ListModelsAsync(@namespace, recursive, labelSelector, page, cancellationToken);

    public async Task<DateTimeOffset> DeleteModelAsync(string? id, CancellationToken cancellationToken = default)
    {
        Validation.Id(id, "id", ObjectKind.Model);
        return await store.DeleteModelAsync(id!, Clock.Now(time), cancellationToken).ConfigureAwait(false)
            ?? throw ModelBoxException.NotFound("model", id!);
    }

    public async Task<Model> RestoreModelAsync(string? id, CancellationToken cancellationToken = default)
    {
        Validation.Id(id, "id", ObjectKind.Model);
        return await store.RestoreModelAsync(id!, Clock.Now(time), cancellationToken).ConfigureAwait(false)
            ?? throw ModelBoxException.NotFound("model", id!);
    }

    /// <summary>Validates a new version's input and gives it its id and timestamps.</summary>
    internal static ModelVersion BuildVersion(NewModelVersion request, DateTimeOffset now)
    {
        var modelId = Validation.Id(request.ModelId, "model", ObjectKind.Model);
        var version = Validation.Required(request.Version, "version");
        var tags = new List<string>();
        foreach (var tag in request.UniqueTags ?? [])
        {
            var checkedTag = Validation.Required(tag, "unique tags");
            if (!tags.Contains(checkedTag, StringComparer.Ordinal))
            {
                tags.Add(checkedTag);
            }
        }

        return new ModelVersion(
            ObjectIds.ModelVersion(modelId, version),
            modelId,
            Validation.ShortText(request.Name, "name"),
            version,
            Validation.Description(request.Description),
            request.Framework,
            tags,
            Validation.Metadata(request.Metadata),
            now,
            now);
    }

    /// <summary>A create that found a deleted version answers FailedPrecondition naming the id to restore.</summary>
    internal static CreateResult<ModelVersion> CheckNotDeleted(CreateResult<ModelVersion> result)
    {
        if (result.Value.DeletedAt is not null)
        {
            throw ModelBoxException.FailedPrecondition(
                $"version '{result.Value.Version}' of model '{result.Value.ModelId}' (id '{result.Value.Id}') is deleted; restore it with RestoreModelVersion");
        }

        return result;
    }

    public async Task<ModelVersion> GetModelVersionAsync(string? id, CancellationToken cancellationToken = default)
    {
        Validation.Id(id, "id", ObjectKind.ModelVersion);
        var version = await store.GetModelVersionAsync(id!, cancellationToken).ConfigureAwait(false);
        return version is null || version.DeletedAt is not null ? throw ModelBoxException.NotFound("model version", id!) : version;
    }

    /// <summary>Live versions of a live model, oldest first; only those a label selector picks when one is given.</summary>
    public async Task<Page<ModelVersion>> ListModelVersionsAsync(
        string? modelId, string? labelSelector, PageRequest page, CancellationToken cancellationToken = default)
    {
        await GetModelAsync(Validation.Id(modelId, "model", ObjectKind.Model), cancellationToken).ConfigureAwait(false);
        return string.IsNullOrEmpty(labelSelector)
            ? await store.ListModelVersionsAsync(modelId!, page, cancellationToken).ConfigureAwait(false)
            : await search.ListModelVersionsAsync(modelId!, labelSelector, page, cancellationToken).ConfigureAwait(false);
    }

    public async Task<DateTimeOffset> DeleteModelVersionAsync(string? id, CancellationToken cancellationToken = default)
    {
        Validation.Id(id, "id", ObjectKind.ModelVersion);
        return await store.DeleteModelVersionAsync(id!, Clock.Now(time), cancellationToken).ConfigureAwait(false)
            ?? throw ModelBoxException.NotFound("model version", id!);
    }

    public async Task<ModelVersion> RestoreModelVersionAsync(string? id, CancellationToken cancellationToken = default)
    {
        Validation.Id(id, "id", ObjectKind.ModelVersion);
        return await store.RestoreModelVersionAsync(id!, Clock.Now(time), cancellationToken).ConfigureAwait(false)
            ?? throw ModelBoxException.NotFound("model version", id!);
    }

    public Task<Page<NamespaceInfo>> ListNamespacesAsync(PageRequest page, CancellationToken cancellationToken = default) =>
        store.ListNamespacesAsync(page, cancellationToken);
}
