using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using SharpTune.Hub;

namespace SharpTune.Tests.Hub;

/// <summary>One file of a commit: regular (served inline, etag = git blob sha1) or LFS (content in the LFS store, etag = sha256).</summary>
internal sealed record StoredFile(long Size, string GitSha1, string? Sha256, byte[]? Content)
{
    public bool IsLfs => Sha256 is not null;

    public string Etag => Sha256 ?? GitSha1;
}

/// <summary>A repository on the test Hub: commits (file maps), branches, visibility and gating.</summary>
internal sealed class HubRepoState(RepoType type, string id)
{
    public RepoType Type { get; } = type;

    public string Id { get; } = id;

    public bool Private { get; set; }

    /// <summary>Gated repos need a valid token whose user accepted the licence (<see cref="AcceptedTokens"/>).</summary>
    public bool Gated { get; set; }

    public HashSet<string> AcceptedTokens { get; } = [];

    public Dictionary<string, string> Refs { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, IReadOnlyDictionary<string, StoredFile>> Commits { get; } = new(StringComparer.Ordinal);

    public List<(string Commit, string Summary)> History { get; } = [];

    public string? Resolve(string revision) => Commits.ContainsKey(revision) ? revision : Refs.GetValueOrDefault(revision);
}

/// <summary>
/// The test Hub's data: repos with git-like commits, and an LFS object store keyed by sha256. Files above
/// <see cref="LfsThreshold"/> bytes (or with LFS extensions) are stored as LFS, like the real Hub's .gitattributes.
/// </summary>
internal sealed class InMemoryHubStore
{
    private readonly Lock _gate = new();
    private int _commitCounter;

    public ConcurrentDictionary<(RepoType, string), HubRepoState> Repos { get; } = new();

    public ConcurrentDictionary<string, byte[]> Lfs { get; } = new(StringComparer.Ordinal);

    /// <summary>What the CDN serves instead of the stored bytes (fault injection: wrong size, wrong content).</summary>
    public ConcurrentDictionary<string, byte[]> TamperedLfs { get; } = new(StringComparer.Ordinal);

    public long LfsThreshold { get; set; } = 1024;

    public HubRepoState CreateRepo(RepoType type, string id) => Repos.GetOrAdd((type, id), _ =>
    {
        var repo = new HubRepoState(type, id);
        Commit(repo, "main", "initial commit", new Dictionary<string, byte[]> { [".gitattributes"] = Encoding.UTF8.GetBytes("*.safetensors filter=lfs diff=lfs merge=lfs -text\n") });
        return repo;
    });

    public HubRepoState? Find(RepoType type, string id) => Repos.GetValueOrDefault((type, id));

    public bool ShouldBeLfs(string path, long size) =>
        size > LfsThreshold || path.EndsWith(".safetensors", StringComparison.Ordinal) || path.EndsWith(".gguf", StringComparison.Ordinal) || path.EndsWith(".parquet", StringComparison.Ordinal);

    /// <summary>Adds a commit on <paramref name="branch"/> with the given files (new content or replacements).</summary>
    public string Commit(HubRepoState repo, string branch, string summary, IReadOnlyDictionary<string, byte[]> files)
    {
        var stored = files.ToDictionary(f => f.Key, f => Store(f.Key, f.Value));
        return CommitStored(repo, branch, summary, stored);
    }

    public string CommitStored(HubRepoState repo, string branch, string summary, IReadOnlyDictionary<string, StoredFile> changes)
    {
        lock (_gate)
        {
            // A new branch starts from main, except conversion refs ("refs/convert/parquet"), which start empty.
            string? parent = repo.Refs.GetValueOrDefault(branch) ?? (branch.StartsWith("refs/", StringComparison.Ordinal) ? null : repo.Refs.GetValueOrDefault("main"));
            var tree = parent is not null
                ? new Dictionary<string, StoredFile>(repo.Commits[parent], StringComparer.Ordinal)
                : new Dictionary<string, StoredFile>(StringComparer.Ordinal);
            foreach (var (path, file) in changes)
            {
                tree[path] = file;
            }

            string commit = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes($"{repo.Id}\n{parent}\n{summary}\n{++_commitCounter}")));
            repo.Commits[commit] = tree;
            repo.Refs[branch] = commit;
            repo.History.Add((commit, summary));
            return commit;
        }
    }

    public StoredFile Store(string path, byte[] content)
    {
        if (ShouldBeLfs(path, content.Length))
        {
            string sha = Convert.ToHexStringLower(SHA256.HashData(content));
            Lfs[sha] = content;
            return new StoredFile(content.Length, GitSha1(Encoding.ASCII.GetBytes(LfsPointer(sha, content.Length))), sha, null);
        }

        return new StoredFile(content.Length, GitSha1(content), null, content);
    }

    public byte[] Content(StoredFile file) => file.Content ?? Lfs[file.Sha256!];

    public static string LfsPointer(string sha256, long size) => $"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n";

    public static string GitSha1(byte[] content) =>
        Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {content.Length}\0"), .. content]));
}
