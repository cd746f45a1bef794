using Grpc.Core;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;

namespace ModelBox.EndToEnd.Tests.Replicas;

/// <summary>
/// Two replicas with auth enforced and a one-second access refresh: the admin is bootstrapped before they start (so
/// neither makes one of its own).
/// </summary>
public abstract class EnforcedReplicaPair(string backend) : ReplicaPair(backend)
{
    public string AdminToken { get; private set; } = string.Empty;

    protected override IReadOnlyDictionary<string, string> Settings { get; } = new Dictionary<string, string>
    {
        ["MODELBOX_AUTH_MODE"] = "enforced",
        ["MODELBOX_AUTH_REFRESH_SECONDS"] = "1",
    };

    protected override async Task PrepareAsync(IReadOnlyDictionary<string, string> environment, string workingDirectory)
    {
        var bootstrap = await ModelBoxExecutable.RunAsync(["server", "bootstrap-admin", "--name", "ops"], environment, workingDirectory);
        Assert.True(bootstrap.ExitCode == 0, bootstrap.Stderr);
        AdminToken = bootstrap.Stdout.Trim();
    }
}

/// <summary>Two enforcing replicas on PostgreSQL: LISTEN/NOTIFY wakes the other replica's watchers.</summary>
public sealed class PostgresEnforcedReplicaPair() : EnforcedReplicaPair("postgres");

/// <summary>Two enforcing replicas on MariaDB: each polls the change log for the other's commits.</summary>
public sealed class MySqlEnforcedReplicaPair() : EnforcedReplicaPair("mysql");

/// <summary>A revocation made through one replica holds on the other within seconds: for new calls and for an open watch.</summary>
public abstract class ReplicaAccessTests<TPair>(TPair replicas) : IClassFixture<TPair>
    where TPair : EnforcedReplicaPair
{
    /// <summary>Far above the one-second refresh: how long the other replica may take before it must refuse.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly string _ns = "rep-acl-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task A_token_revoked_through_one_replica_is_refused_by_the_other_and_ends_its_open_watch()
    {
        var adminA = AccessOf(replicas.A, replicas.AdminToken);
        var storeA = Store(replicas.A, replicas.AdminToken);
        var user = "user:reader-" + Guid.NewGuid().ToString("N")[..6];
        await adminA.CreatePrincipalAsync(new CreatePrincipalRequest { Principal = user });
        await adminA.SetGrantAsync(new SetGrantRequest { Principal = user, Namespace = _ns, Role = "viewer" });
        var created = await adminA.CreateTokenAsync(new CreateTokenRequest { Principal = user, Description = "replica test" });
        var experiment = await storeA.CreateExperimentAsync(new CreateExperimentRequest { Namespace = _ns, Name = "seen" });

        var readerB = Store(replicas.B, created.Token);
        Assert.Equal(experiment.ExperimentId, (await GetOnceGrantedAsync(readerB, experiment.ExperimentId)).Id);
        using var cancel = new CancellationTokenSource(Patience);
        using var watch = readerB.WatchNamespace(new WatchNamespaceRequest { Namespace = _ns }, cancellationToken: cancel.Token);
        Assert.True(await watch.ResponseStream.MoveNext(cancel.Token));
        Assert.Equal(experiment.ExperimentId, watch.ResponseStream.Current.ObjectId);

        await adminA.RevokeTokenAsync(new RevokeTokenRequest { Prefix = created.Info.Prefix });

        // The watch on B ends UNAUTHENTICATED at a change once B has seen the revocation; changes made before that may
        // still come through.
        var ended = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            for (var i = 0; ; i++)
            {
                await storeA.CreateExperimentAsync(new CreateExperimentRequest { Namespace = _ns, Name = $"after-{i}" });
                Assert.True(await watch.ResponseStream.MoveNext(cancel.Token));
            }
        });
        Assert.Equal(StatusCode.Unauthenticated, ended.StatusCode);
        Assert.Contains("revoked", ended.Status.Detail, StringComparison.Ordinal);

        // And once B refused, new calls on B are refused too.
        var refused = await Assert.ThrowsAsync<RpcException>(
            async () => await readerB.GetExperimentAsync(new GetExperimentRequest { Id = experiment.ExperimentId }));
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        replicas.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_grant_removed_through_one_replica_is_refused_by_the_other()
    {
        var adminA = AccessOf(replicas.A, replicas.AdminToken);
        var storeA = Store(replicas.A, replicas.AdminToken);
        var user = "user:editor-" + Guid.NewGuid().ToString("N")[..6];
        await adminA.CreatePrincipalAsync(new CreatePrincipalRequest { Principal = user });
        await adminA.SetGrantAsync(new SetGrantRequest { Principal = user, Namespace = _ns, Role = "viewer" });
        var token = (await adminA.CreateTokenAsync(new CreateTokenRequest { Principal = user })).Token;
        var experiment = await storeA.CreateExperimentAsync(new CreateExperimentRequest { Namespace = _ns, Name = "granted" });
        var readerB = Store(replicas.B, token);
        await GetOnceGrantedAsync(readerB, experiment.ExperimentId);

        await adminA.RemoveGrantAsync(new RemoveGrantRequest { Principal = user, Namespace = _ns });

        using var cancel = new CancellationTokenSource(Patience);
        var denied = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (true)
            {
                cancel.Token.ThrowIfCancellationRequested();
                await readerB.GetExperimentAsync(new GetExperimentRequest { Id = experiment.ExperimentId }, cancellationToken: cancel.Token);
                // Still served from B's cache of the access version; ask again shortly.
                await Task.Delay(TimeSpan.FromMilliseconds(100), cancel.Token);
            }
        });
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        replicas.AssertNoErrorsLogged();
    }

    /// <summary>
    /// Reads the experiment through a replica once it has seen the grant made through the other: it serves from its cache
    /// of the access version for up to the refresh interval, so the first calls may still be refused.
    /// </summary>
    private static async Task<Experiment> GetOnceGrantedAsync(ModelStore.ModelStoreClient reader, string id)
    {
        using var cancel = new CancellationTokenSource(Patience);
        while (true)
        {
            try
            {
                return (await reader.GetExperimentAsync(new GetExperimentRequest { Id = id }, cancellationToken: cancel.Token)).Experiment;
            }
            catch (RpcException exception) when (exception.StatusCode == StatusCode.PermissionDenied)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), cancel.Token);
            }
        }
    }

    private static ModelStore.ModelStoreClient Store(ModelBoxProcess replica, string token) => new(replica.WithToken(token));

    private static Access.AccessClient AccessOf(ModelBoxProcess replica, string token) => new(replica.WithToken(token));
}

public sealed class PostgresReplicaAccessTests(PostgresEnforcedReplicaPair replicas) : ReplicaAccessTests<PostgresEnforcedReplicaPair>(replicas);

public sealed class MySqlReplicaAccessTests(MySqlEnforcedReplicaPair replicas) : ReplicaAccessTests<MySqlEnforcedReplicaPair>(replicas);
