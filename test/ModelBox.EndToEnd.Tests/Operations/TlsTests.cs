using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using ModelBox.Protocol;
using ModelBox.Server.Configuration;
using ModelBox.Server.Hosting;
using ModelBox.Cli.Hosting;

namespace ModelBox.EndToEnd.Tests.Operations;

/// <summary>TLS on the gRPC listener from PEM files, with a self-signed certificate made by the test.</summary>
public sealed class TlsTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("modelbox-tls-").FullName;
    private X509Certificate2? _certificate;
    private ModelBoxServer? _server;

    public async Task InitializeAsync()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        _certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certPath = Path.Combine(_dir, "server.crt");
        var keyPath = Path.Combine(_dir, "server.key");
        await File.WriteAllTextAsync(certPath, _certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(keyPath, key.ExportPkcs8PrivateKeyPem());

        _server = ServerStorage.CreateServer(
            new ServerConfig
            {
                ListenAddr = "127.0.0.1:0",
                HttpListenAddr = "127.0.0.1:0",
                PrometheusListenAddr = "127.0.0.1:0",
                DataDir = Path.Combine(_dir, "data"),
                TlsCertFile = certPath,
                TlsKeyFile = keyPath,
            },
            logging => logging.SetMinimumLevel(LogLevel.Warning));
        await _server.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.StopAsync();
            await _server.DisposeAsync();
        }

        _certificate?.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_client_trusting_the_certificate_talks_grpc_over_tls()
    {
        Assert.StartsWith("https://", _server!.GrpcAddress, StringComparison.Ordinal);
        using var handler = new HttpClientHandler
        {
            // Trust exactly the test's certificate, as a client configured with its CA would.
            ServerCertificateCustomValidationCallback = (_, presented, _, _) => presented?.Thumbprint == _certificate!.Thumbprint,
        };
        using var channel = GrpcChannel.ForAddress(_server.GrpcAddress, new GrpcChannelOptions { HttpHandler = handler });
        var client = new ModelStore.ModelStoreClient(channel);
        var created = await client.CreateExperimentAsync(new CreateExperimentRequest { Name = "over-tls" });
        var got = await client.GetExperimentAsync(new GetExperimentRequest { Id = created.ExperimentId });
        Assert.Equal("over-tls", got.Experiment.Name);
    }

    [Fact]
    public async Task A_client_that_does_not_trust_the_certificate_is_refused()
    {
        using var channel = GrpcChannel.ForAddress(_server!.GrpcAddress);
        var client = new ModelStore.ModelStoreClient(channel);
        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetServerInfoAsync(new GetServerInfoRequest()).ResponseAsync);
        // Grpc.Net.Client reports a failed certificate validation as INTERNAL carrying the TLS error.
        Assert.Contains("SSL", error.Status.DebugException?.ToString() ?? error.Status.Detail, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_cleartext_client_cannot_talk_to_the_tls_listener()
    {
        using var channel = GrpcChannel.ForAddress(_server!.GrpcAddress.Replace("https://", "http://", StringComparison.Ordinal));
        var client = new ModelStore.ModelStoreClient(channel);
        await Assert.ThrowsAsync<RpcException>(() => client.GetServerInfoAsync(new GetServerInfoRequest()).ResponseAsync);
    }
}
