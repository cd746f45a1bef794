using Grpc.Core;
using ModelBox.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;

namespace ModelBox.EndToEnd.Tests.Sdk;

[Collection(ServerCollection.Name)]
public sealed class ErrorSdkTests(ModelBoxServerFixture server) : SdkTestBase(server)
{
    [Fact]
    public async Task Unknown_ids_are_not_found_and_named()
    {
        var id = "exp-" + Guid.NewGuid().ToString("N");

        var exception = await Assert.ThrowsAsync<ModelBoxNotFoundException>(() => Client.GetExperimentAsync(id));

        Assert.Equal(StatusCode.NotFound, exception.StatusCode);
        Assert.Contains(id, exception.Message);
        await Assert.ThrowsAsync<ModelBoxNotFoundException>(() => Client.GetModelAsync("mdl-" + Guid.NewGuid().ToString("N")));
        await Assert.ThrowsAsync<ModelBoxNotFoundException>(() => Client.GetModelVersionAsync("mver-" + Guid.NewGuid().ToString("N")));
        await Assert.ThrowsAsync<ModelBoxNotFoundException>(() => Client.GetCheckpointAsync("ckpt-" + Guid.NewGuid().ToString("N")));
        await Assert.ThrowsAsync<ModelBoxNotFoundException>(() => Client.DeleteExperimentAsync(id));
    }

    [Fact]
    public async Task A_missing_name_is_an_invalid_argument_naming_the_field()
    {
        var exception = await Assert.ThrowsAsync<ModelBoxInvalidArgumentException>(
            () => Client.CreateExperimentAsync("", "a@b.c", Namespace, Framework.PyTorch));

        Assert.Equal(StatusCode.InvalidArgument, exception.StatusCode);
        Assert.Contains("name", exception.Message);
        await Assert.ThrowsAsync<ModelBoxInvalidArgumentException>(() => Client.CreateModelAsync("", "a@b.c", Namespace));
    }

    [Fact]
    public async Task A_closed_port_is_unavailable_and_names_the_address()
    {
        var address = $"127.0.0.1:{ModelBoxExecutable.FreePort()}";
        await using var client = new ModelBoxClient(address);

        var exception = await Assert.ThrowsAsync<ModelBoxUnavailableException>(() => client.GetExperimentAsync("exp-0"));

        Assert.Equal(StatusCode.Unavailable, exception.StatusCode);
        Assert.Equal(address, exception.ServerAddress);
        Assert.Contains($"cannot reach ModelBox server at {address}", exception.Message);
        await Assert.ThrowsAsync<ModelBoxUnavailableException>(async () => await client.ListModelsAsync("default").ToListAsync());
    }

    [Fact]
    public async Task Cancellation_surfaces_as_operation_canceled()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Client.GetExperimentAsync("exp-0", cancelled.Token));
    }

    [Theory]
    [InlineData("ftp://host:1")]
    [InlineData("not an address")]
    public void A_malformed_address_is_rejected_up_front(string address)
    {
        Assert.Throws<ArgumentException>(() => new ModelBoxClient(address));
    }

    [Fact]
    public async Task Host_port_and_http_uri_reach_the_same_server()
    {
        var experiment = (await Client.CreateExperimentAsync(Unique("exp"), "a@b.c", Namespace, Framework.PyTorch)).Value;
        await using var viaUri = new ModelBoxClient(Server.Address);

        Assert.Equal(experiment.Id, (await viaUri.GetExperimentAsync(experiment.Id)).Id);
    }
}
