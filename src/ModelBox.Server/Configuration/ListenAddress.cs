using System.Globalization;
using System.Net;

namespace ModelBox.Server.Configuration;

/// <summary>A parsed <c>host:port</c> listen address. An empty host means every interface.</summary>
public sealed record ListenAddress(IPAddress Address, int Port)
{
    public static ListenAddress Parse(string value, string key)
    {
        ArgumentNullException.ThrowIfNull(value);
        var colon = value.LastIndexOf(':');
        if (colon < 0)
        {
            throw new ConfigurationException($"{key}: '{value}' is not a host:port address (for example 0.0.0.0:8085)");
        }

        var host = value[..colon].Trim('[', ']');
        if (!int.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            throw new ConfigurationException($"{key}: '{value}' has no valid port (0-65535)");
        }

        IPAddress address;
        if (host.Length == 0 || host == "*")
        {
            address = IPAddress.Any;
        }
        else if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            address = IPAddress.Loopback;
        }
        else if (!IPAddress.TryParse(host, out address!))
        {
            throw new ConfigurationException($"{key}: '{host}' is not an IP address (use 0.0.0.0, 127.0.0.1, [::] or localhost)");
        }

        return new ListenAddress(address, port);
    }
}
