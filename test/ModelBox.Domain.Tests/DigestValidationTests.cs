using ModelBox.Domain.Registry;

namespace ModelBox.Domain.Tests;

public sealed class DigestValidationTests
{
    [Theory]
    [InlineData("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF")]
    [InlineData("md5:0123456789abcdef0123456789abcdef")]
    [InlineData("sha1:0123456789abcdef0123456789abcdef01234567")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("blake3:AbC_-+/=")]
    public void Well_formed_digests_are_kept_as_given(string digest) =>
        Assert.Equal(digest, RegistryValidation.Digest(digest));

    [Theory]
    [InlineData("sha256:abc", "64 hex digits")]
    [InlineData("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg", "64 hex digits")]
    [InlineData("SHA512:00", "128 hex digits")]
    [InlineData("abc", "ALGORITHM:HEX")]
    [InlineData("sha256 abc", "ALGORITHM:HEX")]
    [InlineData("x y:z", "ALGORITHM:VALUE")]
    [InlineData(":00", "ALGORITHM:VALUE")]
    public void Malformed_digests_are_refused_naming_the_expected_form(string digest, string expected)
    {
        var error = Assert.Throws<ModelBoxException>(() => RegistryValidation.Digest(digest));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Contains("digest", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
