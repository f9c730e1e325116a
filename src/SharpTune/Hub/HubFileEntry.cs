using System.Text.Json;

namespace SharpTune.Hub;

/// <summary>
/// A file of a repository at a commit, from the tree listing (<c>/api/{type}s/{id}/tree/{revision}?recursive=true</c>).
/// <see cref="GitOid"/> is the git blob sha1; LFS files also have <see cref="LfsSha256"/>, which is their etag and the
/// name of their blob in the cache.
/// </summary>
public sealed record HubFileEntry(string Path, long Size, string? GitOid, string? LfsSha256)
{
    public bool IsLfs => LfsSha256 is not null;

    /// <summary>The etag the Hub serves for the file: the sha256 for LFS files, the git blob sha1 otherwise.</summary>
    public string? Etag => LfsSha256 ?? GitOid;

    /// <summary>Reads the files (not directories) of one page of a tree listing; unsafe paths are rejected.</summary>
    internal static List<HubFileEntry> ParseTree(string json, string repoId)
    {
        var entries = new List<HubFileEntry>();
        using var document = JsonDocument.Parse(json);
        if (document.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new SharpTuneException($"{repoId}: the tree listing is not a JSON array");
        }

        foreach (var item in document.RootElement.EnumerateArray())
        {
            if (item.TryGetProperty("type", out var type) && type.GetString() != "file")
            {
                continue;
            }

            string path = RepoFilePath.Check(item.TryGetProperty("path", out var p) ? p.GetString() : null, repoId);
            long size = item.TryGetProperty("size", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetInt64() : -1;
            string? oid = item.TryGetProperty("oid", out var o) ? o.GetString() : null;
            string? sha256 = null;
            if (item.TryGetProperty("lfs", out var lfs) && lfs.ValueKind == JsonValueKind.Object)
            {
                sha256 = lfs.TryGetProperty("oid", out var lo) ? lo.GetString() : null;
                if (lfs.TryGetProperty("size", out var ls) && ls.ValueKind == JsonValueKind.Number)
                {
                    size = ls.GetInt64();
                }
            }

            entries.Add(new HubFileEntry(path, size, oid, sha256));
        }

        return entries;
    }
}
