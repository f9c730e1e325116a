using System.Text.RegularExpressions;

namespace SharpTune.Hub;

/// <summary>
/// One repository's folder in the cache, laid out exactly like <c>huggingface_hub</c>'s so that Python and .NET
/// share downloads:
/// <code>
/// {cache}/models--org--name/blobs/{etag}                  file contents, named by etag (sha256 for LFS files)
/// {cache}/models--org--name/blobs/{etag}.incomplete       a download in progress (resumed with Range)
/// {cache}/models--org--name/snapshots/{commit}/{path}     relative symlinks to ../../blobs/{etag}
/// {cache}/models--org--name/refs/{revision}               the commit hash a branch or tag pointed to
/// {cache}/.locks/models--org--name/{etag}.lock            held while a blob is written
/// </code>
/// </summary>
public sealed partial class HubRepoCache
{
    [GeneratedRegex("^[A-Za-z0-9_.\\-]{1,128}$")]
    private static partial Regex EtagPattern();

    public HubRepoCache(string cacheDirectory, string repoId, RepoType type)
    {
        HubRepoId.Validate(repoId);
        CacheDirectory = cacheDirectory;
        RepoId = repoId;
        Type = type;
        FolderName = type.Plural() + "--" + repoId.Replace("/", "--", StringComparison.Ordinal);
        Root = Path.Combine(cacheDirectory, FolderName);
    }

    public string CacheDirectory { get; }

    public string RepoId { get; }

    public RepoType Type { get; }

    /// <summary>"models--org--name" or "datasets--org--name".</summary>
    public string FolderName { get; }

    public string Root { get; }

    public string BlobsDirectory => Path.Combine(Root, "blobs");

    public string SnapshotsDirectory => Path.Combine(Root, "snapshots");

    public string BlobPath(string etag) => Path.Combine(BlobsDirectory, CheckEtag(etag));

    public string IncompletePath(string etag) => BlobPath(etag) + ".incomplete";

    public string LockPath(string etag) => Path.Combine(CacheDirectory, ".locks", FolderName, CheckEtag(etag) + ".lock");

    public string SnapshotDirectory(string commit) => Path.Combine(SnapshotsDirectory, CheckCommit(commit));

    public string SnapshotPath(string commit, string path) => RepoFilePath.Under(SnapshotDirectory(commit), path, RepoId);

    public string RefPath(string revision)
    {
        HubRepoId.ValidateRevision(revision);
        return Path.Combine(Root, "refs", revision);
    }

    /// <summary>The commit a revision resolves to from the cache alone: itself if it is a hash, else refs/{revision}.</summary>
    public string? TryResolveCommit(string revision)
    {
        if (HubRepoId.IsCommitHash(revision))
        {
            return revision;
        }

        string path = RefPath(revision);
        return File.Exists(path) && File.ReadAllText(path).Trim() is var commit && HubRepoId.IsCommitHash(commit) ? commit : null;
    }

    /// <summary>Records which commit a branch or tag points to (nothing for a commit hash), written atomically.</summary>
    public void WriteRef(string revision, string commit)
    {
        CheckCommit(commit);
        if (revision == commit)
        {
            return;
        }

        string path = RefPath(revision);
        if (File.Exists(path) && File.ReadAllText(path).Trim() == commit)
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temp = path + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        File.WriteAllText(temp, commit);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>
    /// Points snapshots/{commit}/{path} at blobs/{etag} with a relative symlink (what <c>huggingface_hub</c> makes),
    /// replacing any older link atomically. The blob must already be complete.
    /// </summary>
    public string LinkSnapshot(string commit, string path, string etag)
    {
        string blob = BlobPath(etag);
        if (!File.Exists(blob))
        {
            throw new InvalidOperationException($"blob {etag} is not in the cache");
        }

        string pointer = SnapshotPath(commit, path);
        string directory = Path.GetDirectoryName(pointer)!;
        Directory.CreateDirectory(directory);
        string target = Path.GetRelativePath(directory, blob);
        if (new FileInfo(pointer).LinkTarget == target)
        {
            return pointer;
        }

        string temp = Path.Combine(directory, "." + Path.GetFileName(pointer) + "." + Guid.NewGuid().ToString("N")[..8] + ".link");
        File.CreateSymbolicLink(temp, target);
        File.Move(temp, pointer, overwrite: true);
        return pointer;
    }

    /// <summary>True when snapshots/{commit}/{path} exists and resolves to a complete blob.</summary>
    public bool HasSnapshotFile(string commit, string path) => ResolvesToFile(SnapshotPath(commit, path));

    /// <summary>True when <paramref name="path"/> is a file, or a symlink whose final target is a file.</summary>
    public static bool ResolvesToFile(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is null)
        {
            return info.Exists;
        }

        return info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo { Exists: true };
    }

    private static string CheckEtag(string etag) =>
        EtagPattern().IsMatch(etag) && etag is not ("." or "..") ? etag : throw new SharpTuneException($"the server sent an invalid etag '{etag}'");

    private static string CheckCommit(string commit) =>
        HubRepoId.IsCommitHash(commit) ? commit : throw new SharpTuneException($"the server sent an invalid commit hash '{commit}'");
}
