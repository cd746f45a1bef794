using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Cli;

[Collection(ServerCollection.Name)]
public sealed class RegistryCliTests(ModelBoxServerFixture server)
{
    private readonly CliRunner _cli = new(server);
    private readonly string _namespace = "cli-reg-" + Guid.NewGuid().ToString("N")[..12];

    [Fact]
    public async Task Label_alias_get_by_alias_lineage_datasets_and_search()
    {
        var model = (await _cli.ClientAsync("models", "create", "--name", "asr", "--namespace", _namespace, "--output", "json")).AssertSuccess().Json().GetProperty("id").GetString()!;
        var version = (await _cli.ClientAsync("model-versions", "create", "--model", model, "--version", "1", "--output", "json")).AssertSuccess().Json().GetProperty("id").GetString()!;

        var labeled = (await _cli.ClientAsync("models", "label", model, "env=production", "privacy=pii", "--output", "json")).AssertSuccess().Json();
        Assert.Equal("pii", labeled.GetProperty("labels").GetProperty("privacy").GetString());
        var unlabeled = (await _cli.ClientAsync("models", "unlabel", model, "privacy", "--output", "json")).AssertSuccess().Json();
        Assert.False(unlabeled.GetProperty("labels").TryGetProperty("privacy", out _));

        var alias = (await _cli.ClientAsync("models", "alias", "set", "--model", model, "--alias", "production", "--version-id", version, "--output", "json")).AssertSuccess().Json();
        Assert.Equal(version, alias.GetProperty("version_id").GetString());
        var got = (await _cli.ClientAsync("models", "alias", "get", "--model", model, "--alias", "production", "--output", "json")).AssertSuccess().Json();
        Assert.Equal(version, got.GetProperty("version_id").GetString());
        var byAlias = (await _cli.ClientAsync("model-versions", "get", "--model", model, "--alias", "production", "--output", "json")).AssertSuccess().Json();
        Assert.Equal(version, byAlias.GetProperty("id").GetString());
        (await _cli.ClientAsync("model-versions", "get", version, "--alias", "production")).AssertError(2, "either a version id");

        var dataset = (await _cli.ClientAsync("datasets", "create", "--namespace", _namespace, "--name", "speech", "--digest", "sha256:ff00000000000000000000000000000000000000000000000000000000000000", "--uri", "s3://d", "--output", "json")).AssertSuccess().Json();
        var datasetId = dataset.GetProperty("dataset").GetProperty("id").GetString()!;
        var listed = (await _cli.ClientAsync("datasets", "list", "--namespace", _namespace, "--output", "json")).AssertSuccess().Json();
        Assert.Equal("speech", listed[0].GetProperty("name").GetString());
        var shown = (await _cli.ClientAsync("datasets", "get", datasetId, "--output", "json")).AssertSuccess().Json();
        Assert.Equal("sha256:ff00000000000000000000000000000000000000000000000000000000000000", shown.GetProperty("versions")[0].GetProperty("digest").GetString());

        var lineage = (await _cli.ClientAsync("lineage", version, "--output", "json")).AssertSuccess().Json();
        Assert.Equal(version, lineage.GetProperty("version").GetProperty("id").GetString());

        var search = (await _cli.ClientAsync("search", "models", "--namespace", _namespace, "--filter", "labels.env = 'production'", "--output", "json")).AssertSuccess().Json();
        Assert.Equal(model, search[0].GetProperty("id").GetString());
        var versions = (await _cli.ClientAsync("search", "versions", "--namespace", _namespace, "--filter", "model = 'asr'", "--output", "json")).AssertSuccess().Json();
        Assert.Equal(version, versions[0].GetProperty("id").GetString());
        (await _cli.ClientAsync("search", "experiments", "--filter", "metrics.loss <")).AssertError(1, "position");

        (await _cli.ClientAsync("models", "alias", "delete", "--model", model, "--alias", "production")).AssertSuccess();
        (await _cli.ClientAsync("models", "alias", "get", "--model", model, "--alias", "production")).AssertError(1, "not found");
    }
}
