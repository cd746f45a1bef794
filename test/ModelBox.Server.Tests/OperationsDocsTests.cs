using System.Diagnostics.Metrics;
using System.Reflection;
using ModelBox.Domain.Telemetry;
using ModelBox.Server.Configuration;

namespace ModelBox.Server.Tests;

/// <summary>docs/operations.md cannot drift from the code: its configuration table and metric list are checked here.</summary>
public sealed class OperationsDocsTests
{
    private static string Docs()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ModelBox.slnx")))
        {
            dir = dir.Parent;
        }

        Assert.NotNull(dir);
        return File.ReadAllText(Path.Combine(dir.FullName, "docs", "operations.md"));
    }

    [Fact]
    public void The_configuration_reference_matches_the_key_table()
    {
        var docs = Docs();
        const string Start = "<!-- config-reference:start -->\n";
        const string End = "<!-- config-reference:end -->";
        var from = docs.IndexOf(Start, StringComparison.Ordinal) + Start.Length;
        var to = docs.IndexOf(End, StringComparison.Ordinal);
        Assert.True(from > Start.Length && to > from, "docs/operations.md lacks the config-reference markers");
        Assert.True(
            docs[from..to] == ServerConfigLoader.ReferenceMarkdown(),
            "docs/operations.md is out of date: paste the output of `dotnet run --project src/ModelBox -- server config-reference` between the markers");
    }

    [Fact]
    public void Every_modelbox_metric_is_documented_under_its_prometheus_name()
    {
        var docs = Docs();
        var instruments = typeof(ModelBoxMetrics).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => f.GetValue(null)).OfType<Instrument>().ToList();
        Assert.NotEmpty(instruments);
        foreach (var instrument in instruments)
        {
            var name = instrument.Name.Replace('.', '_');
            var exported = instrument switch
            {
                Counter<long> or Counter<double> => name + "_total",
                Histogram<double> when instrument.Unit == "s" => name + "_seconds",
                _ => name,
            };
            Assert.Contains($"`{exported}`", docs, StringComparison.Ordinal);
        }
    }
}
