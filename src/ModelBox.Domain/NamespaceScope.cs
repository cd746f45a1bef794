namespace ModelBox.Domain;

/// <summary>
/// What a listing, a watch or a grant selects: one namespace, or a namespace and everything below it
/// (<c>vision</c> recursive covers <c>vision</c>, <c>vision/detection</c>, <c>vision/detection/yolo</c>, not <c>visionary</c>).
/// </summary>
/// <param name="Root">A validated namespace.</param>
/// <param name="Recursive">True when the namespaces below <paramref name="Root"/> are included.</param>
public readonly record struct NamespaceScope(string Root, bool Recursive)
{
    /// <summary>The character between the segments of a namespace path.</summary>
    public const char Separator = '/';

    /// <summary>How a subtree is spelled as a key (signal subscriptions, caches): <c>vision/**</c>.</summary>
    public const string SubtreeSuffix = "/**";

    /// <summary>A scope from wire values: the namespace is validated (empty means <c>default</c>).</summary>
    public static NamespaceScope From(string? @namespace, bool recursive, InputName? input = null) =>
        new(Validation.Namespace(@namespace, input), recursive);

    /// <summary>One namespace, not its children (what every call took before namespaces had children).</summary>
    public static implicit operator NamespaceScope(string @namespace) => new(@namespace, false);

    /// <summary>The namespace itself, or <c>root/**</c> for a subtree: distinct for distinct scopes, and never a namespace.</summary>
    public string Key => Recursive ? Root + SubtreeSuffix : Root;

    /// <summary>The lowest and the first name past the names strictly below <see cref="Root"/>, in byte order ('0' follows '/').</summary>
    public (string From, string Before) DescendantRange => (Root + Separator, Root + (char)(Separator + 1));

    /// <summary>True when <paramref name="namespace"/> is in this scope.</summary>
    public bool Contains(string @namespace) =>
        string.Equals(@namespace, Root, StringComparison.Ordinal) || (Recursive && IsBelow(@namespace, Root));

    /// <summary>True when <paramref name="namespace"/> lies strictly below <paramref name="ancestor"/>.</summary>
    public static bool IsBelow(string @namespace, string ancestor) =>
        @namespace.Length > ancestor.Length + 1
        && @namespace[ancestor.Length] == Separator
        && @namespace.StartsWith(ancestor, StringComparison.Ordinal);

    /// <summary>True when <paramref name="namespace"/> is <paramref name="ancestor"/> or lies below it.</summary>
    public static bool IsWithin(string @namespace, string ancestor) =>
        string.Equals(@namespace, ancestor, StringComparison.Ordinal) || IsBelow(@namespace, ancestor);

    /// <summary>The keys of every subtree scope that contains <paramref name="namespace"/>: <c>a/**</c>, <c>a/b/**</c> for <c>a/b</c>.</summary>
    public static IEnumerable<string> SubtreeKeysContaining(string @namespace)
    {
        for (var i = @namespace.IndexOf(Separator, StringComparison.Ordinal); i >= 0; i = @namespace.IndexOf(Separator, i + 1))
        {
            yield return string.Concat(@namespace.AsSpan(0, i), SubtreeSuffix);
        }

        yield return @namespace + SubtreeSuffix;
    }

    public override string ToString() => Key;
}
