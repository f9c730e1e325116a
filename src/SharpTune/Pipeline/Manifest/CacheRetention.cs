using SharpTune.Pipeline.Cache;

namespace SharpTune.Pipeline.Manifest;

/// <summary>
/// <c>sharptune cache gc</c>: keeps the artifacts that the latest <c>keepRuns</c> runs of each pipeline used
/// (read from the manifest copies in the cache) and deletes the rest, with the manifests of forgotten runs.
/// </summary>
public static class CacheRetention
{
    public static CacheCollection Collect(ArtifactCache cache, int keepRuns = 1, bool all = false, bool dryRun = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(keepRuns);
        var keep = new HashSet<(string, string)>();
        var manifests = RunManifestStore.ListInCache(cache);
        var keptRuns = new HashSet<(string, string)>();
        if (!all)
        {
            foreach (var group in manifests.GroupBy(m => m.Pipeline))
            {
                foreach (var manifest in group.OrderByDescending(m => m.Updated).Take(keepRuns))
                {
                    keptRuns.Add((manifest.Pipeline, manifest.RunId));
                    foreach (var stage in manifest.Stages)
                    {
                        if (stage.Key is not null && stage.Outcome is StageOutcome.Ran or StageOutcome.Cached)
                        {
                            keep.Add((stage.Stage, stage.Key));
                        }
                    }
                }
            }
        }

        var result = cache.Collect(keep, dryRun);
        if (!dryRun)
        {
            foreach (var manifest in manifests.Where(m => !keptRuns.Contains((m.Pipeline, m.RunId))))
            {
                File.Delete(Path.Combine(cache.Root, ArtifactCache.RunsFolder, manifest.Pipeline, manifest.RunId + ".json"));
            }
        }

        return result;
    }
}
