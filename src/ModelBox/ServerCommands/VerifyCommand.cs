using System.CommandLine;
using ModelBox.Storage.Relational.Transfer;

namespace ModelBox.Cli.ServerCommands;

/// <summary>`modelbox server verify`: the integrity check of a deployment (docs/reliability.md).</summary>
internal static class VerifyCommand
{
    public static Command Create()
    {
        var configPath = ServerCommand.ConfigPathOption("the deployment to check");
        var sample = new Option<int?>("--sample")
        {
            Description = "Read and hash N blobs picked at random instead of every referenced blob (existence and size are checked for those N), and compare the summaries of N metric series picked at random with their points instead of every series",
        };
        var verify = new Command("verify",
            "Check a deployment's integrity (blobs present with their size and SHA-256, no unreferenced blobs past the sweep grace, "
            + "no orphaned rows, metric series counts, metric summaries against points, change-log continuity); exits 1 on any finding. Safe beside a running server")
        { configPath, sample };
        verify.SetAction(async (parseResult, cancellationToken) =>
        {
            if (parseResult.GetValue(sample) is < 1)
            {
                await Console.Error.WriteLineAsync("error: --sample: must be at least 1");
                return 2;
            }

            return await ServerCommand.RunMaintenanceAsync(parseResult.GetValue(configPath), async config =>
            {
                await using var deployment = Deployment.Open(config, readOnly: true);
                var report = await VerifyAsync(deployment, parseResult.GetValue(sample), cancellationToken);
                return report.Clean ? 0 : 1;
            });
        });
        return verify;
    }

    /// <summary>Verifies <paramref name="deployment"/> and prints the report; also the last step of restore and copy-data.</summary>
    public static async Task<VerifyReport> VerifyAsync(Deployment deployment, int? sample, CancellationToken cancellationToken, bool duringCopy = false)
    {
        var verifier = new DeploymentVerifier(deployment.Dialect, deployment.Blobs, TimeProvider.System);
        var report = await verifier.VerifyAsync(
            new VerifyOptions(sample, TimeSpan.FromSeconds(deployment.Config.ArtifactSweepGraceSeconds)) { DuringCopy = duringCopy },
            new Progress<string>(step => Console.Error.WriteLine($"verifying {step}...")),
            cancellationToken);
        Console.WriteLine($"verified {deployment.Describe}");
        Console.WriteLine($"  rows: {string.Join(", ", report.Rows.Where(r => r.Value > 0).Select(r => $"{r.Key} {r.Value}"))}");
        Console.WriteLine($"  blobs: {report.BlobsReferenced} referenced, {report.BlobsHashed} read and hashed, {report.BlobsStored} stored");
        Console.WriteLine($"  metric summaries: {report.SeriesSummarized} series summarized, {report.SeriesSummaryChecked} compared with their points");
        foreach (var finding in report.Findings)
        {
            Console.WriteLine($"FINDING [{finding.Check}] {finding.Message}");
        }

        Console.WriteLine(report.Clean ? "clean: no findings" : $"{report.Findings.Count} finding(s)");
        return report;
    }
}
