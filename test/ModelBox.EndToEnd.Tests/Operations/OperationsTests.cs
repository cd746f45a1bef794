using System.Globalization;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Grpc.Reflection.V1Alpha;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Operations;

/// <summary>What operators see: Prometheus metrics, health, reflection, server info, limits.</summary>
[Collection(ServerCollection.Name)]
public sealed class OperationsTests(ModelBoxServerFixture server) : IDisposable
{
    private readonly HttpClient _http = new();

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task Prometheus_metrics_count_calls_by_method_and_status_and_include_runtime_figures()
    {
        const string Method = "/modelbox.ModelStore/CreateExperiment";
        var before = await ScrapeAsync();
        var okBefore = Sample(before, "modelbox_rpc_calls_total", Method, "OK");
        var invalidBefore = Sample(before, "modelbox_rpc_calls_total", Method, "InvalidArgument");

        using var channel = GrpcChannel.ForAddress(server.Address);
        var client = new ModelStore.ModelStoreClient(channel);
        await client.CreateExperimentAsync(new CreateExperimentRequest { Name = "scraped-" + Guid.NewGuid().ToString("N") });
        await client.CreateExperimentAsync(new CreateExperimentRequest { Name = "scraped-" + Guid.NewGuid().ToString("N") });
        await Assert.ThrowsAsync<RpcException>(() => client.CreateExperimentAsync(new CreateExperimentRequest()).ResponseAsync);

        var after = await ScrapeAsync();
        Assert.True(Sample(after, "modelbox_rpc_calls_total", Method, "OK") >= okBefore + 2, after);
        Assert.True(Sample(after, "modelbox_rpc_calls_total", Method, "InvalidArgument") >= invalidBefore + 1);
        Assert.Contains("modelbox_rpc_duration_seconds_bucket", after, StringComparison.Ordinal);
        Assert.Contains("process_cpu_seconds_total", after, StringComparison.Ordinal);
        Assert.Contains("dotnet_total_memory_bytes", after, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_metrics_listener_serves_only_metrics_and_the_grpc_listener_no_metrics()
    {
        var response = await _http.GetAsync(new Uri(server.PrometheusAddress + "/api/v1/namespaces"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Health_reports_serving_for_the_server_the_service_and_liveness()
    {
        using var channel = GrpcChannel.ForAddress(server.Address);
        var health = new Health.HealthClient(channel);
        foreach (var service in new[] { "", "modelbox.ModelStore", "liveness" })
        {
            var response = await health.CheckAsync(new HealthCheckRequest { Service = service });
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
        }
    }

    [Fact]
    public async Task A_health_probe_while_the_server_drains_is_not_serving_and_logs_no_error()
    {
        var own = new ModelBoxServerFixture();
        await own.InitializeAsync();
        try
        {
            var checks = own.Server.Services.GetRequiredService<HealthCheckService>();
            Assert.Equal(HealthStatus.Healthy, (await checks.CheckHealthAsync()).Status);

            own.Server.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
            var draining = await checks.CheckHealthAsync(check => check.Name == "metadata_store");

            Assert.Equal(HealthStatus.Unhealthy, draining.Status);
            Assert.Equal("the server is shutting down", draining.Entries["metadata_store"].Description);
            Assert.Empty(own.LoggedErrors);
        }
        finally
        {
            await own.DisposeAsync();
        }
    }

    [Fact]
    public async Task Reflection_lists_and_describes_the_services_as_grpcurl_would()
    {
        using var channel = GrpcChannel.ForAddress(server.Address);
        var reflection = new ServerReflection.ServerReflectionClient(channel);
        using var call = reflection.ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { FileContainingSymbol = "modelbox.ModelStore" });
        await call.RequestStream.CompleteAsync();

        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var services = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("modelbox.ModelStore", services);
        Assert.Contains("grpc.health.v1.Health", services);

        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var files = call.ResponseStream.Current.FileDescriptorResponse.FileDescriptorProto
            .Select(bytes => Google.Protobuf.Reflection.FileDescriptorProto.Parser.ParseFrom(bytes)).ToList();
        var modelStore = files.SelectMany(f => f.Service).Single(s => s.Name == "ModelStore");
        Assert.Contains(modelStore.Method, m => m.Name == "CreateExperiment");
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None));
    }

    [Fact]
    public async Task Server_info_reports_version_and_backends()
    {
        using var channel = GrpcChannel.ForAddress(server.Address);
        var info = await new ModelStore.ModelStoreClient(channel).GetServerInfoAsync(new GetServerInfoRequest());
        Assert.Matches(@"^\d+\.\d+\.\d+", info.Version);
        Assert.Equal("integrated", info.MetadataStorage);
        Assert.Equal("filesystem", info.ArtifactStorage);
        Assert.True(info.StartedAt.ToDateTimeOffset() <= DateTimeOffset.UtcNow);
    }

    [Fact]
    public async Task A_message_over_the_size_limit_is_resource_exhausted_and_the_server_keeps_serving()
    {
        using var channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { MaxSendMessageSize = null });
        var client = new ModelStore.ModelStoreClient(channel);
        var huge = new string('x', server.Server.Config.MaxMessageSizeBytes + 1);
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            client.CreateExperimentAsync(new CreateExperimentRequest { Name = "huge", Description = huge }).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        var ok = await client.CreateExperimentAsync(new CreateExperimentRequest { Name = "after-huge-" + Guid.NewGuid().ToString("N") });
        Assert.False(ok.ExperimentExists);
    }

    private async Task<string> ScrapeAsync() => await _http.GetStringAsync(new Uri(server.PrometheusAddress + "/metrics"));

    private static double Sample(string exposition, string name, string method, string code)
    {
        foreach (var line in exposition.Split('\n'))
        {
            if (line.StartsWith(name + "{", StringComparison.Ordinal)
                && line.Contains($"method=\"{method}\"", StringComparison.Ordinal)
                && line.Contains($"code=\"{code}\"", StringComparison.Ordinal))
            {
                return double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }
}
