using ModelBox.Domain;

namespace ModelBox.Server.Services;

/// <summary>
/// Names the inputs of domain operations (<see cref="InputName"/>) as the wire contract does, for error messages. The
/// domain names an input in words, parts after '.' (<c>files[2].parent id</c>); the proto field of each part is listed
/// below when it is not the same word, and an RPC that nests an input in another message says so here.
/// </summary>
internal static class WireNames
{
    // Domain name of an input → its proto field.
    private static readonly Dictionary<string, string> s_fields = new(StringComparer.Ordinal)
    {
        ["experiment id"] = "experiment_id",
        ["checkpoint id"] = "checkpoint_id",
        ["model id"] = "model_id",
        ["version id"] = "version_id",
        ["object id"] = "object_id",
        ["subject id"] = "subject_id",
        ["dataset id"] = "dataset_id",
        ["dataset version id"] = "dataset_version_id",
        ["parent id"] = "parent_id",
        ["batch id"] = "batch_id",
        ["upload id"] = "upload_id",
        ["external id"] = "external_id",
        ["unique tags"] = "unique_tags",
        ["derived from"] = "derived_from",
        ["page size"] = "page_size",
        ["page token"] = "page_token",
        ["next page token"] = "next_page_token",
        ["label selector"] = "label_selector",
        ["order by"] = "order_by",
        ["start step"] = "start_step",
        ["end step"] = "end_step",
        ["max points"] = "max_points",
        ["x axis"] = "x_axis",
        ["parent ids"] = "parent_ids",
        ["wallclock time"] = "wallclock_time",
        ["file type"] = "file_type",
        ["size"] = "size_bytes",
        ["float value"] = "f_val",
        ["double value"] = "d_val",
        ["string tensor"] = "s_tensor",
        ["bytes tensor"] = "b_tensor",
    };

    /// <summary>The wire name of <paramref name="input"/> in a call of <paramref name="method"/> (<c>/modelbox.ModelStore/UploadFile</c>).</summary>
    public static string Of(InputName input, string method)
    {
        var name = string.Join('.', input.Path.Split('.').Select(Field));
        return (method[(method.LastIndexOf('/') + 1)..], name) switch
        {
            // An upload describes its file in its first frame, the metadata.
            ("UploadFile", _) when name.StartsWith("file.", StringComparison.Ordinal) => "metadata." + name["file.".Length..],
            // An event names its source in a message of its own.
            ("LogEvent", "event.source") => "event.source.name",
            _ => name,
        };
    }

    /// <summary>One part of a name: its words become the proto field, an element index stays.</summary>
    private static string Field(string part)
    {
        var index = part.IndexOf('[', StringComparison.Ordinal);
        var words = index < 0 ? part : part[..index];
        return (s_fields.TryGetValue(words, out var field) ? field : words) + (index < 0 ? string.Empty : part[index..]);
    }
}
