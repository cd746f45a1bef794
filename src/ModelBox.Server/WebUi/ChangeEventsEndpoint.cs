using System.Globalization;
using System.Text;
using System.Text.Json;
using ModelBox.Domain;
using ModelBox.Domain.Changes;
using ModelBox.Domain.Operations;
using ModelBox.Protocol;
using ModelBox.Server.Security;

namespace ModelBox.Server.WebUi;

/// <summary>
/// <c>GET /api/v1/namespaces/{namespace}/change-events</c>: the change stream of a namespace as server-sent events, what
/// the WatchNamespace RPC streams, for browsers (EventSource). Each change is one event whose id is its sequence number,
/// so a browser that reconnects sends <c>Last-Event-ID</c> and resumes after the last change it received, with no gap
/// or duplicate (<c>?since=N</c> starts after N; without either, the stream starts at the current end of the log).
/// Memory is the change feed's bounded watcher buffer: every event is flushed before the next is taken, so a browser
/// that stops reading makes its watcher fall behind, which ends the response; the browser's reconnect resumes it.
/// <c>?recursive=true</c> also streams the namespaces below it. With auth enforced the caller is checked like a
/// WatchNamespace call (<see cref="ChangeStreamAccess"/>): it sees only changes it may read, and a revoked token ends the
/// stream with an <c>error</c> event (checked at each change and each keep-alive).
/// </summary>
internal static class ChangeEventsEndpoint
{
    /// <summary>A comment line this often keeps idle connections from being closed by proxies.</summary>
    private static readonly TimeSpan s_keepAlive = TimeSpan.FromSeconds(15);

    private static readonly byte[] s_keepAliveLine = ": keep-alive\n\n"u8.ToArray();

    private static readonly string s_watchMethod = $"/{ModelStore.Descriptor.FullName}/WatchNamespace";

    public static async Task StreamAsync(HttpContext context, string @namespace, ChangeStream changes, AccessGate gate, ILoggerFactory loggers)
    {
        var cancellationToken = context.RequestAborted;
        IAsyncEnumerable<ChangeRecord> stream;
        CallerSession? session;
        ulong since;
        try
        {
            var recursive = Recursive(context.Request);
            session = await gate.AuthorizeLikeAsync(context, s_watchMethod, new WatchNamespaceRequest { Namespace = @namespace, Recursive = recursive });
            if (session is not null)
            {
                ChangeStreamAccess.RequireSomethingReadable(session.Current, NamespaceScope.From(@namespace, recursive));
            }

            since = ResumeAfter(context.Request) ?? (ulong)await changes.LastSequenceAsync(cancellationToken);
            stream = changes.WatchAsync(@namespace, recursive, since, cancellationToken).ReadableBy(session, cancellationToken);
        }
        catch (ModelBoxException e)
        {
            await HttpErrors.WriteAsync(context, e);
            return;
        }

        var response = context.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        // A browser waits `retry` ms before reconnecting after the stream ends (a feed that fell behind, a restart). The
        // `ready` event says the watch is in place and carries its starting point as the id, so a page can read its data
        // once more (nothing committed after this point can be missed) and a reconnect resumes from here at the latest.
        await response.WriteAsync($"retry: 1000\nid: {since.ToString(CultureInfo.InvariantCulture)}\nevent: ready\ndata: {{}}\n\n", cancellationToken);
        await response.Body.FlushAsync(cancellationToken);

        var logger = loggers.CreateLogger(typeof(ChangeEventsEndpoint));
        var changesEnumerator = stream.GetAsyncEnumerator(cancellationToken);
        Task<bool>? next = null;
        try
        {
            next = changesEnumerator.MoveNextAsync().AsTask();
            Task? keepAlive = null;
            while (true)
            {
                keepAlive ??= Task.Delay(s_keepAlive, cancellationToken);
                if (await Task.WhenAny(next, keepAlive) != next)
                {
                    keepAlive = null;
                    if (session is not null)
                    {
                        // A quiet stream still ends when its token is revoked.
                        await session.RefreshAsync(cancellationToken);
                    }

                    await response.Body.WriteAsync(s_keepAliveLine, cancellationToken);
                    await response.Body.FlushAsync(cancellationToken);
                    continue;
                }

                if (!await next)
                {
                    break;
                }

                await response.Body.WriteAsync(Format(changesEnumerator.Current), cancellationToken);
                await response.Body.FlushAsync(cancellationToken);
                next = changesEnumerator.MoveNextAsync().AsTask();
            }
        }
        catch (ModelBoxException e) when (e.Kind is ErrorKind.Unauthenticated or ErrorKind.PermissionDenied or ErrorKind.ResourceExhausted)
        {
            // The caller's token was revoked (or its grants withdrawn) mid-stream: say so and end; a reconnect is refused.
            WebUiLog.ChangeEventsEnded(logger, @namespace, e.Message);
            await response.Body.WriteAsync(ErrorEvent(e), CancellationToken.None);
            await response.Body.FlushAsync(CancellationToken.None);
        }
        catch (ModelBoxException e) when (e.Kind is ErrorKind.Aborted or ErrorKind.Unavailable)
        {
            // The watcher fell behind, or the server is stopping: the browser reconnects with Last-Event-ID.
            WebUiLog.ChangeEventsEnded(logger, @namespace, e.Message);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            WebUiLog.ChangeEventsEnded(logger, @namespace, "the client went away");
        }
        finally
        {
            // An async iterator cannot be disposed while a MoveNextAsync is pending: let the pending one end first (it
            // observes the same cancellation, or has already failed).
            if (next is not null)
            {
                await ((Task)next).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            await changesEnumerator.DisposeAsync();
        }
    }

    /// <summary>
    /// The sequence to resume after: the browser's Last-Event-ID, else <c>?since=N</c>; null (from now on) without
    /// either or with <c>?since=now</c>.
    /// </summary>
    private static ulong? ResumeAfter(HttpRequest request)
    {
        var lastEventId = request.Headers["Last-Event-ID"].ToString();
        var given = lastEventId.Length > 0 ? lastEventId : request.Query["since"].ToString();
        if (given.Length == 0 || given == "now")
        {
            return null;
        }

        return ulong.TryParse(given, NumberStyles.None, CultureInfo.InvariantCulture, out var since)
            ? since
            : throw ModelBoxException.InvalidArgument($"since (or Last-Event-ID) must be a change sequence number, not '{given}'");
    }

    /// <summary><c>?recursive=true</c>: also the namespaces below.</summary>
    private static bool Recursive(HttpRequest request)
    {
        var given = request.Query["recursive"].ToString();
        return given.Length == 0
            ? false
            : bool.TryParse(given, out var recursive)
                ? recursive
                : throw ModelBoxException.InvalidArgument($"recursive must be true or false, not '{given}'");
    }

    /// <summary>An <c>error</c> event in the REST API's error shape (<c>{"code": gRPC status, "message": ...}</c>).</summary>
    private static byte[] ErrorEvent(ModelBoxException error)
    {
        using var buffer = new MemoryStream();
        buffer.Write("event: error\ndata: "u8);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("code", (int)Services.ErrorMappingInterceptor.ToStatusCode(error.Kind));
            json.WriteString("message", error.Message);
            json.WriteEndObject();
        }

        buffer.Write("\n\n"u8);
        return buffer.ToArray();
    }

    /// <summary>One event: <c>id</c> the sequence, <c>data</c> one line of JSON shaped as WatchNamespaceResponse in REST.</summary>
    private static byte[] Format(ChangeRecord change)
    {
        using var buffer = new MemoryStream();
        buffer.Write(Encoding.UTF8.GetBytes($"id: {change.Sequence.ToString(CultureInfo.InvariantCulture)}\nevent: change\ndata: "));
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("sequence", change.Sequence.ToString(CultureInfo.InvariantCulture));
            json.WriteString("event", change.Change switch
            {
                ChangeType.Created => "OBJECT_CREATED",
                ChangeType.Updated => "OBJECT_UPDATED",
                ChangeType.Deleted => "OBJECT_DELETED",
                _ => "CHANGE_EVENT_UNDEFINED",
            });
            json.WriteString("objectKind", change.ObjectKind);
            json.WriteString("objectId", change.ObjectId);
            json.WriteString("changedAt", change.ChangedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
            json.WritePropertyName("payload");
            // An event's data must be one line: the stored state is compact JSON; anything else is re-written compactly.
            if (change.StateJson.Contains('\n', StringComparison.Ordinal) || change.StateJson.Contains('\r', StringComparison.Ordinal))
            {
                using var state = JsonDocument.Parse(change.StateJson);
                state.WriteTo(json);
            }
            else
            {
                json.WriteRawValue(change.StateJson);
            }

            json.WriteEndObject();
        }

        buffer.Write("\n\n"u8);
        return buffer.ToArray();
    }
}
