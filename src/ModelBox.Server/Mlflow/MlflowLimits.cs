using ModelBox.Domain;

namespace ModelBox.Server.Mlflow;

/// <summary>MLflow's documented limits (REST reference, mlflow/utils/validation.py), checked where a request enters.</summary>
public static class MlflowLimits
{
    /// <summary>The most runs one search checks in memory (LIKE, ILIKE, an order by a metric, param or tag).</summary>
    public const int MaxRunsCheckedInMemory = 10_000;

    public const int MaxKeyLength = 250;
    public const int MaxParamValueLength = 6000;
    public const int MaxTagValueLength = 8000;
    public const int MaxBatchMetrics = 1000;
    public const int MaxBatchParams = 100;
    public const int MaxBatchTags = 100;
    public const int MaxBatchEntries = 1000;
    public const int MaxSearchResults = 50_000;
    public const int DefaultSearchRuns = 1000;
    public const int DefaultSearchExperiments = 1000;
    public const int MaxRunNameLength = 250;
    public const int MaxExperimentIdsPerSearch = 64;

    /// <summary>A metric, param or tag key: 1 to 250 characters of MLflow's allowed set (letters, digits, _ - . space / :).</summary>
    public static string Key(string? key, string what)
    {
        if (string.IsNullOrEmpty(key))
        {
            throw MlflowException.Invalid($"Missing value for required parameter '{what}'.");
        }

        if (key.Length > MaxKeyLength)
        {
            throw MlflowException.Invalid($"{what} '{key[..32]}...' had length {key.Length}, which exceeded length limit of {MaxKeyLength}");
        }

        foreach (var c in key)
        {
            if (!(char.IsLetterOrDigit(c) || c is '_' or '-' or '.' or ' ' or '/' or ':'))
            {
                throw MlflowException.Invalid(
                    $"Invalid value \"{key}\" for parameter '{what}' supplied: Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).");
            }
        }

        if (key.StartsWith('/') || key.Contains("..", StringComparison.Ordinal) || key.Contains("//", StringComparison.Ordinal))
        {
            throw MlflowException.Invalid($"Invalid value \"{key}\" for parameter '{what}' supplied: Names may be treated as files in certain cases, and must not resolve to other names when treated as such.");
        }

        return key;
    }

    public static string Value(string? value, string what, string key, int limit)
    {
        value ??= string.Empty;
        return value.Length > limit
            ? throw MlflowException.Invalid($"{what} '{key}' had length {value.Length}, which exceeded length limit of {limit}")
            : value;
    }

    public static int MaxResults(long? requested, int fallback)
    {
        if (requested is null or 0)
        {
            return fallback;
        }

        return requested is < 0 or > MaxSearchResults
            ? throw MlflowException.Invalid($"Invalid value {requested} for parameter 'max_results' supplied. It must be at most {MaxSearchResults}, and at least 1.")
            : (int)requested;
    }

    /// <summary>ModelBox pages are at most <see cref="PageRequest.MaxPageSize"/>; a larger MLflow page comes back in several, with a token.</summary>
    public static int PageSize(int maxResults) => Math.Min(maxResults, PageRequest.MaxPageSize);
}
