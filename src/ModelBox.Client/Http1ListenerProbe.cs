using System.Net;

namespace ModelBox.Client;

/// <summary>
/// Tells an HTTP/1.1-only listener from other connection failures when the HTTP/2 connection could not be set up.
/// </summary>
/// <remarks>
/// Kestrel's HTTP/1.1 endpoints (the REST/web port, the metrics port) answer the HTTP/2 preface with GOAWAY
/// HTTP_1_1_REQUIRED, which <see cref="ModelBoxException"/> recognises. But SocketsHttpHandler sometimes handles that
/// GOAWAY before the first request has taken a stream on the new connection, and then reports only "the server did not
/// complete the HTTP/2 handshake", without the error code (about one fresh process in seven on a loaded machine). On
/// exactly that failure — an HTTP/2 request, an <see cref="HttpRequestException"/> with no cause — this handler asks the
/// same address once over HTTP/1.1, and when an HTTP/1.x answer comes back it reports that, so the caller gets the same
/// one-line explanation every time. Every other outcome passes through unchanged; a working server never sees the probe.
/// </remarks>
internal sealed class Http1ListenerProbe(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        try
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException exception) when (
            exception is { InnerException: null, HttpRequestError: HttpRequestError.Unknown } && request.Version.Major == 2 && request.RequestUri is not null)
        {
            if (await AnswersHttp1Async(request, request.RequestUri, cancellationToken).ConfigureAwait(false))
            {
                throw new Http1OnlyListenerException(request.RequestUri.Authority, exception);
            }

            throw;
        }
    }

    private async Task<bool> AnswersHttp1Async(HttpRequestMessage request, Uri uri, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ProbeTimeout);
        using var probe = new HttpRequestMessage(HttpMethod.Get, new UriBuilder(uri) { Path = "/", Query = "" }.Uri)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        // The channel's options (its connection callback finds the address it balances to in them) go with the probe.
        IDictionary<string, object?> options = probe.Options;
        foreach (var (key, value) in request.Options)
        {
            options[key] = value;
        }

        try
        {
            using var response = await base.SendAsync(probe, timeout.Token).ConfigureAwait(false);
            return response.Version.Major == 1;
        }
        catch (Exception probeFailure) when (probeFailure is HttpRequestException or OperationCanceledException or IOException)
        {
            return false;
        }
    }
}

/// <summary>The address answered over HTTP/1.1 only: it is not a gRPC listener.</summary>
internal sealed class Http1OnlyListenerException(string address, Exception innerException)
    : HttpRequestException(HttpRequestError.HttpProtocolError, $"{address} answers HTTP/1.1 only", innerException);
