namespace ModelBox.Domain.Tests;

public sealed class ObjectIdsTests
{
    [Fact]
    public void Ids_are_deterministic_and_tell_their_kind()
    {
        var id = ObjectIds.Experiment("langtech", "wav2vec-lid");
        Assert.Equal(id, ObjectIds.Experiment("langtech", "wav2vec-lid"));
        Assert.Matches("^exp-[0-9a-f]{32}$", id);
        Assert.True(ObjectIds.TryGetKind(id, out var kind));
        Assert.Equal(ObjectKind.Experiment, kind);
        Assert.True(ObjectIds.TryGetKind(ObjectIds.Checkpoint(id, 3), out kind));
        Assert.Equal(ObjectKind.Checkpoint, kind);
    }

    [Fact]
    public void The_same_natural_key_of_different_kinds_never_shares_an_id()
    {
        var experiment = ObjectIds.Experiment("ns", "name");
        var model = ObjectIds.Model("ns", "name");
        Assert.NotEqual(experiment, model);
        Assert.NotEqual(experiment[4..], model[4..]);
    }

    [Fact]
    public void Key_parts_cannot_run_into_each_other()
    {
        // A naive concatenation would make ("ab", "c") and ("a", "bc") collide.
        Assert.NotEqual(ObjectIds.Experiment("ab", "c"), ObjectIds.Experiment("a", "bc"));
        Assert.NotEqual(ObjectIds.ModelVersion("m", "1"), ObjectIds.ModelVersion("m", "1 "));
    }

    [Theory]
    [InlineData("")]
    [InlineData("exp-")]
    [InlineData("exp-XYZ")]
    [InlineData("exp-0123456789abcdef0123456789ABCDEF")]
    [InlineData("foo-0123456789abcdef0123456789abcdef")]
    [InlineData("0123456789abcdef0123456789abcdef")]
    public void Malformed_ids_have_no_kind(string id) => Assert.False(ObjectIds.TryGetKind(id, out _));
}
