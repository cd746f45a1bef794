namespace ModelBox.Domain.Operations;

/// <summary>Timestamps at the precision every backend stores (microseconds), so what is returned equals what is stored.</summary>
internal static class Clock
{
    public static DateTimeOffset Now(TimeProvider time)
    {
        var now = time.GetUtcNow();
        return new DateTimeOffset(now.Ticks - (now.Ticks % 10), TimeSpan.Zero);
    }
}
