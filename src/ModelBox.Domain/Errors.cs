using System.Runtime.CompilerServices;
using System.Text;

namespace ModelBox.Domain;

/// <summary>What kind of failure a <see cref="ModelBoxException"/> is; the gRPC layer maps each to one status code.</summary>
public enum ErrorKind
{
    /// <summary>The request itself is wrong (a missing, malformed or oversized field).</summary>
    InvalidArgument,
    /// <summary>An object the request names does not exist (or is deleted).</summary>
    NotFound,
    /// <summary>The object already exists where that is not allowed.</summary>
    AlreadyExists,
    /// <summary>The system is not in a state that allows the operation (for example, the object is deleted).</summary>
    FailedPrecondition,
    /// <summary>A limit was exceeded.</summary>
    ResourceExhausted,
    /// <summary>The operation was ended early and should be resumed by the client (a change stream that fell behind).</summary>
    Aborted,
    /// <summary>The store is unreachable; retrying later can succeed.</summary>
    Unavailable,
    /// <summary>Data arrived damaged (a checksum did not match); nothing was kept.</summary>
    DataLoss,
    /// <summary>The operation exists but this deployment (its storage backend) does not offer it.</summary>
    Unimplemented,
    /// <summary>The caller did not prove who it is (no credential, or one that is malformed, unknown, expired or revoked).</summary>
    Unauthenticated,
    /// <summary>The caller is known but may not do this.</summary>
    PermissionDenied,
}

/// <summary>
/// An input of a domain operation, named in domain terms: words (<c>experiment id</c>), '.' between an input and a part
/// of it, <c>[n]</c> for an element (<c>files[2].parent id</c>). A transport shows the input under its own name for it
/// (see <see cref="ModelBoxException.MessageNaming"/>).
/// </summary>
public readonly record struct InputName
{
    private readonly string? _path;

    public InputName(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        _path = path;
    }

    /// <summary>No input: the parts of a request's only input are named on their own (<c>None / "key"</c> is <c>key</c>).</summary>
    public static InputName None { get; } = new(string.Empty);

    /// <summary>The name, as the domain spells it.</summary>
    public string Path => _path ?? string.Empty;

    public static implicit operator InputName(string path) => new(path);

    /// <summary>The element at <paramref name="index"/> of this input.</summary>
    public InputName this[int index] => new($"{Path}[{index}]");

    /// <summary>A part of this input: <c>file</c> / <c>parent id</c> is <c>file.parent id</c> (an empty input has no prefix).</summary>
    public static InputName operator /(InputName input, InputName part) => new(input.Path.Length == 0 ? part.Path : $"{input.Path}.{part.Path}");

    public override string ToString() => Path;
}

/// <summary>
/// The message of a <see cref="ModelBoxException"/>: text, and the inputs it names kept apart from it, so that each
/// layer can name them its own way while the rest of the message stays the same.
/// </summary>
public sealed class ErrorText
{
    // Each part is a string (text) or an InputName.
    private readonly object[] _parts;

    internal ErrorText(object[] parts)
    {
        _parts = parts;
    }

    /// <summary>The inputs the message names, in order.</summary>
    public IEnumerable<InputName> Inputs => _parts.OfType<InputName>();

    public static ErrorText Plain(string text) => new([text]);

    /// <summary>The message with each input named by <paramref name="name"/>.</summary>
    public string Render(Func<InputName, string> name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var text = new StringBuilder();
        foreach (var part in _parts)
        {
            text.Append(part is InputName input ? name(input) : (string)part);
        }

        return text.ToString();
    }

    /// <summary>The same message followed by <paramref name="text"/>.</summary>
    public ErrorText Append(string text) => new([.. _parts, text]);

    /// <summary>The message in domain terms.</summary>
    public override string ToString() => Render(input => input.Path);
}

/// <summary>Builds an <see cref="ErrorText"/> from an interpolated string: <see cref="InputName"/> holes stay inputs, the rest becomes text.</summary>
[InterpolatedStringHandler]
public ref struct ErrorTextBuilder
{
    private readonly List<object> _parts;
    private DefaultInterpolatedStringHandler _text;
    private bool _hasText;

    public ErrorTextBuilder(int literalLength, int formattedCount)
    {
        _parts = new List<object>(1);
        _text = new DefaultInterpolatedStringHandler(literalLength, formattedCount);
        _hasText = false;
    }

    public void AppendLiteral(string value)
    {
        _text.AppendLiteral(value);
        _hasText = true;
    }

    public void AppendFormatted(InputName input)
    {
        Flush();
        _parts.Add(input);
    }

    public void AppendFormatted(string? value)
    {
        _text.AppendFormatted(value);
        _hasText = true;
    }

    public void AppendFormatted<T>(T value)
    {
        _text.AppendFormatted(value);
        _hasText = true;
    }

    public void AppendFormatted<T>(T value, string? format)
    {
        _text.AppendFormatted(value, format);
        _hasText = true;
    }

    public ErrorText ToErrorText()
    {
        Flush();
        return new ErrorText([.. _parts]);
    }

    private void Flush()
    {
        if (_hasText)
        {
            _parts.Add(_text.ToStringAndClear());
            _text = new DefaultInterpolatedStringHandler(0, 0);
            _hasText = false;
        }
    }
}

/// <summary>
/// A failure the client can act on; its message names the input or id concerned. Inputs are named in domain terms
/// (<see cref="ErrorText"/>); a transport renders the message with its own names through <see cref="MessageNaming"/>.
/// </summary>
public sealed class ModelBoxException : Exception
{
    public ModelBoxException(ErrorKind kind, string message, Exception? innerException = null)
        : this(kind, ErrorText.Plain(message), innerException)
    {
    }

    public ModelBoxException(ErrorKind kind, ref ErrorTextBuilder message, Exception? innerException = null)
        : this(kind, message.ToErrorText(), innerException)
    {
    }

    public ModelBoxException(ErrorKind kind, ErrorText text, Exception? innerException = null)
        : base(text?.ToString(), innerException)
    {
        ArgumentNullException.ThrowIfNull(text);
        Kind = kind;
        Text = text;
    }

    public ErrorKind Kind { get; }

    /// <summary>The message with the inputs it names kept apart.</summary>
    public ErrorText Text { get; }

    /// <summary>The message with each input it names called what <paramref name="name"/> says (the message is in domain terms).</summary>
    public string MessageNaming(Func<InputName, string> name) => Text.Render(name);

    public static ModelBoxException InvalidArgument(string message) => new(ErrorKind.InvalidArgument, message);

    public static ModelBoxException InvalidArgument(ref ErrorTextBuilder message) => new(ErrorKind.InvalidArgument, message.ToErrorText());

    public static ModelBoxException NotFound(string kind, string id) => new(ErrorKind.NotFound, $"{kind} '{id}' not found");

    public static ModelBoxException FailedPrecondition(string message) => new(ErrorKind.FailedPrecondition, message);

    public static ModelBoxException FailedPrecondition(ref ErrorTextBuilder message) => new(ErrorKind.FailedPrecondition, message.ToErrorText());
}
