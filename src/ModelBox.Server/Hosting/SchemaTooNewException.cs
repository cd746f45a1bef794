namespace ModelBox.Server.Hosting;

/// <summary>The database was migrated by a newer ModelBox than this one; the message names the version found.</summary>
public sealed class SchemaTooNewException(string message) : Exception(message);
