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
}
