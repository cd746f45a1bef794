namespace ModelBox.Server.Configuration;

/// <summary>A configuration file or variable that cannot be used; the message names the key.</summary>
public sealed class ConfigurationException(string message, Exception? innerException = null) : Exception(message, innerException);
