namespace SharpTune.Models;

/// <summary>
/// Finds the reference tokenizers (<c>tokenizers/{llama3,qwen3,llama2}/tokenizer.json</c>) used by tiny models:
/// an explicit directory, else <c>$SHARPTUNE_TOKENIZERS</c>, else <c>.tools/tokenizers</c> in the current directory
/// or the tool's directory or any directory above them (a checkout, after <c>build/fetch-tokenizers.sh</c>).
/// </summary>
public static class TokenizerLocator
{
    public const string EnvironmentVariable = "SHARPTUNE_TOKENIZERS";

    /// <summary>
    /// The tokenizer directory to use: <paramref name="explicitDirectory"/> if given (it must hold tokenizer.json),
    /// else the one called <paramref name="name"/> under the tokenizers root.
    /// </summary>
    public static string Find(string name, string? explicitDirectory = null)
    {
        if (explicitDirectory is not null)
        {
            return HasTokenizer(explicitDirectory)
                ? Path.GetFullPath(explicitDirectory)
                : throw new SharpTuneException($"--tokenizer {explicitDirectory}: no tokenizer.json there");
        }

        var tried = new List<string>();
        foreach (string root in Roots())
        {
            string candidate = Path.Combine(root, name);
            if (HasTokenizer(candidate))
            {
                return Path.GetFullPath(candidate);
            }

            tried.Add(candidate);
        }

        throw new SharpTuneException(
            $"no '{name}' tokenizer found (looked in {(tried.Count == 0 ? "nothing" : string.Join(", ", tried))}); " +
            $"run build/fetch-tokenizers.sh, set {EnvironmentVariable}, or pass --tokenizer DIR");
    }

    private static IEnumerable<string> Roots()
    {
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } fromEnvironment)
        {
            yield return fromEnvironment;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                string root = Path.Combine(directory.FullName, ".tools", "tokenizers");
                if (Directory.Exists(root) && seen.Add(root))
                {
                    yield return root;
                }
            }
        }
    }

    private static bool HasTokenizer(string directory) => File.Exists(Path.Combine(directory, "tokenizer.json"));
}
