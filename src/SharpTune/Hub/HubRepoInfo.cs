using System.Text.Json;

namespace SharpTune.Hub;

/// <summary>A repository's metadata from <c>/api/{type}s/{id}[/revision/{revision}]</c>: its commit and file names.</summary>
public sealed record HubRepoInfo(string Id, string Sha, bool Private, string? Gated, IReadOnlyList<string> Files)
{
    internal static HubRepoInfo Parse(string json, string repoId)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        string id = root.TryGetProperty("id", out var i) && i.GetString() is { } text ? text : repoId;
        string sha = root.TryGetProperty("sha", out var s) && s.GetString() is { } hash ? hash : "";
        if (!HubRepoId.IsCommitHash(sha))
        {
            throw new SharpTuneException($"{repoId}: the Hub's repo info has no valid commit hash ('sha')");
        }

        bool isPrivate = root.TryGetProperty("private", out var p) && p.ValueKind == JsonValueKind.True;
        string? gated = root.TryGetProperty("gated", out var g) ? g.ValueKind switch
        {
            JsonValueKind.String => g.GetString(),
            JsonValueKind.True => "true",
            _ => null,
        } : null;
        var files = new List<string>();
        if (root.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array)
        {
            foreach (var sibling in siblings.EnumerateArray())
            {
                if (sibling.TryGetProperty("rfilename", out var name) && name.GetString() is { } file)
                {
                    files.Add(RepoFilePath.Check(file, repoId));
                }
            }
        }

        return new HubRepoInfo(id, sha, isPrivate, gated, files);
    }
}
