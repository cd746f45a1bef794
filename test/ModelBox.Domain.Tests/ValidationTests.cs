namespace ModelBox.Domain.Tests;

public sealed class ValidationTests
{
    [Fact]
    public void Names_up_to_256_characters_pass_and_longer_ones_name_the_field()
    {
        Assert.Equal(new string('a', 256), Validation.Required(new string('a', 256), "name"));
        var error = Assert.Throws<ModelBoxException>(() => Validation.Required(new string('a', 257), "name"));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Contains("name", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_namespace_is_default_and_unsafe_ones_are_refused()
    {
        Assert.Equal("default", Validation.Namespace(""));
        Assert.Equal("lang-tech_1.0", Validation.Namespace("lang-tech_1.0"));
        Assert.Throws<ModelBoxException>(() => Validation.Namespace("../x"));
        Assert.Throws<ModelBoxException>(() => Validation.Namespace("a b"));
    }

    [Fact]
    public void Namespaces_are_paths_of_valid_segments()
    {
        Assert.Equal("vision/detection/yolo-v8", Validation.Namespace("vision/detection/yolo-v8"));
        foreach (var bad in new[] { "/a", "a/", "a//b", "a/./b", "a/../b", "..", "a/b c", "a\\b" })
        {
            var error = Assert.Throws<ModelBoxException>(() => Validation.Namespace(bad));
            Assert.Contains("namespace", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_subtree_scope_holds_its_root_and_descendants_not_prefix_siblings()
    {
        var tree = NamespaceScope.From("vision", recursive: true);
        Assert.True(tree.Contains("vision"));
        Assert.True(tree.Contains("vision/detection/yolo"));
        Assert.False(tree.Contains("visionary"));
        Assert.False(tree.Contains("vision-x"));
        Assert.False(NamespaceScope.From("vision", recursive: false).Contains("vision/detection"));
        Assert.Equal(["a/**", "a/b/**", "a/b/c/**"], NamespaceScope.SubtreeKeysContaining("a/b/c"));
        Assert.Equal("vision/**", tree.Key);
        // The descendant range in byte order holds exactly the names below the root.
        var (from, before) = tree.DescendantRange;
        foreach (var below in new[] { "vision/a", "vision/zzz", "vision/-", "vision/a/b" })
        {
            Assert.True(string.CompareOrdinal(below, from) >= 0 && string.CompareOrdinal(below, before) < 0, below);
        }

        foreach (var outside in new[] { "vision", "vision-x", "vision.x", "vision0", "visionary", "vision_x" })
        {
            Assert.False(string.CompareOrdinal(outside, from) >= 0 && string.CompareOrdinal(outside, before) < 0, outside);
        }
    }

    [Fact]
    public void Descriptions_are_limited_to_64_KiB()
    {
        Validation.Description(new string('d', 64 * 1024));
        Assert.Throws<ModelBoxException>(() => Validation.Description(new string('d', (64 * 1024) + 1)));
    }

    [Fact]
    public void Ids_of_the_wrong_kind_are_invalid_arguments()
    {
        var model = ObjectIds.Model("ns", "m");
        var error = Assert.Throws<ModelBoxException>(() => Validation.Id(model, "experiment id", ObjectKind.Experiment));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Contains("experiment id", error.Message, StringComparison.Ordinal);
        Assert.Equal([new InputName("experiment id")], error.Text.Inputs);
        Assert.Equal(model, Validation.Id(model, "model", ObjectKind.Model));
    }

    [Fact]
    public void Metadata_nested_to_the_limit_passes_and_one_level_deeper_is_refused_naming_the_key()
    {
        static string Nested(int levels) => string.Concat(Enumerable.Repeat("{\"n\":", levels)) + "1" + new string('}', levels);

        Validation.Metadata(new Dictionary<string, string> { ["ok"] = Nested(Validation.MaxMetadataDepth), ["flat"] = "[1,[2],{}]" });
        var error = Assert.Throws<ModelBoxException>(() => Validation.Metadata(new Dictionary<string, string> { ["deep"] = Nested(Validation.MaxMetadataDepth + 1) }));
        var arrays = Assert.Throws<ModelBoxException>(() => Validation.Metadata(
            new Dictionary<string, string> { ["deep"] = new string('[', 1000) + new string(']', 1000) }));

        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Contains("metadata['deep']", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{Validation.MaxMetadataDepth} levels", error.Message, StringComparison.Ordinal);
        Assert.Contains("metadata['deep']", arrays.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Metadata_of_one_object_is_limited_in_keys_and_bytes()
    {
        var keys = Enumerable.Range(0, Validation.MaxMetadataKeys).ToDictionary(i => $"k{i}", i => "1");
        Validation.Metadata(keys);
        keys["one-more"] = "1";
        var tooMany = Assert.Throws<ModelBoxException>(() => Validation.Metadata(keys));
        var value = "\"" + new string('x', 900 * 1024) + "\"";
        var tooBig = Assert.Throws<ModelBoxException>(() => Validation.Metadata(new Dictionary<string, string> { ["a"] = value, ["b"] = value, ["c"] = value }));

        Assert.Contains($"limit is {Validation.MaxMetadataKeys} keys", tooMany.Message, StringComparison.Ordinal);
        Assert.Contains($"limit is {Validation.MaxMetadataBytesPerObject} bytes", tooBig.Message, StringComparison.Ordinal);
        Assert.Equal(2 + 4 + 2 + 5, Validation.MetadataBytes(new Dictionary<string, string> { ["é"] = "\"é\"", ["ab"] = "[1,2]" }));
    }
}
