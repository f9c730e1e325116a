using System.Text.RegularExpressions;

namespace SharpTune.Pipeline.Cache;

/// <summary>
/// The content-addressed artifact cache: <c>&lt;root&gt;/&lt;Stage&gt;/&lt;key&gt;/</c> holds a stage's output and its
/// <c>complete.json</c>. Only a directory with the final name and a valid marker for that key is a hit; partial,
/// half-renamed or marker-less directories never are.
/// </summary>
public sealed partial class ArtifactCache
{
    /// <summary>The environment variable that moves the cache (the pipeline's <c>cache:</c> and --cache win over it).</summary>
    public const string DirectoryVariable = "SHARPTUNE_CACHE";

    public const string DefaultDirectory = ".sharptune/cache";

    /// <summary>Copies of run manifests, used by <see cref="Collect"/> to know what is still referenced.</summary>
    public const string RunsFolder = "runs";

    public ArtifactCache(string root)
    {
        Root = Path.GetFullPath(root);
    }

    public string Root { get; }

    /// <summary>The cache directory: --cache, else the pipeline's <c>cache:</c>, else $SHARPTUNE_CACHE, else .sharptune/cache.</summary>
    public static string ResolveRoot(string? commandLine, string? pipeline) =>
        commandLine ?? pipeline ?? (Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } env ? env : DefaultDirectory);

    public string ArtifactDirectory(string stage, string key) => Path.Combine(Root, stage, key);

    /// <summary>The complete artifact of <paramref name="stage"/> at <paramref name="key"/>, if there is one.</summary>
    public bool TryGet(string stage, string key, out Artifact artifact)
    {
        string directory = ArtifactDirectory(stage, key);
        if (Directory.Exists(directory) && CompletionMarker.TryRead(directory) is { } marker && marker.Key == key && marker.Stage == stage)
        {
            artifact = new Artifact(stage, key, directory, marker);
            return true;
        }

        artifact = null!;
        return false;
    }

    /// <summary>
    /// Starts writing an artifact: takes the key's lock (fails if another process holds it), deletes partial
    /// directories and broken artifacts that earlier, interrupted attempts left, and creates a fresh partial directory.
    /// </summary>
    public ArtifactWrite BeginWrite(string stage, string key)
    {
        string stageDirectory = Path.Combine(Root, stage);
        Directory.CreateDirectory(stageDirectory);
        string lockPath = Path.Combine(stageDirectory, key + ".lock");
        FileStream lockStream;
        try
        {
            lockStream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new SharpTuneException($"stage {stage}: another process is writing artifact {key[..12]} (lock {lockPath}); wait for it or stop it");
        }

        try
        {
            foreach (string stale in Directory.EnumerateDirectories(stageDirectory, key + ".*"))
            {
                if (!stale.EndsWith(".work", StringComparison.Ordinal))
                {
                    DeleteDirectory(stale);
                }
            }

            string final = ArtifactDirectory(stage, key);
            if (Directory.Exists(final) && !TryGet(stage, key, out _))
            {
                DeleteDirectory(final);
            }

            string partial = $"{final}.partial-{Environment.ProcessId}";
            Directory.CreateDirectory(partial);
            string work = final + ".work";
            Directory.CreateDirectory(work);
            return new ArtifactWrite(this, stage, key, lockStream, partial, work);
        }
        catch
        {
            lockStream.Dispose();
            throw;
        }
    }

    /// <summary>Every complete artifact, by stage then completion time.</summary>
    public IReadOnlyList<Artifact> List()
    {
        var artifacts = new List<Artifact>();
        if (!Directory.Exists(Root))
        {
            return artifacts;
        }

        foreach (string stageDirectory in Directory.EnumerateDirectories(Root))
        {
            string stage = Path.GetFileName(stageDirectory);
            if (stage == RunsFolder)
            {
                continue;
            }

            foreach (string directory in Directory.EnumerateDirectories(stageDirectory))
            {
                string key = Path.GetFileName(directory);
                if (KeyPattern().IsMatch(key) && TryGet(stage, key, out var artifact))
                {
                    artifacts.Add(artifact);
                }
            }
        }

        return artifacts.OrderBy(a => a.Stage, StringComparer.Ordinal).ThenBy(a => a.Marker.Completed).ToList();
    }

    /// <summary>Bytes under a directory (0 when it is gone).</summary>
    public static long SizeOf(string directory) => Directory.Exists(directory)
        ? Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length)
        : 0;

    /// <summary>
    /// Deletes every artifact not in <paramref name="keep"/> (pairs of stage and key), plus leftovers of interrupted
    /// writes whose lock is free. With <paramref name="dryRun"/>, only reports what it would delete.
    /// </summary>
    public CacheCollection Collect(IReadOnlySet<(string Stage, string Key)> keep, bool dryRun)
    {
        var removed = new List<string>();
        long bytes = 0;
        if (!Directory.Exists(Root))
        {
            return new CacheCollection(removed, bytes, 0);
        }

        int kept = 0;
        foreach (string stageDirectory in Directory.EnumerateDirectories(Root))
        {
            string stage = Path.GetFileName(stageDirectory);
            if (stage == RunsFolder)
            {
                continue;
            }

            foreach (string directory in Directory.EnumerateDirectories(stageDirectory))
            {
                string name = Path.GetFileName(directory);
                string key = name.Split('.')[0];
                bool complete = KeyPattern().IsMatch(name) && TryGet(stage, key, out _);
                if (complete && keep.Contains((stage, key)))
                {
                    kept++;
                    continue;
                }

                // A partial or work directory whose writer is alive (lock held) is left alone.
                if (!complete && IsLocked(Path.Combine(stageDirectory, key + ".lock")))
                {
                    continue;
                }

                bytes += SizeOf(directory);
                removed.Add(Path.GetRelativePath(Root, directory));
                if (!dryRun)
                {
                    DeleteDirectory(directory);
                }
            }

            if (!dryRun)
            {
                foreach (string lockFile in Directory.EnumerateFiles(stageDirectory, "*.lock"))
                {
                    string key = Path.GetFileNameWithoutExtension(lockFile);
                    if (!Directory.Exists(Path.Combine(stageDirectory, key)) && !IsLocked(lockFile))
                    {
                        File.Delete(lockFile);
                    }
                }
            }
        }

        return new CacheCollection(removed, bytes, kept);
    }

    private static bool IsLocked(string lockFile)
    {
        if (!File.Exists(lockFile))
        {
            return false;
        }

        try
        {
            using var probe = new FileStream(lockFile, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    internal static void DeleteDirectory(string directory)
    {
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex KeyPattern();
}
