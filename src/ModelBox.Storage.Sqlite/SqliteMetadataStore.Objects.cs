using ModelBox.Domain;

namespace ModelBox.Storage.Sqlite;

public sealed partial class SqliteMetadataStore
{
    public Task<ObjectRef?> FindObjectAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        // The same lookup the writes run inside their transactions (see LocateAsync).
        return ReadAsync((connection, transaction) => LocateAsync(connection, transaction, id, cancellationToken), cancellationToken);
    }
}
