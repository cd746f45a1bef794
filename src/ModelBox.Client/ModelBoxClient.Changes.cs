using System.Runtime.CompilerServices;
using Grpc.Core;
using ModelBox.Protocol;

namespace ModelBox.Client;

// The change stream.
public sealed partial class ModelBoxClient
{
    private const int MaxReconnectAttempts = 10;

    /// <summary>
    /// Streams every change in a namespace after <paramref name="since"/>: first what is already recorded, then changes as
    /// they commit, without end. When the server ends the stream because this consumer fell behind (ABORTED), or the
    /// connection drops or the server restarts (UNAVAILABLE), the enumeration resumes from the last change it returned,
    /// so it never skips or repeats a change. It gives up (throwing) only after repeated reconnects fail.
    /// </summary>
    /// <param name="namespaceName">The namespace; empty means <c>default</c>.</param>
    /// <param name="since">Deliver changes with a sequence number greater than this; 0 delivers all.</param>
    /// <param name="cancellationToken">Ends the watch.</param>
    public IAsyncEnumerable<Change> WatchNamespaceAsync(string namespaceName, long since = 0, CancellationToken cancellationToken = default) =>
        WatchNamespaceAsync(namespaceName, recursive: false, since, cancellationToken);

    /// <summary>
    /// Streams every change in a namespace and, with <paramref name="recursive"/>, in every namespace below it (with auth
    /// enforced, those the caller may read), resuming like <see cref="WatchNamespaceAsync(string, long, CancellationToken)"/>.
    /// </summary>
    /// <param name="namespaceName">The namespace; empty means <c>default</c>.</param>
    /// <param name="recursive">Also the namespaces below it.</param>
    /// <param name="since">Deliver changes with a sequence number greater than this; 0 delivers all.</param>
    /// <param name="cancellationToken">Ends the watch.</param>
    public async IAsyncEnumerable<Change> WatchNamespaceAsync(
        string namespaceName, bool recursive, long since = 0, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(since);
        var last = since;
        var failures = 0;
        while (true)
        {
            using var call = _store.WatchNamespace(
                new WatchNamespaceRequest { Namespace = namespaceName ?? "", Recursive = recursive, Since = (ulong)last },
                new CallOptions(cancellationToken: cancellationToken));
            while (true)
            {
                var (change, error) = await ReadChangeAsync(call.ResponseStream, cancellationToken).ConfigureAwait(false);
                if (change is null)
                {
                    // Ended: resume. A server that ends streams cleanly (it should not) is retried like a dropped one.
                    if (error?.StatusCode == StatusCode.Aborted)
                    {
                        break;
                    }

                    if (++failures > MaxReconnectAttempts)
                    {
                        throw error is null
                            ? new ModelBoxUnavailableException(Address, $"the ModelBox server at {Address} keeps ending the watch of namespace '{namespaceName}'")
                            : ModelBoxException.FromRpcException(error, Address, _options.Token);
                    }

                    // 100 ms, 200 ms ... capped at 5 s: a restarting server gets time, a live one is back quickly.
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 << Math.Min(failures - 1, 6))), cancellationToken).ConfigureAwait(false);
                    break;
                }

                failures = 0;
                last = change.Sequence;
                yield return change;
            }
        }
    }

    private async Task<(Change? Change, RpcException? Error)> ReadChangeAsync(
        IAsyncStreamReader<WatchNamespaceResponse> stream, CancellationToken cancellationToken)
    {
        try
        {
            return await stream.MoveNext(cancellationToken).ConfigureAwait(false) ? (stream.Current.ToSdk(), null) : (null, null);
        }
        catch (RpcException exception) when (exception.StatusCode is StatusCode.Aborted or StatusCode.Unavailable)
        {
            return (null, exception);
        }
        catch (RpcException exception)
        {
            throw ModelBoxException.FromRpcException(exception, Address, _options.Token);
        }
    }
}
