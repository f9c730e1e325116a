namespace SharpTune.Pipeline.Cache;

/// <summary>What <see cref="ArtifactCache.Collect"/> removed (paths relative to the cache), the bytes freed and how many artifacts it kept.</summary>
public sealed record CacheCollection(IReadOnlyList<string> Removed, long Bytes, int Kept);
