using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using ModelBox.Domain.Storage;

namespace ModelBox.Domain.Operations;

/// <summary>
/// MLflow experiments over ModelBox namespaces (docs/mlflow.md): each MLflow experiment is one namespace, its number
/// derived from the namespace name (so every replica agrees without a counter) and its name free to change. Namespaces
/// made through ModelBox's own API become MLflow experiments named like the namespace the first time MLflow asks.
/// </summary>
public sealed class MlflowExperimentCatalog(IMlflowExperimentStore store, IMetadataStore objects, TimeProvider time)
{
    /// <summary>MLflow's default experiment, id 0, named "Default": the namespace ModelBox calls <c>default</c>.</summary>
    public const long DefaultNumber = 0;

    public const string DefaultName = "Default";

    /// <summary>The longest experiment name (MLflow's own limit is the same order).</summary>
    public const int MaxNameLength = 500;

    /// <summary>The most experiment tags; each key and value is limited as run tags are.</summary>
    public const int MaxTags = 1000;

    /// <summary>The most namespaces adopted in one pass; a deployment with more still lists them, page by page, over several calls.</summary>
    private const int AdoptionPageSize = 1000;

    /// <summary>The number of a namespace's experiment: 0 for <c>default</c>, else 1 .. 2^53 - 1 from a hash of the name (safe as a JavaScript number).</summary>
    public static long NumberOf(string @namespace)
    {
        if (string.Equals(@namespace, Validation.DefaultNamespace, StringComparison.Ordinal))
        {
            return DefaultNumber;
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes("mlflow-experiment\u001f" + @namespace));
        var number = (long)(BinaryPrimitives.ReadUInt64BigEndian(hash) & ((1UL << 53) - 1));
        return number == 0 ? 1 : number;
    }

    /// <summary>
    /// The namespace of a new MLflow experiment: the name itself when it is a valid namespace, else the name with every
    /// other character made '-' and a hash of the full name appended (two names never share a namespace).
    /// </summary>
    public static string NamespaceFor(string name)
    {
        if (string.Equals(name, DefaultName, StringComparison.Ordinal))
        {
            return Validation.DefaultNamespace;
        }

        var valid = name.Length is > 0 and <= 200 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            && !string.Equals(name, Validation.DefaultNamespace, StringComparison.Ordinal);
        if (valid)
        {
            return name;
        }

        var cleaned = new StringBuilder(Math.Min(name.Length, 200));
        foreach (var c in name.Length > 200 ? name[..200] : name)
        {
            cleaned.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' ? c : '-');
        }

        var suffix = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)).AsSpan(0, 4));
        return $"{cleaned.ToString().Trim('-', '.')}-{suffix}".TrimStart('-');
    }

    public async Task<CreateResult<MlflowExperimentRecord>> CreateAsync(
        string? name, string? artifactLocation, IReadOnlyDictionary<string, string>? tags, CancellationToken cancellationToken = default)
    {
        var validName = Name(name);
        var ns = NamespaceFor(validName);
        var number = NumberOf(ns);
        var now = Clock.Now(time);
        var record = new MlflowExperimentRecord(
            number,
            validName,
            ns,
            string.IsNullOrEmpty(artifactLocation) ? DefaultArtifactLocation(number) : Validation.ShortText(artifactLocation, "artifact location"),
            Tags(tags),
            now,
            now,
            null);
        var result = await store.CreateMlflowExperimentAsync(record, cancellationToken).ConfigureAwait(false);
        if (result.Existed && !string.Equals(result.Value.Name, validName, StringComparison.Ordinal))
        {
            // The namespace or number belongs to an experiment of another name (renamed since): not this experiment.
            throw new ModelBoxException(
                ErrorKind.AlreadyExists, $"namespace '{ns}' already belongs to the MLflow experiment '{result.Value.Name}' (id {result.Value.Number})");
        }

        return result;
    }

    /// <summary>The experiment with this number, deleted or not; a namespace without a record yet is adopted first.</summary>
    public async Task<MlflowExperimentRecord> GetAsync(long number, CancellationToken cancellationToken = default)
    {
        var record = await store.GetMlflowExperimentAsync(number, cancellationToken).ConfigureAwait(false);
        if (record is null)
        {
            await AdoptNamespacesAsync(cancellationToken).ConfigureAwait(false);
            record = await store.GetMlflowExperimentAsync(number, cancellationToken).ConfigureAwait(false);
        }

        return record ?? throw new ModelBoxException(ErrorKind.NotFound, $"no experiment with id {number}");
    }

    /// <summary>The experiment of a namespace (a run's experiment), adopting the namespace if needed.</summary>
    public Task<MlflowExperimentRecord> OfNamespaceAsync(string @namespace, CancellationToken cancellationToken = default) =>
        GetAsync(NumberOf(@namespace), cancellationToken);

    public async Task<MlflowExperimentRecord> GetByNameAsync(string? name, CancellationToken cancellationToken = default)
    {
        var validName = Name(name);
        var record = await store.FindMlflowExperimentByNameAsync(validName, cancellationToken).ConfigureAwait(false);
        if (record is null)
        {
            await AdoptNamespacesAsync(cancellationToken).ConfigureAwait(false);
            record = await store.FindMlflowExperimentByNameAsync(validName, cancellationToken).ConfigureAwait(false);
        }

        return record ?? throw new ModelBoxException(ErrorKind.NotFound, $"no experiment named '{validName}'");
    }

    /// <summary>Every experiment (namespaces adopted first), page by page in number order.</summary>
    public async Task<Page<MlflowExperimentRecord>> ListAsync(PageRequest page, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(page.Token))
        {
            await AdoptNamespacesAsync(cancellationToken).ConfigureAwait(false);
        }

        return await store.ListMlflowExperimentsAsync(page, cancellationToken).ConfigureAwait(false);
    }

    public async Task<MlflowExperimentRecord> RenameAsync(long number, string? newName, CancellationToken cancellationToken = default)
    {
        var validName = Name(newName, "new name");
        return await UpdateAsync(number, requireLive: true, r => r with { Name = validName }, cancellationToken).ConfigureAwait(false);
    }

    public Task<MlflowExperimentRecord> SetTagAsync(long number, string key, string value, CancellationToken cancellationToken = default) =>
        UpdateAsync(
            number,
            requireLive: true,
            r =>
            {
                var tags = new Dictionary<string, string>(r.Tags, StringComparer.Ordinal) { [key] = value };
                return tags.Count > MaxTags
                    ? throw ModelBoxException.InvalidArgument($"experiment {number} would have {tags.Count} tags; the limit is {MaxTags}")
                    : r with { Tags = tags };
            },
            cancellationToken);

    public Task<MlflowExperimentRecord> DeleteTagAsync(long number, string key, CancellationToken cancellationToken = default) =>
        UpdateAsync(
            number,
            requireLive: true,
            r => r.Tags.ContainsKey(key)
                ? r with { Tags = r.Tags.Where(t => !string.Equals(t.Key, key, StringComparison.Ordinal)).ToDictionary(StringComparer.Ordinal) }
                : throw new ModelBoxException(ErrorKind.NotFound, $"experiment {number} has no tag '{key}'"),
            cancellationToken);

    /// <summary>Marks the experiment deleted (its runs stay: MLflow keeps them and restores them with it).</summary>
    public Task<MlflowExperimentRecord> DeleteAsync(long number, CancellationToken cancellationToken = default)
    {
        if (number == DefaultNumber)
        {
            throw ModelBoxException.InvalidArgument("the default experiment (id 0) cannot be deleted");
        }

        var now = Clock.Now(time);
        return UpdateAsync(number, requireLive: false, r => r with { DeletedAt = r.DeletedAt ?? now }, cancellationToken);
    }

    public Task<MlflowExperimentRecord> RestoreAsync(long number, CancellationToken cancellationToken = default) =>
        UpdateAsync(number, requireLive: false, r => r with { DeletedAt = null }, cancellationToken);

    /// <summary>Where MLflow clients are told to put a new experiment's artifacts: the server's proxied artifact API.</summary>
    public static string DefaultArtifactLocation(long number) => $"mlflow-artifacts:/{number}";

    private async Task<MlflowExperimentRecord> UpdateAsync(
        long number, bool requireLive, Func<MlflowExperimentRecord, MlflowExperimentRecord> change, CancellationToken cancellationToken)
    {
        await GetAsync(number, cancellationToken).ConfigureAwait(false);
        var now = Clock.Now(time);
        return await store.UpdateMlflowExperimentAsync(
                number,
                r => requireLive && r.DeletedAt is not null
                    ? throw ModelBoxException.FailedPrecondition($"experiment {number} is deleted; restore it first")
                    : change(r) with { UpdatedAt = now },
                cancellationToken).ConfigureAwait(false)
            ?? throw new ModelBoxException(ErrorKind.NotFound, $"no experiment with id {number}");
    }

    /// <summary>Gives every namespace (and the default one) a record, named like the namespace ("Default" for <c>default</c>).</summary>
    private async Task AdoptNamespacesAsync(CancellationToken cancellationToken)
    {
        var now = Clock.Now(time);
        await AdoptAsync(Validation.DefaultNamespace, now, cancellationToken).ConfigureAwait(false);
        string? token = null;
        do
        {
            var page = await objects.ListNamespacesAsync(new PageRequest(AdoptionPageSize, token), cancellationToken).ConfigureAwait(false);
            foreach (var ns in page.Items)
            {
                await AdoptAsync(ns.Name, ns.CreatedAt, cancellationToken).ConfigureAwait(false);
            }

            token = page.NextPageToken;
        }
        while (token is not null);
    }

    private async Task AdoptAsync(string @namespace, DateTimeOffset createdAt, CancellationToken cancellationToken)
    {
        var number = NumberOf(@namespace);
        if (await store.GetMlflowExperimentAsync(number, cancellationToken).ConfigureAwait(false) is not null)
        {
            return;
        }

        var name = number == DefaultNumber ? DefaultName : @namespace;
        // A namespace whose name an MLflow experiment already has (created through MLflow with another namespace) keeps the
        // namespace as its name only if free; otherwise "<namespace> (namespace)".
        if (await store.FindMlflowExperimentByNameAsync(name, cancellationToken).ConfigureAwait(false) is not null)
        {
            name = $"{@namespace} (namespace)";
        }

        await store.CreateMlflowExperimentAsync(
            new MlflowExperimentRecord(number, name, @namespace, DefaultArtifactLocation(number), new Dictionary<string, string>(), createdAt, createdAt, null),
            cancellationToken).ConfigureAwait(false);
    }

    private static string Name(string? name, string field = "name")
    {
        InputName input = field;
        if (string.IsNullOrWhiteSpace(name))
        {
            throw ModelBoxException.InvalidArgument($"{input} is required");
        }

        if (name.Length > MaxNameLength)
        {
            throw ModelBoxException.InvalidArgument($"{input} is {name.Length} characters long; the limit is {MaxNameLength}");
        }

        if (name.Any(char.IsControl))
        {
            throw ModelBoxException.InvalidArgument($"{input} must not contain control characters");
        }

        return name;
    }

    private static Dictionary<string, string> Tags(IReadOnlyDictionary<string, string>? tags)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in tags ?? new Dictionary<string, string>())
        {
            result[key] = value;
        }

        return result.Count > MaxTags ? throw ModelBoxException.InvalidArgument($"tags has {result.Count} entries; the limit is {MaxTags}") : result;
    }
}
