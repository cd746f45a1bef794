using ModelBox.Domain;
using ModelBox.Domain.Operations;
using Proto = ModelBox.Protocol;

namespace ModelBox.Server.Services;

/// <summary>Wire ↔ domain mapping of the metadata and the events of any object.</summary>
internal static class MetadataMapping
{
    public static NewEvent ToDomain(this Proto.LogEventRequest request)
    {
        var e = request.Event ?? throw ModelBoxException.InvalidArgument("event is required");
        return new NewEvent(
            request.ParentId,
            e.Name,
            e.Source?.Name,
            e.WallclockTime is null ? null : e.WallclockTime.ToUnixNanos("event.wallclock_time"),
            e.Metadata.ToJsonMap("event.metadata"));
    }

    public static Proto.Event ToProto(this LoggedEvent e) => new()
    {
        Id = e.Id,
        ParentId = e.ParentId,
        Name = e.Name,
        Source = new Proto.EventSource { Name = e.Source },
        WallclockTime = ValueMapping.FromUnixNanos(e.WallclockUnixNanos),
        Metadata = e.Metadata.ToProtoMetadata(),
        CreatedAt = e.CreatedAt.ToTimestamp(),
    };
}
