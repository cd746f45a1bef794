using ModelBox.Client;

namespace ModelBox.Examples.InferenceService;

/// <summary>A loaded model: the version it came from and its files on local disk.</summary>
public sealed record LoadedModel(ModelVersion Version, IReadOnlyList<PulledFile> Files);

/// <summary>
/// Keeps the model an alias points at loaded: pulls it at start-up, then watches the namespace's change stream and pulls
/// and swaps to the new version whenever the alias moves. Requests read <see cref="Current"/>, which changes atomically.
/// </summary>
public sealed class AliasedModelHost : IAsyncDisposable
{
    private readonly ModelBoxClient _client;
    private readonly ModelCache _cache;
    private readonly string _namespace;
    private readonly string _model;
    private readonly string _alias;
    private readonly CancellationTokenSource _stop = new();
    private Task? _watch;
    private LoadedModel? _current;

    /// <param name="client">The SDK client.</param>
    /// <param name="reference"><c>namespace/model@alias</c>.</param>
    /// <param name="cacheDirectory">Where model files are cached.</param>
    public AliasedModelHost(ModelBoxClient client, string reference, string cacheDirectory)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var slash = reference.IndexOf('/', StringComparison.Ordinal);
        var at = reference.LastIndexOf('@');
        if (slash <= 0 || at <= slash + 1 || at == reference.Length - 1)
        {
            throw new ArgumentException("the reference must be NAMESPACE/MODEL@ALIAS", nameof(reference));
        }

        _client = client;
        _cache = new ModelCache(client, cacheDirectory);
        _namespace = reference[..slash];
        _model = reference[(slash + 1)..at];
        _alias = reference[(at + 1)..];
    }

    /// <summary>Raised after a new version is loaded (also for the first load).</summary>
    public event Action<LoadedModel>? Swapped;

    /// <summary>The model in use.</summary>
    public LoadedModel Current => Volatile.Read(ref _current) ?? throw new InvalidOperationException("call StartAsync first");

    /// <summary>Loads the model the alias points at and starts following the alias.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await ReloadAsync(cancellationToken);
        _watch = FollowAsync(_stop.Token);
    }

    /// <summary>Answers a request with the loaded model: here, the text of its first file (a stand-in for inference).</summary>
    public async Task<string> PredictAsync(string input, CancellationToken cancellationToken = default)
    {
        var model = Current;
        var weights = await File.ReadAllTextAsync(model.Files[0].LocalPath, cancellationToken);
        return $"{weights.Trim()}({input}) by {model.Version.Version}";
    }

    private async Task FollowAsync(CancellationToken cancellationToken)
    {
        try
        {
            // From the beginning of the namespace's history: every alias record re-reads where the alias points now,
            // so replayed history never loads an old version, and a move between the first load and this watch is not missed.
            await foreach (var change in _client.WatchNamespaceAsync(_namespace, 0, cancellationToken))
            {
                if (change.ObjectKind == "alias"
                    && change.Payload.TryGetProperty("alias", out var alias) && alias.GetString() == _alias
                    && change.ObjectId == Current.Version.ModelId)
                {
                    await ReloadAsync(cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task ReloadAsync(CancellationToken cancellationToken)
    {
        ModelVersion version;
        try
        {
            version = await _client.ResolveModelVersionAsync($"{_namespace}/{_model}@{_alias}", cancellationToken);
        }
        catch (ModelBoxNotFoundException) when (_current is not null)
        {
            // The alias was deleted: keep serving the model in use.
            return;
        }

        if (_current is not null && _current.Version.Id == version.Id)
        {
            return;
        }

        var pulled = await _cache.PullAsync(version, targetDirectory: null, cancellationToken);
        var loaded = new LoadedModel(pulled.Version, pulled.Files);
        Volatile.Write(ref _current, loaded);
        Swapped?.Invoke(loaded);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_watch is not null)
        {
            await _watch;
        }

        _stop.Dispose();
    }
}
