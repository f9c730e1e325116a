using System.Text.RegularExpressions;

namespace SharpTune.Hub;

/// <summary>
/// Checks the names that go into Hub URLs and cache paths: repo ids ("org/name" or "name") and revisions (a branch,
/// tag, commit hash, or "refs/convert/parquet"). A bad name is a user error with one clear line.
/// </summary>
public static partial class HubRepoId
{
    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.\-]*(/[A-Za-z0-9_.\-]+)?$")]
    private static partial Regex RepoIdPattern();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitHashPattern();

    public static void Validate(string repoId)
    {
        if (string.IsNullOrWhiteSpace(repoId) || repoId.Length > 96 || !RepoIdPattern().IsMatch(repoId)
            || repoId.Contains("--", StringComparison.Ordinal) || repoId.Contains("..", StringComparison.Ordinal)
            || repoId.EndsWith('.') || repoId.EndsWith('-'))
        {
            throw new SharpTuneException($"'{repoId}' is not a valid repo id: expected 'org/name' (letters, digits, '-', '_', '.')");
        }
    }

    public static void ValidateRevision(string revision)
    {
        if (string.IsNullOrWhiteSpace(revision) || revision.StartsWith('/') || revision.EndsWith('/')
            || revision.Split('/').Any(part => part is "" or "." or "..") || revision.Any(c => char.IsControl(c) || c == '\\'))
        {
            throw new SharpTuneException($"'{revision}' is not a valid revision: expected a branch, tag or commit hash");
        }
    }

    /// <summary>True for a full 40-character lowercase hexadecimal git commit hash.</summary>
    public static bool IsCommitHash(string? text) => text is not null && CommitHashPattern().IsMatch(text);
}
