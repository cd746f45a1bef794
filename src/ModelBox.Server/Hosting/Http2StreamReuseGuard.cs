using System.Reflection;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using ModelBox.Domain.Telemetry;

namespace ModelBox.Server.Hosting;

/// <summary>
/// Works around a race in Kestrel's HTTP/2 output (ASP.NET Core 10.0.12, reported upstream as dotnet/aspnetcore#53736)
/// that leaves a call with no answer at all: no headers, no data, no status, until the client's deadline.
/// <para>
/// How it happens. Each HTTP/2 stream has an output producer that a connection-wide loop writes out when the producer is
/// "scheduled" (an <c>_isScheduled</c> flag, set when it is queued and cleared when the loop takes it). When a response's
/// last bytes wait for the client's stream window, the client's WINDOW_UPDATE schedules the producer from the connection's
/// read loop in two steps (window updated under a lock, then scheduled after the lock is released). If, between those
/// steps, the response's trailers have scheduled the producer and the write loop has taken it and is writing the end of
/// the response, the window update queues the producer a second time. The write loop then finds that entry with the
/// response complete and drops it without clearing the flag. Kestrel pools finished streams and reuses them (with their
/// producer) for the next request on the connection within 5 s, and its reset does not clear the flag: every write of the
/// next response sees "already scheduled" and queues nothing, so that call hangs. The window between the two steps is a
/// few instructions, so it takes a loaded machine (a preempted read loop), responses that end against the stream window
/// (downloads on a fresh connection, before the client's dynamic window has grown) and many calls: one stall in about
/// 100,000 to 300,000 downloads in stress runs here, and now and then one of the crash suite's verification downloads
/// after a restart in CI.
/// </para>
/// <para>
/// The guard runs first for every HTTP/2 request. At that point nothing can have scheduled the new stream's producer, so
/// a producer that says it is scheduled while it has no bytes, no state change and no end pending carries the flag of the
/// stream's previous use: the guard clears it (under the producer's own lock) and counts it in
/// <c>modelbox_http2_stale_schedules_total</c>. Clearing a flag whose queue entry is still waiting would at worst let the
/// producer be queued twice before it writes anything, which the write loop handles (an entry with nothing to write
/// writes nothing). If a Kestrel version lacks the fields the guard reads, it disables itself and says so once at
/// start-up; <c>Http2StreamReuseGuardTests</c> fails on a Kestrel that answers on such a stream by itself, so the guard
/// can then go.
/// </para>
/// </summary>
public static class Http2StreamReuseGuard
{
    /// <summary>Kestrel's internals the guard reads, or null when this Kestrel lacks them.</summary>
    internal static KestrelOutputProducer? Producers { get; } = KestrelOutputProducer.Find();

    private static long s_cleared;

    /// <summary>Stale flags cleared in this process (also counted in the metric).</summary>
    internal static long Cleared => Interlocked.Read(ref s_cleared);

    /// <summary>Whether the guard can work on this Kestrel.</summary>
    public static bool IsAvailable => Producers is not null;

    /// <summary>Adds the guard; it must come before anything that may write a response.</summary>
    public static IApplicationBuilder UseHttp2StreamReuseGuard(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (Producers is not { } producers)
        {
            return app;
        }

        return app.Use((context, next) =>
        {
            if (HttpProtocol.IsHttp2(context.Request.Protocol) && producers.Of(context) is { } producer && producers.ClearStaleSchedule(producer))
            {
                Interlocked.Increment(ref s_cleared);
                ModelBoxMetrics.Http2StaleSchedules.Add(1);
            }

            return next(context);
        });
    }

    /// <summary>Reads and sets the scheduling state of Kestrel's internal <c>Http2OutputProducer</c>.</summary>
    internal sealed class KestrelOutputProducer
    {
        private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.NonPublic;

        private readonly Type _stream;
        private readonly FieldInfo _output;
        private readonly FieldInfo _lock;
        private readonly FieldInfo _isScheduled;
        private readonly FieldInfo _completeScheduled;
        private readonly FieldInfo _completedResponse;
        private readonly FieldInfo _unconsumedBytes;
        private readonly FieldInfo _unobservedState;

        private KestrelOutputProducer(Type stream, FieldInfo output, FieldInfo gate, FieldInfo isScheduled, FieldInfo completeScheduled,
            FieldInfo completedResponse, FieldInfo unconsumedBytes, FieldInfo unobservedState)
        {
            _stream = stream;
            _output = output;
            _lock = gate;
            _isScheduled = isScheduled;
            _completeScheduled = completeScheduled;
            _completedResponse = completedResponse;
            _unconsumedBytes = unconsumedBytes;
            _unobservedState = unobservedState;
        }

        /// <summary>The accessor, or null when any field is missing or of another type.</summary>
        public static KestrelOutputProducer? Find()
        {
            var assembly = typeof(KestrelServerOptions).Assembly;
            var stream = assembly.GetType("Microsoft.AspNetCore.Server.Kestrel.Core.Internal.Http2.Http2Stream");
            var producer = assembly.GetType("Microsoft.AspNetCore.Server.Kestrel.Core.Internal.Http2.Http2OutputProducer");
            if (stream is null || producer is null)
            {
                return null;
            }

            FieldInfo? Field(Type type, string name, Type? of) =>
                type.GetField(name, Instance) is { } field && (of is null ? field.FieldType.IsEnum : field.FieldType == of) ? field : null;

            return (Field(stream, "_http2Output", producer), Field(producer, "_dataWriterLock", typeof(Lock)), Field(producer, "_isScheduled", typeof(bool)),
                    Field(producer, "_completeScheduled", typeof(bool)), Field(producer, "_completedResponse", typeof(bool)),
                    Field(producer, "_unconsumedBytes", typeof(long)), Field(producer, "_unobservedState", null)) is
                ({ } output, { } gate, { } isScheduled, { } completeScheduled, { } completedResponse, { } unconsumed, { } unobserved)
                ? new KestrelOutputProducer(stream, output, gate, isScheduled, completeScheduled, completedResponse, unconsumed, unobserved)
                : null;
        }

        /// <summary>The output producer of an HTTP/2 request (Kestrel's stream is the request's feature collection).</summary>
        public object? Of(HttpContext context) => _stream.IsInstanceOfType(context.Features) ? _output.GetValue(context.Features) : null;

        /// <summary>Clears a scheduled flag that nothing pending explains; true when it did.</summary>
        public bool ClearStaleSchedule(object producer)
        {
            // The common case, read without the lock: not marked (a mark set after this read is a live one).
            if (!(bool)_isScheduled.GetValue(producer)!)
            {
                return false;
            }

            using (((Lock)_lock.GetValue(producer)!).EnterScope())
            {
                if (!(bool)_isScheduled.GetValue(producer)! || (bool)_completeScheduled.GetValue(producer)! || (long)_unconsumedBytes.GetValue(producer)! != 0
                    || Convert.ToInt32(_unobservedState.GetValue(producer), System.Globalization.CultureInfo.InvariantCulture) != 0)
                {
                    return false;
                }

                _isScheduled.SetValue(producer, false);
                return true;
            }
        }

        /// <summary>Whether the producer's response has been written to the end.</summary>
        public bool CompletedResponse(object producer)
        {
            using (((Lock)_lock.GetValue(producer)!).EnterScope())
            {
                return (bool)_completedResponse.GetValue(producer)!;
            }
        }

        /// <summary>Leaves a finished producer in the state the race leaves it in (for the tests that prove the guard).</summary>
        internal void MarkScheduled(object producer)
        {
            using (((Lock)_lock.GetValue(producer)!).EnterScope())
            {
                _isScheduled.SetValue(producer, true);
            }
        }
    }
}
