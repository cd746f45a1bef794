using System.Text.Json;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Storage;
using static ModelBox.Storage.Relational.RelationalValues;

namespace ModelBox.Storage.Relational;

// MLflow experiments: the MLflow name, number and tags of a namespace.
public sealed partial class RelationalMetadataStore
{
    private const string MlflowExperimentColumns =
        "number AS Number, name AS Name, namespace AS Namespace, artifact_location AS ArtifactLocation, tags AS Tags, "
        + "created_at AS CreatedAt, updated_at AS UpdatedAt, deleted_at AS DeletedAt";

    public Task<CreateResult<MlflowExperimentRecord>> CreateMlflowExperimentAsync(MlflowExperimentRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        return WriteAsync(
            async session =>
            {
                var existing = await session.QueryAsync<MlflowExperimentRow>(
                    $"SELECT {MlflowExperimentColumns} FROM mlflow_experiments WHERE number = @Number OR name = @Name OR namespace = @Namespace"
                    + session.Dialect.ForUpdate,
                    new { record.Number, record.Name, record.Namespace },
                    cancellationToken).ConfigureAwait(false);
                if (existing.Count > 0)
                {
                    return new CreateResult<MlflowExperimentRecord>(existing[0].ToRecord(), Existed: true);
                }

                await session.ExecuteAsync(
                    "INSERT INTO mlflow_experiments (number, name, namespace, artifact_location, tags, created_at, updated_at, deleted_at) "
                    + "VALUES (@Number, @Name, @Namespace, @ArtifactLocation, @Tags, @CreatedAt, @UpdatedAt, @DeletedAt)",
                    MlflowExperimentRow.Parameters(record),
                    cancellationToken).ConfigureAwait(false);
                await AppendMlflowExperimentChangeAsync(session, record, ChangeType.Created, record.CreatedAt, cancellationToken).ConfigureAwait(false);
                return new CreateResult<MlflowExperimentRecord>(record, Existed: false);
            },
            cancellationToken);
    }

    public Task<MlflowExperimentRecord?> GetMlflowExperimentAsync(long number, CancellationToken cancellationToken = default) =>
        ReadMlflowExperimentAsync("number = @Key", number, cancellationToken);

    public Task<MlflowExperimentRecord?> FindMlflowExperimentByNameAsync(string name, CancellationToken cancellationToken = default) =>
        ReadMlflowExperimentAsync("name = @Key", name, cancellationToken);

    public async Task<Page<MlflowExperimentRecord>> ListMlflowExperimentsAsync(PageRequest page, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(page);
        var after = DecodeToken(page, 1);
        var sql = $"SELECT {MlflowExperimentColumns} FROM mlflow_experiments"
            + (after is null ? string.Empty : " WHERE number > @After")
            + " ORDER BY number LIMIT @Take";
        return await ReadAsync(
            async session =>
            {
                var rows = await session.QueryAsync<MlflowExperimentRow>(
                    sql, new { After = after is null ? 0 : ParseKey(after[0]), Take = Take(page) }, cancellationToken).ConfigureAwait(false);
                return ToPage(rows, page, row => row.ToRecord(), row => [Key(row.Number)]);
            },
            cancellationToken).ConfigureAwait(false);
    }

    public Task<MlflowExperimentRecord?> UpdateMlflowExperimentAsync(
        long number, Func<MlflowExperimentRecord, MlflowExperimentRecord> change, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(change);
        return WriteAsync(
            async session =>
            {
                var rows = await session.QueryAsync<MlflowExperimentRow>(
                    $"SELECT {MlflowExperimentColumns} FROM mlflow_experiments WHERE number = @Number" + session.Dialect.ForUpdate,
                    new { Number = number },
                    cancellationToken).ConfigureAwait(false);
                if (rows.Count == 0)
                {
                    return null;
                }

                var current = rows[0].ToRecord();
                var changed = change(current) with { Number = current.Number, Namespace = current.Namespace };
                if (!string.Equals(changed.Name, current.Name, StringComparison.Ordinal))
                {
                    var taken = await session.ScalarAsync<long?>(
                        "SELECT number FROM mlflow_experiments WHERE name = @Name", new { changed.Name }, cancellationToken).ConfigureAwait(false);
                    if (taken is not null)
                    {
                        throw new ModelBoxException(ErrorKind.AlreadyExists, $"an MLflow experiment named '{changed.Name}' exists (id {taken})");
                    }
                }

                await session.ExecuteAsync(
                    "UPDATE mlflow_experiments SET name = @Name, artifact_location = @ArtifactLocation, tags = @Tags, updated_at = @UpdatedAt, "
                    + "deleted_at = @DeletedAt WHERE number = @Number",
                    MlflowExperimentRow.Parameters(changed),
                    cancellationToken).ConfigureAwait(false);
                await AppendMlflowExperimentChangeAsync(session, changed, ChangeType.Updated, changed.UpdatedAt, cancellationToken).ConfigureAwait(false);
                return changed;
            },
            cancellationToken);
    }

    /// <summary>MLflow experiment records (names, tags, lifecycle) reach the change stream of their namespace.</summary>
    private static Task AppendMlflowExperimentChangeAsync(
        DbSession session, MlflowExperimentRecord record, ChangeType change, DateTimeOffset changedAt, CancellationToken cancellationToken) =>
        AppendChangeAsync(
            session, record.Namespace, ChangeObjectKinds.MlflowExperiment, ChangeStateJson.MlflowExperimentId(record.Number), change, changedAt,
            ChangeStateJson.MlflowExperiment(record), cancellationToken);

    private Task<MlflowExperimentRecord?> ReadMlflowExperimentAsync(string where, object key, CancellationToken cancellationToken) =>
        ReadAsync(
            async session =>
            {
                var rows = await session.QueryAsync<MlflowExperimentRow>(
                    $"SELECT {MlflowExperimentColumns} FROM mlflow_experiments WHERE {where}", new { Key = key }, cancellationToken).ConfigureAwait(false);
                return rows.Count == 0 ? null : rows[0].ToRecord();
            },
            cancellationToken);

    private sealed class MlflowExperimentRow
    {
        public long Number { get; set; }
        public string Name { get; set; } = string.Empty;
        public string Namespace { get; set; } = string.Empty;
        public string ArtifactLocation { get; set; } = string.Empty;
        public string Tags { get; set; } = "{}";
        public long CreatedAt { get; set; }
        public long UpdatedAt { get; set; }
        public long? DeletedAt { get; set; }

        public static object Parameters(MlflowExperimentRecord record) => new
        {
            record.Number,
            record.Name,
            record.Namespace,
            record.ArtifactLocation,
            Tags = JsonSerializer.Serialize(new Dictionary<string, string>(record.Tags, StringComparer.Ordinal), RelationalJsonContext.Default.DictionaryStringString),
            CreatedAt = ToMicros(record.CreatedAt),
            UpdatedAt = ToMicros(record.UpdatedAt),
            DeletedAt = ToMicros(record.DeletedAt),
        };

        public MlflowExperimentRecord ToRecord() => new(
            Number,
            Name,
            Namespace,
            ArtifactLocation,
            JsonSerializer.Deserialize(Tags, RelationalJsonContext.Default.DictionaryStringString) ?? new Dictionary<string, string>(StringComparer.Ordinal),
            FromMicros(CreatedAt),
            FromMicros(UpdatedAt),
            FromMicros(DeletedAt));
    }
}
