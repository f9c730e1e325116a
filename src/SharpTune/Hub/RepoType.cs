namespace SharpTune.Hub;

/// <summary>The kind of Hugging Face Hub repository. Each kind has its own URL prefix and cache folder prefix.</summary>
public enum RepoType
{
    Model,
    Dataset,
}

/// <summary>How a <see cref="RepoType"/> is spelled in Hub URLs and in the <c>huggingface_hub</c> cache.</summary>
public static class RepoTypeNames
{
    /// <summary>"model" or "dataset", as in the <c>type</c> field of <c>/api/repos/create</c>.</summary>
    public static string Name(this RepoType type) => type == RepoType.Dataset ? "dataset" : "model";

    /// <summary>"models" or "datasets", as in <c>/api/models/{id}</c> and the cache folder <c>models--org--name</c>.</summary>
    public static string Plural(this RepoType type) => type.Name() + "s";

    /// <summary>The prefix of file URLs: "" for models, "datasets/" for datasets (<c>/datasets/{id}/resolve/...</c>).</summary>
    public static string UrlPrefix(this RepoType type) => type == RepoType.Dataset ? "datasets/" : "";

    public static RepoType Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "model" or "models" => RepoType.Model,
        "dataset" or "datasets" => RepoType.Dataset,
        _ => throw new SharpTuneException($"unknown repo type '{text}': use model or dataset"),
    };
}
