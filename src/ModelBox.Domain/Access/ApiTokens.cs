using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace ModelBox.Domain.Access;

/// <summary>
/// API tokens: <c>mbx_</c>, 12 hex digits (the public prefix with <c>mbx_</c>, stored as is), '_', and 43 base64url
/// characters (256 random bits). Only the SHA-256 of the whole token is stored: a high-entropy secret needs no slow hash,
/// and a stolen table cannot be replayed.
/// </summary>
public static class ApiTokens
{
    public const string Scheme = "mbx_";
    private const int PrefixHexDigits = 12;
    private const int SecretBytes = 32;
    private static readonly int SecretChars = Base64UrlLength(SecretBytes);

    /// <summary>The length of every token.</summary>
    public static int Length { get; } = Scheme.Length + PrefixHexDigits + 1 + SecretChars;

    /// <summary>A new token and its prefix; the token is shown once and never stored.</summary>
    public static (string Token, string Prefix) Create()
    {
        var prefix = Scheme + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(PrefixHexDigits / 2));
        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(SecretBytes)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return ($"{prefix}_{secret}", prefix);
    }

    /// <summary>True when <paramref name="text"/> has a token's shape; <paramref name="prefix"/> is its public part.</summary>
    public static bool TryParse(string text, out string prefix)
    {
        prefix = string.Empty;
        if (text.Length != Length || !text.StartsWith(Scheme, StringComparison.Ordinal) || text[Scheme.Length + PrefixHexDigits] != '_')
        {
            return false;
        }

        for (var i = Scheme.Length; i < Scheme.Length + PrefixHexDigits; i++)
        {
            if (!char.IsAsciiHexDigitLower(text[i]))
            {
                return false;
            }
        }

        for (var i = Scheme.Length + PrefixHexDigits + 1; i < text.Length; i++)
        {
            if (!char.IsAsciiLetterOrDigit(text[i]) && text[i] is not ('-' or '_'))
            {
                return false;
            }
        }

        prefix = text[..(Scheme.Length + PrefixHexDigits)];
        return true;
    }

    /// <summary>
    /// The first characters of whatever a caller sent as a token, safe to show in an error or a log line: the prefix of a
    /// well-formed token, at most 8 characters of anything else (never enough of a secret to matter).
    /// </summary>
    public static string Describe(string text) =>
        TryParse(text, out var prefix) ? prefix : text.Length <= 8 ? "(malformed)" : $"{text[..8]}… (malformed)";

    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>Compares a presented token with a stored hash in constant time.</summary>
    public static bool Matches(string token, byte[] storedHash) => CryptographicOperations.FixedTimeEquals(Hash(token), storedHash);

    /// <summary>Compares a presented token with one verified before, in constant time (for tokens of one length).</summary>
    public static bool SameToken(string token, string verified) =>
        CryptographicOperations.FixedTimeEquals(MemoryMarshal.AsBytes(token.AsSpan()), MemoryMarshal.AsBytes(verified.AsSpan()));

    private static int Base64UrlLength(int bytes) => ((bytes * 4) + 2) / 3;
}
