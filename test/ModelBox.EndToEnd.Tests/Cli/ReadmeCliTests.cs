using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Cli;

/// <summary>The command lines the README documents work verbatim (the server address comes from the environment).</summary>
[Collection(ServerCollection.Name)]
public sealed class ReadmeCliTests(ModelBoxServerFixture server)
{
    private readonly CliRunner _cli = new(server);

    [Fact]
    public async Task Experiment_lines_create_and_list_the_experiment()
    {
        var create = (await _cli.ReadmeLineAsync(
            "modelbox client experiments create --namespace langtech --owner your@email.com --name wav2vec-lid --framework pytorch")).AssertSuccess();

        Assert.Contains("wav2vec-lid", create.Stdout);
        Assert.Contains("exp-", create.Stdout);
        Assert.Contains("pytorch", create.Stdout);

        var list = (await _cli.ReadmeLineAsync("modelbox client experiments list --namespace langtech")).AssertSuccess();

        var row = Assert.Single(list.Stdout.Split('\n'), line => line.Contains("wav2vec-lid"));
        Assert.Contains("langtech", row);
        Assert.Contains("your@email.com", row);
        Assert.Contains("pytorch", row);
        Assert.Contains("running", row);
    }

    [Fact]
    public async Task Model_lines_create_the_model_and_list_shows_it()
    {
        var create = (await _cli.ReadmeLineAsync(
            "modelbox client models create --name wav2vec --owner diptanuc@gmail.com --task asr --description \"English ASR\" --namespace langtech")).AssertSuccess();

        Assert.Contains("mdl-", create.Stdout);
        Assert.Contains("English ASR", create.Stdout);

        var list = (await _cli.ReadmeLineAsync("modelbox client list --namespace langtech")).AssertSuccess();

        var row = Assert.Single(list.Stdout.Split('\n'), line => line.Contains("wav2vec ") && line.Contains("mdl-"));
        Assert.Contains("diptanuc@gmail.com", row);
        Assert.Contains("asr", row);
        Assert.Contains("English ASR", row);
    }

    [Fact]
    public async Task Table_output_is_plain_text_when_redirected()
    {
        var list = (await _cli.ReadmeLineAsync("modelbox client list --namespace langtech")).AssertSuccess();

        Assert.DoesNotContain('\u001b', list.Stdout);
    }
}
