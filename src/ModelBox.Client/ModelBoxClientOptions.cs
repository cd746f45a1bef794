namespace ModelBox.Client;

/// <summary>Settings of a <see cref="ModelBoxClient"/>.</summary>
public sealed record ModelBoxClientOptions
{
    /// <summary>The default page size of list calls.</summary>
    public const int DefaultPageSize = 200;

    /// <summary>How many objects a list call fetches per round trip (1 to 1000); lists page transparently.</summary>
    public int PageSize { get; init; } = DefaultPageSize;

    /// <summary>The deadline of each call; null waits as long as the cancellation token allows.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>
    /// The HTTP handler of the channel, for proxies, custom certificates or in-memory test servers;
    /// null uses a default <see cref="SocketsHttpHandler"/>. The client does not dispose it.
    /// </summary>
    public HttpMessageHandler? HttpHandler { get; init; }

    /// <summary>
    /// Who this client acts for, recorded in the audit events of label, alias, tag and lineage changes; null is "anonymous".
    /// A server with access control enforced records the token's principal instead.
    /// </summary>
    public string? Actor { get; init; }

    /// <summary>
    /// The bearer token sent with every call: a ModelBox API token (<c>mbx_...</c>) or a single sign-on JWT; null sends
    /// none (a server with access control enforced then allows only what is public).
    /// </summary>
    public string? Token { get; init; }
}
