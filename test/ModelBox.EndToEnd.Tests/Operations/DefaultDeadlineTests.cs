using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using ModelBox.Protocol;
using ModelBox.Server.Configuration;
using ModelBox.Server.Hosting;
using ModelBox.Cli.Hosting;

namespace ModelBox.EndToEnd.Tests.Operations;

/// <summary>A unary call sent without a deadline gets the server's default one (limits.unary_deadline_seconds).</summary>
public sealed class DefaultDeadlineTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("modelbox-deadline-").FullName;
    private ModelBoxServer? _server;

    public async Task InitializeAsync()
    {
        _server = ServerStorage.CreateServer(
            new ServerConfig
            {
                ListenAddr = "127.0.0.1:0",
                HttpListenAddr = "127.0.0.1:0",
                PrometheusListenAddr = "127.0.0.1:0",
                DataDir = _dir,
                UnaryDeadlineSeconds = 1,
            },
            logging => logging.SetMinimumLevel(LogLevel.Critical));
        await _server.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.StopAsync();
            await _server.DisposeAsync();
        }

        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_call_without_a_deadline_that_cannot_finish_ends_with_deadline_exceeded()
    {
        using var channel = GrpcChannel.ForAddress(_server!.GrpcAddress);
        var client = new ModelStore.ModelStoreClient(channel);
        await client.CreateExperimentAsync(new CreateExperimentRequest { Name = "before" });

        // Another process holds SQLite's write lock: the server's write waits for its busy timeout (5 s), longer than
        // the 1 s default deadline the call receives because it was sent without one.
        await using (var holder = new SqliteConnection($"Data Source={_server.Config.SqliteDatabasePath};Pooling=False"))
        {
            await holder.OpenAsync();
            await using var transaction = (SqliteTransaction)await holder.BeginTransactionAsync(System.Data.IsolationLevel.Serializable);
            await using (var command = holder.CreateCommand())
            {
                command.Transaction = transaction;
                command.CommandText = "INSERT INTO namespaces (name, created_at) VALUES ('lock-holder', 0)";
                await command.ExecuteNonQueryAsync();
            }

            var error = await Assert.ThrowsAsync<RpcException>(() =>
                client.CreateExperimentAsync(new CreateExperimentRequest { Name = "blocked" }).ResponseAsync);
            Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
            await transaction.RollbackAsync();
        }

        // The server is fine afterwards.
        var after = await client.CreateExperimentAsync(new CreateExperimentRequest { Name = "after" });
        Assert.False(after.ExperimentExists);
    }
}
