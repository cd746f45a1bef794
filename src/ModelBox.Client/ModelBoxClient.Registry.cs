using System.Text.Json;
using ModelBox.Protocol;

namespace ModelBox.Client;

// Labels, aliases, unique tags, datasets, lineage and search.
public sealed partial class ModelBoxClient
{
    /// <summary>Sets labels on an experiment, model or model version; other keys stay.</summary>
    /// <param name="objectId">The object id.</param>
    /// <param name="labels">Keys and values (letters, digits, '-', '_', '.', '/').</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Every label the object has now.</returns>
    public async Task<IReadOnlyDictionary<string, string>> SetLabelsAsync(
        string objectId, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var request = new SetLabelsRequest { ObjectId = objectId ?? "", Actor = _options.Actor ?? "" };
        request.Labels.Add(labels.ToDictionary(StringComparer.Ordinal));
        var response = await InvokeAsync(o => _store.SetLabelsAsync(request, o), cancellationToken).ConfigureAwait(false);
        return new Dictionary<string, string>(response.Labels, StringComparer.Ordinal);
    }

    /// <summary>Removes label keys from an object; absent keys are ignored.</summary>
    /// <param name="objectId">The object id.</param>
    /// <param name="keys">The keys.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Every label the object has now.</returns>
    public async Task<IReadOnlyDictionary<string, string>> RemoveLabelsAsync(
        string objectId, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var request = new RemoveLabelsRequest { ObjectId = objectId ?? "", Actor = _options.Actor ?? "" };
        request.Keys.Add(keys);
        var response = await InvokeAsync(o => _store.RemoveLabelsAsync(request, o), cancellationToken).ConfigureAwait(false);
        return new Dictionary<string, string>(response.Labels, StringComparer.Ordinal);
    }

    /// <summary>Points an alias of a model at one of its versions (atomically replacing where it pointed).</summary>
    /// <param name="modelId">The model.</param>
    /// <param name="alias">The alias name.</param>
    /// <param name="versionId">A version of that model.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<ModelAlias> SetAliasAsync(string modelId, string alias, string versionId, CancellationToken cancellationToken = default)
    {
        var request = new SetModelAliasRequest { ModelId = modelId ?? "", Alias = alias ?? "", VersionId = versionId ?? "", Actor = _options.Actor ?? "" };
        var response = await InvokeAsync(o => _store.SetModelAliasAsync(request, o), cancellationToken).ConfigureAwait(false);
        return ToSdk(Require(response.Alias, "alias", alias));
    }

    /// <summary>Where an alias of a model points.</summary>
    /// <param name="modelId">The model.</param>
    /// <param name="alias">The alias name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ModelBoxNotFoundException">The model or alias does not exist.</exception>
    public async Task<ModelAlias> GetAliasAsync(string modelId, string alias, CancellationToken cancellationToken = default)
    {
        var request = new GetModelAliasRequest { ModelId = modelId ?? "", Alias = alias ?? "" };
        var response = await InvokeAsync(o => _store.GetModelAliasAsync(request, o), cancellationToken).ConfigureAwait(false);
        return ToSdk(Require(response.Alias, "alias", alias));
    }

    /// <summary>The aliases of a model, by name.</summary>
    /// <param name="modelId">The model.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<IReadOnlyList<ModelAlias>> ListAliasesAsync(string modelId, CancellationToken cancellationToken = default)
    {
        var request = new ListModelAliasesRequest { ModelId = modelId ?? "" };
        var response = await InvokeAsync(o => _store.ListModelAliasesAsync(request, o), cancellationToken).ConfigureAwait(false);
        return response.Aliases.Select(ToSdk).ToList();
    }

    /// <summary>Deletes an alias of a model.</summary>
    /// <param name="modelId">The model.</param>
    /// <param name="alias">The alias name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>What the alias pointed at.</returns>
    public async Task<ModelAlias> DeleteAliasAsync(string modelId, string alias, CancellationToken cancellationToken = default)
    {
        var request = new DeleteModelAliasRequest { ModelId = modelId ?? "", Alias = alias ?? "", Actor = _options.Actor ?? "" };
        var response = await InvokeAsync(o => _store.DeleteModelAliasAsync(request, o), cancellationToken).ConfigureAwait(false);
        return ToSdk(Require(response.Alias, "alias", alias));
    }

    /// <summary>The version an alias of a model points at.</summary>
    /// <param name="modelId">The model.</param>
    /// <param name="alias">The alias name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<ModelVersion> GetModelVersionByAliasAsync(string modelId, string alias, CancellationToken cancellationToken = default)
    {
        var request = new GetModelVersionRequest { ModelId = modelId ?? "", Alias = alias ?? "" };
        var response = await InvokeAsync(o => _store.GetModelVersionAsync(request, o), cancellationToken).ConfigureAwait(false);
        return Require(response.ModelVersion, "model version", alias).ToSdk();
    }

    /// <summary>Resolves <c>namespace/model@alias</c> or <c>namespace/model:version</c> to a version with its files.</summary>
    /// <param name="reference">The reference.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<ModelVersion> ResolveModelVersionAsync(string reference, CancellationToken cancellationToken = default)
    {
        var request = new GetModelVersionRequest { Reference = reference ?? "" };
        var response = await InvokeAsync(o => _store.GetModelVersionAsync(request, o), cancellationToken).ConfigureAwait(false);
        return Require(response.ModelVersion, "model version", reference).ToSdk();
    }

    /// <summary>Adds and removes unique tags of a version; an added tag moves from the version of the model that held it.</summary>
    /// <param name="versionId">The version.</param>
    /// <param name="add">Tags to add.</param>
    /// <param name="remove">Tags to remove.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<ModelVersion> UpdateUniqueTagsAsync(
        string versionId, IEnumerable<string>? add = null, IEnumerable<string>? remove = null, CancellationToken cancellationToken = default)
    {
        var request = new UpdateUniqueTagsRequest { VersionId = versionId ?? "", Actor = _options.Actor ?? "" };
        request.Add.Add(add ?? []);
        request.Remove.Add(remove ?? []);
        var response = await InvokeAsync(o => _store.UpdateUniqueTagsAsync(request, o), cancellationToken).ConfigureAwait(false);
        return Require(response.ModelVersion, "model version", versionId).ToSdk();
    }

    /// <summary>Registers a dataset version by digest, creating the dataset on first use; idempotent.</summary>
    /// <param name="namespaceName">The namespace; empty means <c>default</c>.</param>
    /// <param name="name">The dataset name.</param>
    /// <param name="digest">The content digest (the version's identity).</param>
    /// <param name="uri">Where the data is.</param>
    /// <param name="description">A description of the dataset.</param>
    /// <param name="metadata">Metadata of the version.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<DatasetRegistration> CreateDatasetAsync(
        string namespaceName,
        string name,
        string digest,
        string? uri = null,
        string? description = null,
        IReadOnlyDictionary<string, JsonElement>? metadata = null,
        CancellationToken cancellationToken = default)
    {
        var request = new CreateDatasetRequest
        {
            Namespace = namespaceName ?? "",
            Name = name ?? "",
            Digest = digest ?? "",
            Uri = uri ?? "",
            Description = description ?? "",
            Metadata = ProtocolMapping.ToProto(metadata),
        };
        var response = await InvokeAsync(o => _store.CreateDatasetAsync(request, o), cancellationToken).ConfigureAwait(false);
        return new DatasetRegistration(
            ToSdk(Require(response.Dataset, "dataset", name)), ToSdk(Require(response.Version, "dataset version", digest)),
            response.DatasetExists, response.VersionExists);
    }

    /// <summary>A dataset and its versions.</summary>
    /// <param name="id">The dataset id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<DatasetDetails> GetDatasetAsync(string id, CancellationToken cancellationToken = default)
    {
        var request = new GetDatasetRequest { Id = id ?? "" };
        var response = await InvokeAsync(o => _store.GetDatasetAsync(request, o), cancellationToken).ConfigureAwait(false);
        return new DatasetDetails(ToSdk(Require(response.Dataset, "dataset", id)), response.Versions.Select(ToSdk).ToList());
    }

    /// <summary>The datasets of a namespace, by name.</summary>
    /// <param name="namespaceName">The namespace; empty means <c>default</c>.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<Dataset> ListDatasetsAsync(string namespaceName, CancellationToken cancellationToken = default) =>
        ListDatasetsAsync(namespaceName, recursive: false, cancellationToken);

    /// <summary>The datasets of a namespace (and, with <paramref name="recursive"/>, of every namespace below it), by name.</summary>
    /// <param name="namespaceName">The namespace; empty means <c>default</c>.</param>
    /// <param name="recursive">Also the namespaces below it.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<Dataset> ListDatasetsAsync(string namespaceName, bool recursive, CancellationToken cancellationToken = default) =>
        PageAsync(
            (token, o) => _store.ListDatasetsAsync(
                new ListDatasetsRequest { Namespace = namespaceName ?? "", Recursive = recursive, PageSize = _options.PageSize, PageToken = token }, o),
            r => r.Datasets.Select(ToSdk),
            r => r.NextPageToken,
            cancellationToken);

    /// <summary>The experiments and model versions that used a dataset (any version) or one dataset version.</summary>
    /// <param name="datasetId">A dataset or dataset version id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<DatasetUsage> GetDatasetUsageAsync(string datasetId, CancellationToken cancellationToken = default)
    {
        var request = new GetDatasetUsageRequest { DatasetId = datasetId ?? "" };
        var response = await InvokeAsync(o => _store.GetDatasetUsageAsync(request, o), cancellationToken).ConfigureAwait(false);
        return new DatasetUsage(response.Experiments.Select(e => e.ToSdk()).ToList(), response.ModelVersions.Select(v => v.ToSdk()).ToList());
    }

    /// <summary>Replaces the recorded lineage of a model version (or the datasets of an experiment).</summary>
    /// <param name="subjectId">A model version or experiment id.</param>
    /// <param name="lineage">The lineage.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<LineageSpec> SetLineageAsync(string subjectId, LineageSpec lineage, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lineage);
        var request = new SetLineageRequest { SubjectId = subjectId ?? "", Lineage = ToProto(lineage), Actor = _options.Actor ?? "" };
        var response = await InvokeAsync(o => _store.SetLineageAsync(request, o), cancellationToken).ConfigureAwait(false);
        var stored = response.Lineage ?? new Protocol.LineageSpec();
        return new LineageSpec
        {
            ExperimentId = stored.ExperimentId.Length > 0 ? stored.ExperimentId : null,
            CheckpointId = stored.CheckpointId.Length > 0 ? stored.CheckpointId : null,
            Datasets = stored.Datasets.Select(d => new DatasetLink(d.DatasetVersionId, ToSdk(d.Role))).ToList(),
            DerivedFrom = stored.DerivedFrom.Select(d => new DerivationLink(d.VersionId, d.Relation)).ToList(),
        };
    }

    /// <summary>The full lineage of a model version: experiment, checkpoint, datasets, ancestors and direct descendants.</summary>
    /// <param name="versionId">The version.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<ModelLineage> GetLineageAsync(string versionId, CancellationToken cancellationToken = default)
    {
        var request = new GetLineageRequest { VersionId = versionId ?? "" };
        var r = await InvokeAsync(o => _store.GetLineageAsync(request, o), cancellationToken).ConfigureAwait(false);
        return new ModelLineage(
            Require(r.Version, "model version", versionId).ToSdk(),
            Require(r.Model, "model", versionId).ToSdk(),
            r.Experiment?.ToSdk(),
            r.Checkpoint?.ToSdk(),
            r.Datasets.Select(d => new DatasetUse(ToSdk(d.Dataset), ToSdk(d.Version), ToSdk(d.Role))).ToList(),
            r.Ancestors.Select(a => new LineageAncestor(a.Version.ToSdk(), a.ChildId, a.Relation, a.Depth, a.ExperimentId.Length > 0 ? a.ExperimentId : null)).ToList(),
            r.Descendants.Select(d => d.ToSdk()).ToList());
    }

    /// <summary>The model versions trained in an experiment, oldest first.</summary>
    /// <param name="experimentId">The experiment.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<IReadOnlyList<ModelVersion>> ListVersionsTrainedInAsync(string experimentId, CancellationToken cancellationToken = default)
    {
        var request = new ListVersionsTrainedInRequest { ExperimentId = experimentId ?? "" };
        var response = await InvokeAsync(o => _store.ListVersionsTrainedInAsync(request, o), cancellationToken).ConfigureAwait(false);
        return response.ModelVersions.Select(v => v.ToSdk()).ToList();
    }

    /// <summary>Searches experiments (docs/search.md), fetching pages as the caller enumerates.</summary>
    /// <param name="filter">The filter, e.g. <c>metrics.accuracy &gt; 0.9 and labels.env = 'production'</c>.</param>
    /// <param name="namespaceName">Only this namespace; null searches all.</param>
    /// <param name="orderBy"><c>name</c>, <c>created_at</c> or <c>updated_at</c>, optionally <c>asc</c>/<c>desc</c>.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<Experiment> SearchExperimentsAsync(
        string filter, string? namespaceName = null, string? orderBy = null, CancellationToken cancellationToken = default) =>
        SearchExperimentsAsync(filter, namespaceName, recursive: false, orderBy, cancellationToken);

    /// <summary>
    /// Searches experiments in a namespace and, with <paramref name="recursive"/>, every namespace below it (with auth enforced,
    /// only what the caller may read).
    /// </summary>
    /// <param name="filter">The filter (docs/search.md).</param>
    /// <param name="namespaceName">The namespace; null searches all.</param>
    /// <param name="recursive">Also the namespaces below it (<c>vision</c> covers <c>vision/detection</c>).</param>
    /// <param name="orderBy">The sort.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<Experiment> SearchExperimentsAsync(
        string filter, string? namespaceName, bool recursive, string? orderBy = null, CancellationToken cancellationToken = default) =>
        PageAsync(
            (token, o) => _store.SearchExperimentsAsync(Search(filter, namespaceName, recursive, orderBy, token), o),
            r => r.Experiments.Select(e => e.ToSdk()),
            r => r.NextPageToken,
            cancellationToken);

    /// <summary>Searches models (docs/search.md).</summary>
    /// <param name="filter">The filter.</param>
    /// <param name="namespaceName">Only this namespace; null searches all.</param>
    /// <param name="orderBy">The sort.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<Model> SearchModelsAsync(
        string filter, string? namespaceName = null, string? orderBy = null, CancellationToken cancellationToken = default) =>
        SearchModelsAsync(filter, namespaceName, recursive: false, orderBy, cancellationToken);

    /// <summary>
    /// Searches models in a namespace and, with <paramref name="recursive"/>, every namespace below it (with auth enforced,
    /// only what the caller may read).
    /// </summary>
    /// <param name="filter">The filter (docs/search.md).</param>
    /// <param name="namespaceName">The namespace; null searches all.</param>
    /// <param name="recursive">Also the namespaces below it (<c>vision</c> covers <c>vision/detection</c>).</param>
    /// <param name="orderBy">The sort.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<Model> SearchModelsAsync(
        string filter, string? namespaceName, bool recursive, string? orderBy = null, CancellationToken cancellationToken = default) =>
        PageAsync(
            (token, o) => _store.SearchModelsAsync(Search(filter, namespaceName, recursive, orderBy, token), o),
            r => r.Models.Select(m => m.ToSdk()),
            r => r.NextPageToken,
            cancellationToken);

    /// <summary>Searches model versions (docs/search.md).</summary>
    /// <param name="filter">The filter.</param>
    /// <param name="namespaceName">Only this namespace; null searches all.</param>
    /// <param name="orderBy">The sort.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<ModelVersion> SearchModelVersionsAsync(
        string filter, string? namespaceName = null, string? orderBy = null, CancellationToken cancellationToken = default) =>
        SearchModelVersionsAsync(filter, namespaceName, recursive: false, orderBy, cancellationToken);

    /// <summary>
    /// Searches model versions in a namespace and, with <paramref name="recursive"/>, every namespace below it (with auth enforced,
    /// only what the caller may read).
    /// </summary>
    /// <param name="filter">The filter (docs/search.md).</param>
    /// <param name="namespaceName">The namespace; null searches all.</param>
    /// <param name="recursive">Also the namespaces below it (<c>vision</c> covers <c>vision/detection</c>).</param>
    /// <param name="orderBy">The sort.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<ModelVersion> SearchModelVersionsAsync(
        string filter, string? namespaceName, bool recursive, string? orderBy = null, CancellationToken cancellationToken = default) =>
        PageAsync(
            (token, o) => _store.SearchModelVersionsAsync(Search(filter, namespaceName, recursive, orderBy, token), o),
            r => r.ModelVersions.Select(v => v.ToSdk()),
            r => r.NextPageToken,
            cancellationToken);

    /// <summary>Lists the models of a namespace whose labels match a selector (<c>env=production,privacy!=pii</c>), newest first.</summary>
    /// <param name="namespaceName">The namespace.</param>
    /// <param name="labelSelector">The selector.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<Model> ListModelsAsync(string namespaceName, string labelSelector, CancellationToken cancellationToken = default) =>
        PageAsync(
            (token, o) => _store.ListModelsAsync(
                new ListModelsRequest { Namespace = namespaceName ?? "", LabelSelector = labelSelector ?? "", PageSize = _options.PageSize, PageToken = token }, o),
            r => r.Models.Select(m => m.ToSdk()),
            r => r.NextPageToken,
            cancellationToken);

    /// <summary>Lists the experiments of a namespace whose labels match a selector, newest first.</summary>
    /// <param name="namespaceName">The namespace.</param>
    /// <param name="labelSelector">The selector.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<Experiment> ListExperimentsAsync(string namespaceName, string labelSelector, CancellationToken cancellationToken = default) =>
        PageAsync(
            (token, o) => _store.ListExperimentsAsync(
                new ListExperimentsRequest { Namespace = namespaceName ?? "", LabelSelector = labelSelector ?? "", PageSize = _options.PageSize, PageToken = token }, o),
            r => r.Experiments.Select(e => e.ToSdk()),
            r => r.NextPageToken,
            cancellationToken);

    /// <summary>Lists the versions of a model whose labels match a selector, oldest first.</summary>
    /// <param name="modelId">The model.</param>
    /// <param name="labelSelector">The selector.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<ModelVersion> ListModelVersionsAsync(string modelId, string labelSelector, CancellationToken cancellationToken = default) =>
        PageAsync(
            (token, o) => _store.ListModelVersionsAsync(
                new ListModelVersionsRequest { Model = modelId ?? "", LabelSelector = labelSelector ?? "", PageSize = _options.PageSize, PageToken = token }, o),
            r => r.ModelVersions.Select(v => v.ToSdk()),
            r => r.NextPageToken,
            cancellationToken);

    private SearchRequest Search(string filter, string? namespaceName, bool recursive, string? orderBy, string token) => new()
    {
        Filter = filter ?? "",
        Namespace = namespaceName ?? "",
        Recursive = recursive,
        OrderBy = orderBy ?? "",
        PageSize = _options.PageSize,
        PageToken = token,
    };

    private static ModelAlias ToSdk(Protocol.ModelAlias a) => new(a.ModelId, a.Alias, a.VersionId, ProtocolMapping.ToSdk(a.UpdatedAt));

    private static Dataset ToSdk(Protocol.Dataset d) => new()
    {
        Id = d.Id,
        Namespace = d.Namespace,
        Name = d.Name,
        Description = d.Description,
        Metadata = ProtocolMapping.ToSdk(d.Metadata),
        CreatedAt = ProtocolMapping.ToSdk(d.CreatedAt),
    };

    private static DatasetVersion ToSdk(Protocol.DatasetVersion v) => new()
    {
        Id = v.Id,
        DatasetId = v.DatasetId,
        Digest = v.Digest,
        Uri = v.Uri,
        CreatedAt = ProtocolMapping.ToSdk(v.CreatedAt),
    };

    private static DatasetRole ToSdk(Protocol.DatasetRole role) => role == Protocol.DatasetRole.Evaluation ? DatasetRole.Evaluation : DatasetRole.Training;

    private static Protocol.LineageSpec ToProto(LineageSpec lineage)
    {
        var spec = new Protocol.LineageSpec { ExperimentId = lineage.ExperimentId ?? "", CheckpointId = lineage.CheckpointId ?? "" };
        spec.Datasets.Add(lineage.Datasets.Select(d => new Protocol.DatasetLink
        {
            DatasetVersionId = d.DatasetVersionId,
            Role = d.Role == DatasetRole.Evaluation ? Protocol.DatasetRole.Evaluation : Protocol.DatasetRole.Training,
        }));
        spec.DerivedFrom.Add(lineage.DerivedFrom.Select(d => new Protocol.DerivationLink { VersionId = d.VersionId, Relation = d.Relation }));
        return spec;
    }
}
