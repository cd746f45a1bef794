using System.CommandLine;
using ModelBox.Client;

namespace ModelBox.Cli.ClientCommands;

/// <summary>The lineage flags of <c>model-versions create</c> and <c>lineage set</c>: where a version came from.</summary>
internal sealed class LineageOptions
{
    public Option<string?> ExperimentId { get; } = new("--experiment-id") { Description = "The experiment it was trained in" };

    public Option<string?> CheckpointId { get; } = new("--checkpoint-id") { Description = "The checkpoint it came from" };

    public Option<string[]> Datasets { get; } = new("--dataset")
    {
        Description = "A dataset version it used, DATASET_VERSION_ID[:training|evaluation] (default training); repeatable",
        HelpName = "id[:role]",
    };

    public Option<string[]> DerivedFrom { get; } = new("--derived-from")
    {
        Description = "A model version it was derived from, VERSION_ID[:relation] (default derived; e.g. fine-tuned, distilled); repeatable",
        HelpName = "id[:relation]",
    };

    public void AddTo(Command command)
    {
        command.Add(ExperimentId);
        command.Add(CheckpointId);
        command.Add(Datasets);
        command.Add(DerivedFrom);
    }

    /// <summary>True when any lineage flag was given.</summary>
    public bool AnyGiven(ParseResult parseResult) =>
        parseResult.GetValue(ExperimentId) is not null || parseResult.GetValue(CheckpointId) is not null
        || parseResult.GetValue(Datasets) is { Length: > 0 } || parseResult.GetValue(DerivedFrom) is { Length: > 0 };

    /// <summary>The lineage the flags describe.</summary>
    public LineageSpec Read(ParseResult parseResult) => new()
    {
        ExperimentId = parseResult.GetValue(ExperimentId),
        CheckpointId = parseResult.GetValue(CheckpointId),
        Datasets = [.. (parseResult.GetValue(Datasets) ?? []).Select(ParseDataset)],
        DerivedFrom = [.. (parseResult.GetValue(DerivedFrom) ?? []).Select(ParseDerivation)],
    };

    private static DatasetLink ParseDataset(string text)
    {
        var (id, role) = Split(text);
        return new DatasetLink(id, role?.ToLowerInvariant() switch
        {
            null or "training" or "train" => DatasetRole.Training,
            "evaluation" or "eval" => DatasetRole.Evaluation,
            _ => throw new CliUsageException($"--dataset '{text}': the role must be training or evaluation"),
        });
    }

    private static DerivationLink ParseDerivation(string text)
    {
        var (id, relation) = Split(text);
        return new DerivationLink(id, relation ?? "derived");
    }

    private static (string Id, string? Suffix) Split(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var id = colon < 0 ? text : text[..colon];
        if (id.Length == 0)
        {
            throw new CliUsageException($"'{text}' names no id");
        }

        return (id, colon < 0 ? null : text[(colon + 1)..]);
    }
}
