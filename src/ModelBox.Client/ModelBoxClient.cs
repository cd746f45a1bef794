using System.Runtime.CompilerServices;
using System.Text.Json;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using ModelBox.Protocol;

namespace ModelBox.Client;

/// <summary>
/// An async client of a ModelBox server: experiments, checkpoints, models, model versions and namespaces.
/// Thread-safe; create one per server and reuse it. Failures surface as <see cref="ModelBoxException"/> subclasses.
/// </summary>
public sealed partial class ModelBoxClient : IAsyncDisposable
{
    private readonly GrpcChannel _channel;
    private readonly ModelStore.ModelStoreClient _store;
    private readonly Access.AccessClient _access;
    private readonly ModelBoxClientOptions _options;

    /// <summary>Connects (lazily) to a server.</summary>
    /// <param name="address">
    /// <c>host:port</c> (plaintext HTTP/2), or a URI such as <c>http://host:port</c> or <c>https://host:port</c>.
    /// </param>
    /// <param name="options">Client settings; null uses the defaults.</param>
    public ModelBoxClient(string address, ModelBoxClientOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        _options = options ?? new ModelBoxClientOptions();
        if (_options.PageSize is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.PageSize, "PageSize must be between 1 and 1000.");
        }

        Address = address.Trim();
        var channelOptions = new GrpcChannelOptions
        {
            // Cancellation should look like cancellation to callers, not like a failed call.
            ThrowOperationCanceledOnCancellation = true,
            HttpHandler = _options.HttpHandler ?? new Http1ListenerProbe(new SocketsHttpHandler
            {
                // A download streams a whole file over one HTTP/2 stream. With the default 64 KiB starting window the
                // server waits for a window update after every chunk until the window has grown; start large instead.
                InitialHttp2StreamWindowSize = 8 * 1024 * 1024,
                EnableMultipleHttp2Connections = true,
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                KeepAlivePingDelay = TimeSpan.FromSeconds(60),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            }),
            DisposeHttpClient = _options.HttpHandler is null,
        };
        _channel = GrpcChannel.ForAddress(ToUri(Address), channelOptions);
        var token = string.IsNullOrWhiteSpace(_options.Token) ? null : _options.Token.Trim();
        var invoker = token is null
            ? _channel.CreateCallInvoker()
            : _channel.Intercept(metadata =>
            {
                metadata.Add("authorization", "Bearer " + token);
                return metadata;
            });
        _store = new ModelStore.ModelStoreClient(invoker);
        _access = new Access.AccessClient(invoker);
    }

    /// <summary>The server address as given to the constructor.</summary>
    public string Address { get; }

    // ---- Experiments ----

    /// <summary>Creates an experiment, or returns the existing one with the same namespace and name.</summary>
    /// <param name="name">The name, unique within the namespace.</param>
    /// <param name="owner">Who owns it (usually an email address).</param>
    /// <param name="namespaceName">The namespace; empty means <c>default</c>.</param>
    /// <param name="framework">The training framework.</param>
    /// <param name="task">The task it trains for.</param>
    /// <param name="externalId">An id in another system.</param>
    /// <param name="description">A human description.</param>
    /// <param name="metadata">Initial metadata: any JSON value per key.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored experiment and whether it already existed.</returns>
    public async Task<CreateResult<Experiment>> CreateExperimentAsync(
        string name,
        string owner,
        string namespaceName,
        Framework framework,
        string? task = null,
        string? externalId = null,
        string? description = null,
        IReadOnlyDictionary<string, JsonElement>? metadata = null,
        CancellationToken cancellationToken = default)
    {
        var request = new CreateExperimentRequest
        {
            Name = name ?? "",
            Owner = owner ?? "",
            Namespace = namespaceName ?? "",
            Framework = framework.ToProto(),
            Task = task ?? "",
            ExternalId = externalId ?? "",
            Description = description ?? "",
            Metadata = ProtocolMapping.ToProto(metadata),
        };
        var response = await InvokeAsync(o => _store.CreateExperimentAsync(request, o), cancellationToken).ConfigureAwait(false);
        var experiment = await GetExperimentAsync(response.ExperimentId, cancellationToken).ConfigureAwait(false);
        return new CreateResult<Experiment>(experiment, response.ExperimentExists);
    }

    /// <summary>Returns an experiment by id.</summary>
    /// <param name="id">The experiment id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ModelBoxNotFoundException">No experiment has this id.</exception>
    public async Task<Experiment> GetExperimentAsync(string id, CancellationToken cancellationToken = default)
    {
        var request = new GetExperimentRequest { Id = id ?? "" };
        var response = await InvokeAsync(o => _store.GetExperimentAsync(request, o), cancellationToken).ConfigureAwait(false);
        return Require(response.Experiment, "experiment", id).ToSdk();
    }

    /// <summary>Lists the experiments of a namespace, newest first, fetching pages as the caller enumerates.</summary>
    /// <param name="namespaceName">The namespace; empty means <c>default</c>.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<Experiment> ListExperimentsAsync(string namespaceName, CancellationToken cancellationToken = default) =>
        ListExperimentsAsync(namespaceName, recursive: false, cancellationToken);

    /// <summary>Lists the experiments of a namespace (and, with <paramref name="recursive"/>, of every namespace below it), newest first.</summary>
    /// <param name="namespaceName">The namespace; empty means <c>default</c>.</param>
    /// <param name="recursive">Also the namespaces below it (<c>vision</c> covers <c>vision/detection</c>).</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<Experiment> ListExperimentsAsync(string namespaceName, bool recursive, CancellationToken cancellationToken = default) =>
        PageAsync(
            (token, o) => _store.ListExperimentsAsync(
                new ListExperimentsRequest { Namespace = namespaceName ?? "", Recursive = recursive, PageSize = _options.PageSize, PageToken = token }, o),
            r => r.Experiments.Select(e => e.ToSdk()),
            r => r.NextPageToken,
            cancellationToken);

    /// <summary>Changes an experiment's status, description or external id; null arguments are left alone.</summary>
    /// <param name="id">The experiment id.</param>
    /// <param name="status">The new status; a terminal status sets <see cref="Experiment.EndedAt"/>, running clears it.</param>
    /// <param name="description">The new description.</param>
    /// <param name="externalId">The new external id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The experiment after the update.</returns>
    public async Task<Experiment> UpdateExperimentAsync(
        string id,
        ExperimentStatus? status = null,
        string? description = null,
        string? externalId = null,
        CancellationToken cancellationToken = default)
    {
        var request = new UpdateExperimentRequest { Id = id ?? "" };
        if (status is { } s)
        {
            request.Status = s.ToProto();
        }

        if (description is not null)
        {
            request.Description = description;
        }

        if (externalId is not null)
        {
            request.ExternalId = externalId;
        }

        var response = await InvokeAsync(o => _store.UpdateExperimentAsync(request, o), cancellationToken).ConfigureAwait(false);
        return Require(response.Experiment, "experiment", id).ToSdk();
    }

    /// <summary>Soft-deletes an experiment and its checkpoints.</summary>
    /// <param name="id">The experiment id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>When it was deleted.</returns>
    public async Task<DateTimeOffset> DeleteExperimentAsync(string id, CancellationToken cancellationToken = default)
    {
        var request = new DeleteExperimentRequest { Id = id ?? "" };
        var response = await InvokeAsync(o => _store.DeleteExperimentAsync(request, o), cancellationToken).ConfigureAwait(false);
        return ProtocolMapping.ToSdk(response.DeletedAt);
    }

    /// <summary>Restores a soft-deleted experiment and the checkpoints deleted with it.</summary>
    /// <param name="id">The experiment id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The restored experiment.</returns>
    public async Task<Experiment> RestoreExperimentAsync(string id, CancellationToken cancellationToken = default)
    {
        var request = new RestoreExperimentRequest { Id = id ?? "" };
        var response = await InvokeAsync(o => _store.RestoreExperimentAsync(request, o), cancellationToken).ConfigureAwait(false);
        return Require(response.Experiment, "experiment", id).ToSdk();
    }

    // ---- Checkpoints ----

    /// <summary>Creates a checkpoint of an experiment, or returns the existing one at this epoch.</summary>
    /// <param name="experimentId">The experiment id.</param>
    /// <param name="epoch">The epoch (zero or more).</param>
    /// <param name="metrics">Metric values at this epoch.</param>
    /// <param name="metadata">Metadata: any JSON value per key.</param>
    /// <param name="files">Files stored elsewhere to record with it (to upload bytes, use <see cref="UploadFileAsync(string, string, FileKind, IProgress{long}?, CancellationToken)"/> with the checkpoint id).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored checkpoint and whether it already existed.</returns>
    public async Task<CreateResult<Checkpoint>> CreateCheckpointAsync(
        string experimentId,
        long epoch,
        IReadOnlyDictionary<string, float>? metrics = null,
        IReadOnlyDictionary<string, JsonElement>? metadata = null,
        IEnumerable<TrackedFile>? files = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        var request = new CreateCheckpointRequest
        {
            ExperimentId = experimentId ?? "",
            Epoch = (ulong)epoch,
            Metadata = ProtocolMapping.ToProto(metadata),
        };
        request.Files.Add((files ?? []).Select(f => f.ToProto()));
        if (metrics is not null)
        {
            request.Metrics.Add(metrics.ToDictionary(StringComparer.Ordinal));
        }

        var response = await InvokeAsync(o => _store.CreateCheckpointAsync(request, o), cancellationToken).ConfigureAwait(false);
        var checkpoint = await GetCheckpointAsync(response.CheckpointId, cancellationToken).ConfigureAwait(false);
        return new CreateResult<Checkpoint>(checkpoint, response.Exists);
    }

    /// <summary>Returns a checkpoint by id.</summary>
    /// <param name="id">The checkpoint id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<Checkpoint> GetCheckpointAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        var request = new GetCheckpointRequest { CheckpointId = id };
        var response = await InvokeAsync(o => _store.GetCheckpointAsync(request, o), cancellationToken).ConfigureAwait(false);
        return Require(response.Checkpoint, "checkpoint", id).ToSdk();
    }

    /// <summary>Returns the checkpoint of an experiment at an epoch.</summary>
    /// <param name="experimentId">The experiment id.</param>
    /// <param name="epoch">The epoch.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<Checkpoint> GetCheckpointAsync(string experimentId, long epoch, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        var request = new GetCheckpointRequest { ExperimentId = experimentId ?? "", Epoch = (ulong)epoch };
        var response = await InvokeAsync(o => _store.GetCheckpointAsync(request, o), cancellationToken).ConfigureAwait(false);
        return Require(response.Checkpoint, "checkpoint", $"{experimentId}@{epoch}").ToSdk();
    }

    /// <summary>Lists the checkpoints of an experiment by ascending epoch.</summary>
    /// <param name="experimentId">The experiment id.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<Checkpoint> ListCheckpointsAsync(string experimentId, CancellationToken cancellationToken = default) =>
        PageAsync(
            (token, o) => _store.ListCheckpointsAsync(new ListCheckpointsRequest { ExperimentId = experimentId ?? "", PageSize = _options.PageSize, PageToken = token }, o),
            r => r.Checkpoints.Select(c => c.ToSdk()),
            r => r.NextPageToken,
            cancellationToken);

    // ---- Models ----

    /// <summary>Creates a model, or returns the existing one with the same namespace and name.</summary>
    /// <param name="name">The name, unique within the namespace.</param>
    /// <param name="owner">Who owns it.</param>
    /// <param name="namespaceName">The namespace; empty means <c>default</c>.</param>
    /// <param name="task">The task it solves.</param>
    /// <param name="description">A human description.</param>
    /// <param name="metadata">Metadata: any JSON value per key.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored model and whether it already existed.</returns>
    public async Task<CreateResult<Model>> CreateModelAsync(
        string name,
        string owner,
        string namespaceName,
        string? task = null,
        string? description = null,
        IReadOnlyDictionary<string, JsonElement>? metadata = null,
        CancellationToken cancellationToken = default)
    {
        var request = new CreateModelRequest
        {
            Name = name ?? "",
            Owner = owner ?? "",
            Namespace = namespaceName ?? "",
            Task = task ?? "",
            Description = description ?? "",
            Metadata = ProtocolMapping.ToProto(metadata),
        };
        var response = await InvokeAsync(o => _store.CreateModelAsync(request, o), cancellationToken).ConfigureAwait(false);
        var model = await GetModelAsync(response.Id, cancellationToken).ConfigureAwait(false);
        return new CreateResult<Model>(model, response.Exists);
    }

    /// <summary>Returns a model by id.</summary>
    /// <param name="id">The model id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<Model> GetModelAsync(string id, CancellationToken cancellationToken = default)
    {
        var request = new GetModelRequest { Id = id ?? "" };
        var response = await InvokeAsync(o => _store.GetModelAsync(request, o), cancellationToken).ConfigureAwait(false);
        return Require(response.Model, "model", id).ToSdk();
    }

    /// <summary>Lists the models of a namespace, newest first, fetching pages as the caller enumerates.</summary>
    /// <param name="namespaceName">The namespace; empty means <c>default</c>.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<Model> ListModelsAsync(string namespaceName, CancellationToken cancellationToken = default) =>
        ListModelsAsync(namespaceName, recursive: false, cancellationToken);

    /// <summary>Lists the models of a namespace (and, with <paramref name="recursive"/>, of every namespace below it), newest first.</summary>
    /// <param name="namespaceName">The namespace; empty means <c>default</c>.</param>
    /// <param name="recursive">Also the namespaces below it.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<Model> ListModelsAsync(string namespaceName, bool recursive, CancellationToken cancellationToken = default) =>
        PageAsync(
            (token, o) => _store.ListModelsAsync(
                new ListModelsRequest { Namespace = namespaceName ?? "", Recursive = recursive, PageSize = _options.PageSize, PageToken = token }, o),
            r => r.Models.Select(m => m.ToSdk()),
            r => r.NextPageToken,
            cancellationToken);

    /// <summary>Soft-deletes a model and its versions.</summary>
    /// <param name="id">The model id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>When it was deleted.</returns>
    public async Task<DateTimeOffset> DeleteModelAsync(string id, CancellationToken cancellationToken = default)
    {
        var request = new DeleteModelRequest { Id = id ?? "" };
        var response = await InvokeAsync(o => _store.DeleteModelAsync(request, o), cancellationToken).ConfigureAwait(false);
        return ProtocolMapping.ToSdk(response.DeletedAt);
    }

    /// <summary>Restores a soft-deleted model and the versions deleted with it.</summary>
    /// <param name="id">The model id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The restored model.</returns>
    public async Task<Model> RestoreModelAsync(string id, CancellationToken cancellationToken = default)
    {
        var request = new RestoreModelRequest { Id = id ?? "" };
        var response = await InvokeAsync(o => _store.RestoreModelAsync(request, o), cancellationToken).ConfigureAwait(false);
        return Require(response.Model, "model", id).ToSdk();
    }

    // ---- Model versions ----

    /// <summary>Creates a version of a model, or returns the existing one with the same version label.</summary>
    /// <param name="modelId">The model id.</param>
    /// <param name="version">The version label, unique within the model.</param>
    /// <param name="name">A name.</param>
    /// <param name="description">A human description.</param>
    /// <param name="framework">The framework.</param>
    /// <param name="uniqueTags">Tags unique within the model.</param>
    /// <param name="metadata">Metadata: any JSON value per key.</param>
    /// <param name="lineage">Where it came from (experiment, checkpoint, datasets, parent versions), recorded with it in one step.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored version and whether it already existed.</returns>
    public async Task<CreateResult<ModelVersion>> CreateModelVersionAsync(
        string modelId,
        string version,
        string? name = null,
        string? description = null,
        Framework framework = Framework.Unknown,
        IEnumerable<string>? uniqueTags = null,
        IReadOnlyDictionary<string, JsonElement>? metadata = null,
        LineageSpec? lineage = null,
        CancellationToken cancellationToken = default)
    {
        var request = new CreateModelVersionRequest
        {
            Model = modelId ?? "",
            Version = version ?? "",
            Name = name ?? "",
            Description = description ?? "",
            Framework = framework.ToProto(),
            Metadata = ProtocolMapping.ToProto(metadata),
            Lineage = lineage is null ? null : ToProto(lineage),
            Actor = _options.Actor ?? "",
        };
        if (uniqueTags is not null)
        {
            request.UniqueTags.Add(uniqueTags);
        }

        var response = await InvokeAsync(o => _store.CreateModelVersionAsync(request, o), cancellationToken).ConfigureAwait(false);
        var modelVersion = await GetModelVersionAsync(response.ModelVersion, cancellationToken).ConfigureAwait(false);
        return new CreateResult<ModelVersion>(modelVersion, response.Exists);
    }

    /// <summary>Returns a model version by id.</summary>
    /// <param name="id">The model version id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<ModelVersion> GetModelVersionAsync(string id, CancellationToken cancellationToken = default)
    {
        var request = new GetModelVersionRequest { Id = id ?? "" };
        var response = await InvokeAsync(o => _store.GetModelVersionAsync(request, o), cancellationToken).ConfigureAwait(false);
        return Require(response.ModelVersion, "model version", id).ToSdk();
    }

    /// <summary>Lists the versions of a model, oldest first, fetching pages as the caller enumerates.</summary>
    /// <param name="modelId">The model id.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<ModelVersion> ListModelVersionsAsync(string modelId, CancellationToken cancellationToken = default) =>
        PageAsync(
            (token, o) => _store.ListModelVersionsAsync(new ListModelVersionsRequest { Model = modelId ?? "", PageSize = _options.PageSize, PageToken = token }, o),
            r => r.ModelVersions.Select(v => v.ToSdk()),
            r => r.NextPageToken,
            cancellationToken);

    /// <summary>Soft-deletes a model version.</summary>
    /// <param name="id">The model version id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>When it was deleted.</returns>
    public async Task<DateTimeOffset> DeleteModelVersionAsync(string id, CancellationToken cancellationToken = default)
    {
        var request = new DeleteModelVersionRequest { Id = id ?? "" };
        var response = await InvokeAsync(o => _store.DeleteModelVersionAsync(request, o), cancellationToken).ConfigureAwait(false);
        return ProtocolMapping.ToSdk(response.DeletedAt);
    }

    /// <summary>Restores a soft-deleted model version.</summary>
    /// <param name="id">The model version id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The restored version.</returns>
    public async Task<ModelVersion> RestoreModelVersionAsync(string id, CancellationToken cancellationToken = default)
    {
        var request = new RestoreModelVersionRequest { Id = id ?? "" };
        var response = await InvokeAsync(o => _store.RestoreModelVersionAsync(request, o), cancellationToken).ConfigureAwait(false);
        return Require(response.ModelVersion, "model version", id).ToSdk();
    }

    // ---- Namespaces ----

    /// <summary>Lists the namespaces by name, fetching pages as the caller enumerates.</summary>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    public IAsyncEnumerable<NamespaceInfo> ListNamespacesAsync(CancellationToken cancellationToken = default) =>
        PageAsync(
            (token, o) => _store.ListNamespacesAsync(new ListNamespacesRequest { PageSize = _options.PageSize, PageToken = token }, o),
            r => r.Namespaces.Select(n => n.ToSdk()),
            r => r.NextPageToken,
            cancellationToken);

    /// <summary>Closes the channel to the server.</summary>
    public ValueTask DisposeAsync()
    {
        _channel.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<TResponse> InvokeAsync<TResponse>(Func<CallOptions, AsyncUnaryCall<TResponse>> call, CancellationToken cancellationToken)
    {
        DateTime? deadline = _options.Timeout is { } timeout ? DateTime.UtcNow.Add(timeout) : null;
        try
        {
            return await call(new CallOptions(deadline: deadline, cancellationToken: cancellationToken)).ConfigureAwait(false);
        }
        catch (RpcException exception)
        {
            throw ModelBoxException.FromRpcException(exception, Address, _options.Token);
        }
    }

    private async IAsyncEnumerable<TItem> PageAsync<TResponse, TItem>(
        Func<string, CallOptions, AsyncUnaryCall<TResponse>> listPage,
        Func<TResponse, IEnumerable<TItem>> items,
        Func<TResponse, string> nextPageToken,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var token = "";
        do
        {
            var page = await InvokeAsync(o => listPage(token, o), cancellationToken).ConfigureAwait(false);
            foreach (var item in items(page))
            {
                yield return item;
            }

            token = nextPageToken(page);
        }
        while (token.Length > 0);
    }

    private T Require<T>(T? value, string kind, string? id)
        where T : class =>
        value ?? throw new ModelBoxException(StatusCode.Internal, $"the ModelBox server at {Address} answered without the {kind} '{id}'");

    private static Uri ToUri(string address)
    {
        // A bare host:port means plaintext HTTP/2, like the original SDKs' insecure channels.
        var withScheme = address.Contains("://", StringComparison.Ordinal) ? address : "http://" + address;
        if (!Uri.TryCreate(withScheme, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"'{address}' is not a server address; expected host:port or http(s)://host:port.", nameof(address));
        }

        return uri;
    }
}
