using System.Diagnostics;

namespace SharpTune.Pipeline.Cache;

/// <summary>
/// One stage writing its artifact: holds the artifact's lock, owns <see cref="PartialDirectory"/>
/// (<c>&lt;key&gt;.partial-&lt;pid&gt;</c>), and on <see cref="Commit"/> writes <c>complete.json</c> last and renames the
/// directory to <c>&lt;key&gt;</c>. Disposed without a commit (an exception), the partial directory is deleted; killed
/// outright, it stays behind looking incomplete and the next writer of that key deletes it.
/// <see cref="WorkDirectory"/> survives failures (a trainer's checkpoints, for resuming) and is removed on commit.
/// </summary>
public sealed class ArtifactWrite : IDisposable
{
    private readonly ArtifactCache _cache;
    private readonly FileStream _lock;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private bool _done;

    internal ArtifactWrite(ArtifactCache cache, string stage, string key, FileStream lockStream, string partial, string work)
    {
        _cache = cache;
        Stage = stage;
        Key = key;
        _lock = lockStream;
        PartialDirectory = partial;
        WorkDirectory = work;
    }

    public string Stage { get; }

    public string Key { get; }

    /// <summary>Where the stage writes its output.</summary>
    public string PartialDirectory { get; }

    /// <summary>Scratch space that survives an interrupted attempt at the same key (checkpoints), removed on commit.</summary>
    public string WorkDirectory { get; }

    /// <summary>
    /// Seals the artifact: digest of the files, <c>complete.json</c>, then the rename to its final name (replacing
    /// an existing artifact of that key when the stage was forced to run again).
    /// </summary>
    public Artifact Commit(string toolVersion, System.Text.Json.Nodes.JsonObject? keyDocument, IReadOnlyDictionary<string, string> outputs)
    {
        ObjectDisposedException.ThrowIf(_done, this);
        string digest = DirectoryDigest.Compute(PartialDirectory, [CompletionMarker.FileName]);
        var marker = new CompletionMarker(CompletionMarker.CurrentSchema, Stage, Key, digest, DateTimeOffset.UtcNow,
            Math.Round(_clock.Elapsed.TotalSeconds, 3), toolVersion, keyDocument, outputs);
        marker.WriteTo(PartialDirectory);

        string final = _cache.ArtifactDirectory(Stage, Key);
        string? old = null;
        if (Directory.Exists(final))
        {
            old = $"{final}.old-{Environment.ProcessId}";
            ArtifactCache.DeleteDirectory(old);
            Directory.Move(final, old);
        }

        Directory.Move(PartialDirectory, final);
        _done = true;
        if (old is not null)
        {
            ArtifactCache.DeleteDirectory(old);
        }

        ArtifactCache.DeleteDirectory(WorkDirectory);
        Release();
        return new Artifact(Stage, Key, final, marker);
    }

    public void Dispose()
    {
        if (!_done)
        {
            _done = true;
            ArtifactCache.DeleteDirectory(PartialDirectory);
        }

        Release();
    }

    private void Release() => _lock.Dispose();
}
