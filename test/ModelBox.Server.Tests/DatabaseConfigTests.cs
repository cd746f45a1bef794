using System.Collections;
using System.Data.Common;
using ModelBox.Server.Configuration;

namespace ModelBox.Server.Tests;

/// <summary>The [postgres] and [mysql] tables, their environment variables and the connection strings built from them.</summary>
public sealed class DatabaseConfigTests : IDisposable
{
    private static readonly IDictionary NoEnvironment = new Hashtable();
    private readonly string _dir = Directory.CreateTempSubdirectory("modelbox-dbconfig-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string toml)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".toml");
        File.WriteAllText(path, toml);
        return path;
    }

    private static Dictionary<string, string> Parse(string connectionString)
    {
        var builder = new DbConnectionStringBuilder { ConnectionString = connectionString };
        return builder.Keys.Cast<string>().ToDictionary(k => k, k => Convert.ToString(builder[k], System.Globalization.CultureInfo.InvariantCulture)!, StringComparer.OrdinalIgnoreCase);
    }

    [Fact]
    public void Postgres_table_builds_the_connection_string_and_carries_pool_and_timeout()
    {
        var config = ServerConfigLoader.Load(Write("""
            metadata_storage = "postgres"
            [postgres]
            host = "db.internal"
            port = 6432
            user = "mb"
            password = "p;a=s\"s"
            database = "modelbox_prod"
            max_pool_size = 20
            statement_timeout_seconds = 5
            """), NoEnvironment);

        Assert.Equal("postgres", config.MetadataStorage);
        Assert.Equal(20, config.Postgres.MaxPoolSize);
        Assert.Equal(5, config.Postgres.StatementTimeoutSeconds);
        var parts = Parse(config.PostgresConnectionString);
        Assert.Equal("db.internal", parts["Host"]);
        Assert.Equal("6432", parts["Port"]);
        Assert.Equal("mb", parts["Username"]);
        Assert.Equal("p;a=s\"s", parts["Password"]);
        Assert.Equal("modelbox_prod", parts["Database"]);
        Assert.Equal("db.internal:6432/modelbox_prod", config.MetadataLocation);
        Assert.DoesNotContain("p;a", config.MetadataLocation, StringComparison.Ordinal);
    }

    [Fact]
    public void Mysql_table_uses_mysql_keywords_and_its_own_default_port()
    {
        var config = ServerConfigLoader.Load(Write("""
            metadata_storage = "mysql"
            [mysql]
            host = "maria"
            user = "mb"
            database = "mbx"
            """), NoEnvironment);

        var parts = Parse(config.MySqlConnectionString);
        Assert.Equal("maria", parts["Server"]);
        Assert.Equal("3306", parts["Port"]);
        Assert.Equal("mb", parts["User ID"]);
        Assert.Equal("mbx", parts["Database"]);
        Assert.False(parts.ContainsKey("Password"));
        Assert.Equal(5432, config.Postgres.Port);
    }

    [Fact]
    public void A_connection_string_wins_over_the_separate_keys()
    {
        var config = ServerConfigLoader.Load(Write("""
            metadata_storage = "postgres"
            [postgres]
            host = "ignored"
            connection_string = "Host=real;Database=chosen"
            """), NoEnvironment);
        Assert.Equal("Host=real;Database=chosen", config.PostgresConnectionString);
        Assert.Equal("real/chosen", config.MetadataLocation);
    }

    [Fact]
    public void The_named_environment_variables_select_the_backend_and_its_connection_string()
    {
        var path = Write("""
            [postgres]
            connection_string = "Host=from-file"
            [mysql]
            connection_string = "Server=from-file"
            """);
        var postgres = ServerConfigLoader.Load(path, new Hashtable
        {
            ["MODELBOX_METADATA_STORAGE"] = "postgres",
            ["MODELBOX_POSTGRES_CONNECTION_STRING"] = "Host=from-env;Database=x",
            ["MODELBOX_POSTGRES_MAX_POOL_SIZE"] = "7",
            ["MODELBOX_POSTGRES_STATEMENT_TIMEOUT_SECONDS"] = "0",
        });
        Assert.Equal("postgres", postgres.MetadataStorage);
        Assert.Equal("Host=from-env;Database=x", postgres.PostgresConnectionString);
        Assert.Equal(7, postgres.Postgres.MaxPoolSize);
        Assert.Equal(0, postgres.Postgres.StatementTimeoutSeconds);

        var mysql = ServerConfigLoader.Load(path, new Hashtable
        {
            ["MODELBOX_METADATA_STORAGE"] = "mysql",
            ["MODELBOX_MYSQL_CONNECTION_STRING"] = "Server=from-env;Database=y",
        });
        Assert.Equal("mysql", mysql.MetadataStorage);
        Assert.Equal("Server=from-env;Database=y", mysql.MySqlConnectionString);
        Assert.Equal("Host=from-file", mysql.PostgresConnectionString);
    }

    [Fact]
    public void The_environment_variable_names_are_the_documented_ones()
    {
        var variables = ServerConfigLoader.EnvironmentVariables;
        Assert.Equal("MODELBOX_METADATA_STORAGE", variables["metadata_storage"]);
        Assert.Equal("MODELBOX_POSTGRES_CONNECTION_STRING", variables["postgres.connection_string"]);
        Assert.Equal("MODELBOX_MYSQL_CONNECTION_STRING", variables["mysql.connection_string"]);
    }

    [Theory]
    [InlineData("metadata_storage = \"oracle\"", "metadata_storage")]
    [InlineData("[postgres]\nport = 70000", "postgres.port")]
    [InlineData("[mysql]\nmax_pool_size = 0", "mysql.max_pool_size")]
    [InlineData("[postgres]\nstatement_timeout_seconds = -1", "postgres.statement_timeout_seconds")]
    [InlineData("[postgres]\nport = \"5432\"", "postgres.port")]
    [InlineData("metadata_storage = \"postgres\"\n[postgres]\nhost = \"\"", "postgres.host")]
    [InlineData("metadata_storage = \"mysql\"\n[mysql]\ndatabase = \"\"", "mysql.database")]
    [InlineData("metadata_storage = \"postgres\"\n[postgres]\nconnection_string = \"Host='unclosed\"", "postgres.connection_string")]
    [InlineData("[postgres]\nhots = \"x\"", "postgres.hots")]
    public void Bad_database_settings_fail_naming_the_key(string toml, string key)
    {
        var error = Assert.Throws<ConfigurationException>(() => ServerConfigLoader.Load(Write(toml), NoEnvironment));
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_connection_string_is_reported_without_its_password()
    {
        var error = Assert.Throws<ConfigurationException>(() => ServerConfigLoader.Load(null, new Hashtable
        {
            ["MODELBOX_METADATA_STORAGE"] = "postgres",
            ["MODELBOX_POSTGRES_CONNECTION_STRING"] = "Host=x;Password='s3cret",
        }));
        Assert.Contains("postgres.connection_string", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unused_backend_table_is_not_validated()
    {
        var config = ServerConfigLoader.Load(Write("[mysql]\nhost = \"\""), NoEnvironment);
        Assert.Equal("integrated", config.MetadataStorage);
    }
}
