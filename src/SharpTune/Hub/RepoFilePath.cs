namespace SharpTune.Hub;

/// <summary>
/// A file path inside a repository, as the server names it ("model-00001-of-00002.safetensors", "data/train.parquet").
/// Names come from the network, so each one is checked before it becomes a path on disk: no absolute paths, no ".."
/// or "." segments, no backslashes, drive letters or control characters.
/// </summary>
public static class RepoFilePath
{
    public static bool IsSafe(string? path)
    {
        if (string.IsNullOrEmpty(path) || path.Length > 4096 || path[0] == '/' || path.Contains('\\') || path.Contains(':'))
        {
            return false;
        }

        foreach (var segment in path.Split('/'))
        {
            if (segment is "" or "." or ".." || segment.Any(char.IsControl))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Throws a <see cref="SharpTuneException"/> naming the repo when <paramref name="path"/> is not safe.</summary>
    public static string Check(string? path, string repoId)
    {
        if (!IsSafe(path))
        {
            throw new SharpTuneException($"{repoId}: the server named an unsafe file path '{path}' (absolute, '..' or invalid); refusing to write it");
        }

        return path!;
    }

    /// <summary>The path under <paramref name="root"/>, checked again after normalisation to stay inside it.</summary>
    public static string Under(string root, string path, string repoId)
    {
        Check(path, repoId);
        string full = Path.GetFullPath(Path.Combine(root, path));
        string rootFull = Path.GetFullPath(root).TrimEnd('/') + "/";
        if (!full.StartsWith(rootFull, StringComparison.Ordinal))
        {
            throw new SharpTuneException($"{repoId}: the file path '{path}' leaves the target folder; refusing to write it");
        }

        return full;
    }

    /// <summary>Percent-encodes each segment of a repo path for a URL, keeping the slashes.</summary>
    public static string EscapeForUrl(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));
}
