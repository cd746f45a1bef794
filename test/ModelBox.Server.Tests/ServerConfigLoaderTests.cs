using System.Collections;
using System.Net;
using ModelBox.Server.Configuration;

namespace ModelBox.Server.Tests;

public sealed class ServerConfigLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("modelbox-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string toml)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".toml");
        File.WriteAllText(path, toml);
        return path;
    }

    private static readonly IDictionary NoEnvironment = new Hashtable();

    [Fact]
    public void Without_a_file_the_embedded_defaults_apply()
    {
        var config = ServerConfigLoader.Load(null, NoEnvironment);
        Assert.Equal("0.0.0.0:8085", config.ListenAddr);
        Assert.Equal("./modelbox-data", config.DataDir);
        Assert.Equal("integrated", config.MetadataStorage);
        Assert.Equal("filesystem", config.ArtifactStorage);
        Assert.Equal(":2112", config.PrometheusListenAddr);
        Assert.Equal(Path.GetFullPath("./modelbox-data/blobs"), config.BlobDirectory);
        Assert.Equal(Path.GetFullPath("./modelbox-data/modelbox.db"), config.SqliteDatabasePath);
    }

    [Fact]
    public void The_generated_default_file_loads_back_to_the_defaults_and_comments_every_key()
    {
        var toml = ServerConfigLoader.DefaultToml();
        Assert.Equal(new ServerConfig(), ServerConfigLoader.Load(Write(toml), NoEnvironment));
        foreach (var (key, variable) in ServerConfigLoader.EnvironmentVariables)
        {
            var leaf = key[(key.LastIndexOf('.') + 1)..];
            var line = Array.FindIndex(toml.Split('\n'), l => l.StartsWith(leaf + " = ", StringComparison.Ordinal));
            Assert.True(line > 0, $"{key} is missing");
            Assert.Contains(variable, toml, StringComparison.Ordinal);
            Assert.StartsWith("#", toml.Split('\n')[line - 1], StringComparison.Ordinal);
        }

        Assert.Contains("[filesystem]", toml, StringComparison.Ordinal);
        Assert.Contains("[prometheus]", toml, StringComparison.Ordinal);
    }

    [Fact]
    public void File_values_apply_and_environment_variables_override_them()
    {
        var path = Write("""
            listen_addr = "127.0.0.1:9000"
            data_dir = "/tmp/mb"
            [filesystem]
            base_dir = "/tmp/blobs"
            [prometheus]
            listen_addr = ":9100"
            """);
        var fromFile = ServerConfigLoader.Load(path, NoEnvironment);
        Assert.Equal("127.0.0.1:9000", fromFile.ListenAddr);
        Assert.Equal("/tmp/blobs", fromFile.BlobDirectory);
        Assert.Equal(":9100", fromFile.PrometheusListenAddr);

        var environment = new Hashtable
        {
            ["MODELBOX_LISTEN_ADDR"] = "127.0.0.1:9001",
            ["MODELBOX_FILESYSTEM_BASE_DIR"] = "/tmp/other",
            ["MODELBOX_PROMETHEUS_LISTEN_ADDR"] = "127.0.0.1:9101",
            ["MODELBOX_DATA_DIR"] = "/tmp/mb2",
        };
        var overridden = ServerConfigLoader.Load(path, environment);
        Assert.Equal("127.0.0.1:9001", overridden.ListenAddr);
        Assert.Equal("/tmp/other", overridden.BlobDirectory);
        Assert.Equal("127.0.0.1:9101", overridden.PrometheusListenAddr);
        Assert.Equal("/tmp/mb2", overridden.DataDir);
    }

    [Fact]
    public void The_s3_artifact_store_and_the_upload_limit_load_from_the_file_and_the_environment()
    {
        var path = Write("""
            artifact_storage = "s3"
            max_upload_size_bytes = 1048576
            [s3]
            endpoint = "http://127.0.0.1:9000"
            region = "eu-west-1"
            bucket = "models"
            access_key_id = "AKIA"
            force_path_style = false
            """);

        var config = ServerConfigLoader.Load(path, new Hashtable { ["MODELBOX_S3_SECRET_ACCESS_KEY"] = "secret" });

        Assert.Equal("s3", config.ArtifactStorage);
        Assert.Equal(1048576, config.MaxUploadSizeBytes);
        Assert.Equal(("http://127.0.0.1:9000", "eu-west-1", "models"), (config.S3Endpoint, config.S3Region, config.S3Bucket));
        Assert.Equal(("AKIA", "secret"), (config.S3AccessKeyId, config.S3SecretAccessKey));
        Assert.False(config.S3ForcePathStyle);
    }

    [Theory]
    [InlineData("listen_adr = \":1\"", "listen_adr")]
    [InlineData("[filesystem]\nbasedir = \"x\"", "filesystem.basedir")]
    [InlineData("[s3]\nbuckit = \"x\"", "s3.buckit")]
    [InlineData("artifact_storage = \"s3\"", "s3.bucket")]
    [InlineData("artifact_storage = \"ftp\"", "artifact_storage")]
    [InlineData("[s3]\nforce_path_style = \"maybe\"", "s3.force_path_style")]
    [InlineData("max_upload_size_bytes = 0", "max_upload_size_bytes")]
    [InlineData("max_upload_size_bytes = \"lots\"", "max_upload_size_bytes")]
    [InlineData("metadata_storage = \"oracle\"", "metadata_storage")]
    [InlineData("listen_addr = 8085", "listen_addr")]
    [InlineData("listen_addr = \"nonsense\"", "listen_addr")]
    [InlineData("listen_addr = \"0.0.0.0:99999\"", "listen_addr")]
    [InlineData("[prometheus]\nlisten_addr = \"host-name:1\"", "prometheus.listen_addr")]
    [InlineData("data_dir = \"\"", "data_dir")]
    public void Unknown_keys_and_invalid_values_are_errors_naming_the_key(string toml, string key)
    {
        var error = Assert.Throws<ConfigurationException>(() => ServerConfigLoader.Load(Write(toml), NoEnvironment));
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_toml_and_missing_files_are_errors()
    {
        Assert.Contains("not valid TOML", Assert.Throws<ConfigurationException>(() => ServerConfigLoader.Load(Write("listen_addr = "), NoEnvironment)).Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", Assert.Throws<ConfigurationException>(() => ServerConfigLoader.Load(Path.Combine(_dir, "missing.toml"), NoEnvironment)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_invalid_environment_value_is_an_error_naming_the_key()
    {
        var error = Assert.Throws<ConfigurationException>(() => ServerConfigLoader.Load(null, new Hashtable { ["MODELBOX_METADATA_STORAGE"] = "cassandra" }));
        Assert.Contains("metadata_storage", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.0.0.0:8085", "0.0.0.0", 8085)]
    [InlineData(":2112", "0.0.0.0", 2112)]
    [InlineData("localhost:1", "127.0.0.1", 1)]
    [InlineData("[::]:8085", "::", 8085)]
    [InlineData("127.0.0.1:0", "127.0.0.1", 0)]
    public void Listen_addresses_parse(string text, string address, int port)
    {
        var parsed = ListenAddress.Parse(text, "listen_addr");
        Assert.Equal(IPAddress.Parse(address), parsed.Address);
        Assert.Equal(port, parsed.Port);
    }
}
