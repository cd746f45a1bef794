using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Cli;

/// <summary>Where the CLI finds its server: --server-addr, MODELBOX_SERVER_ADDR, the client TOML, the default.</summary>
[Collection(ServerCollection.Name)]
public sealed class ClientConfigCliTests(ModelBoxServerFixture server) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("modelbox-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Init_config_writes_a_file_the_client_then_uses()
    {
        (await CliRunner.RunAsync(["client", "init-config", "--server-addr", server.HostPort], workingDirectory: _directory)).AssertSuccess();

        var text = await File.ReadAllTextAsync(Path.Combine(_directory, "modelbox_client.toml"));
        Assert.Contains($"server_addr = \"{server.HostPort}\"", text);
        Assert.Contains("#", text);

        // No --server-addr and no environment variable: ./modelbox_client.toml points at the test server.
        (await CliRunner.RunAsync(["client", "namespaces", "list"], workingDirectory: _directory)).AssertSuccess();
    }

    [Fact]
    public async Task Init_config_writes_the_default_address_and_refuses_to_overwrite_without_force()
    {
        var path = Path.Combine(_directory, "client.toml");
        (await CliRunner.RunAsync(["client", "init-config", "--path", path])).AssertSuccess();
        Assert.Contains("server_addr = \"localhost:8085\"", await File.ReadAllTextAsync(path));

        (await CliRunner.RunAsync(["client", "init-config", "--path", path])).AssertError(1, "--force");

        (await CliRunner.RunAsync(["client", "init-config", "--path", path, "--force", "--server-addr", server.HostPort])).AssertSuccess();
        Assert.Contains(server.HostPort, await File.ReadAllTextAsync(path));
        (await CliRunner.RunAsync(["client", "--config-path", path, "namespaces", "list"])).AssertSuccess();
    }

    [Fact]
    public async Task Server_addr_option_beats_the_environment_which_beats_the_config_file()
    {
        var closed = $"127.0.0.1:{ModelBoxExecutable.FreePort()}";
        var configPath = Path.Combine(_directory, "modelbox_client.toml");
        await File.WriteAllTextAsync(configPath, $"server_addr = \"{closed}\"\n");
        var environment = new Dictionary<string, string> { ["MODELBOX_SERVER_ADDR"] = server.HostPort };

        (await CliRunner.RunAsync(["client", "namespaces", "list"], workingDirectory: _directory)).AssertError(1, closed);
        (await CliRunner.RunAsync(["client", "namespaces", "list"], environment, _directory)).AssertSuccess();
        (await CliRunner.RunAsync(["client", "--server-addr", closed, "namespaces", "list"], environment, _directory)).AssertError(1, closed);
    }

    [Theory]
    [InlineData("server_addr = \"localhost:8085\"\nserver_port = 1\n", "server_port")]
    [InlineData("server_addr = 8085\n", "server_addr")]
    [InlineData("server_addr = \"unterminated\n", "cannot parse")]
    public async Task A_bad_config_file_is_a_usage_error_naming_the_problem(string content, string expected)
    {
        var path = Path.Combine(_directory, "bad.toml");
        await File.WriteAllTextAsync(path, content);

        (await CliRunner.RunAsync(["client", "--config-path", path, "namespaces", "list"])).AssertError(2, expected);
    }

    [Fact]
    public async Task A_missing_config_path_is_a_usage_error()
    {
        (await CliRunner.RunAsync(["client", "--config-path", Path.Combine(_directory, "nope.toml"), "namespaces", "list"])).AssertError(2, "nope.toml");
    }
}
