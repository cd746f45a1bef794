namespace ModelBox.Domain.Tests;

public sealed class PagingTests
{
    [Fact]
    public void Tokens_round_trip_any_text()
    {
        var token = PageTokens.Encode("1700000000000000", "exp-ab/+=", "ünïcode");
        Assert.DoesNotContain('+', token);
        Assert.DoesNotContain('/', token);
        Assert.Equal(new[] { "1700000000000000", "exp-ab/+=", "ünïcode" }, PageTokens.Decode(token));
    }

    [Theory]
    [InlineData("garbage!")]
    [InlineData("AAAA")]
    [InlineData("%%%")]
    public void Malformed_tokens_are_invalid_arguments(string token)
    {
        var error = Assert.Throws<ModelBoxException>(() => PageTokens.Decode(token));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Contains(new InputName("page token"), error.Text.Inputs);
    }

    [Fact]
    public void Page_size_zero_means_all_and_large_sizes_are_capped()
    {
        Assert.Null(PageRequest.From(0, null).Limit);
        Assert.Equal(PageRequest.MaxPageSize, PageRequest.From(1_000_000, null).Limit);
        Assert.Equal(10, PageRequest.From(10, "").Limit);
        Assert.Throws<ModelBoxException>(() => PageRequest.From(-1, null));
    }
}
