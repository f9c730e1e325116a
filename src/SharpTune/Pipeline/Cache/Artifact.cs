namespace SharpTune.Pipeline.Cache;

/// <summary>A complete artifact in the cache: a stage's output directory and its completion marker.</summary>
public sealed record Artifact(string Stage, string Key, string Directory, CompletionMarker Marker)
{
    public ArtifactInput AsInput() => new(Key, Marker.Digest);

    /// <summary>The path of one of the stage's named outputs (relative paths are inside the artifact).</summary>
    public string? Output(string name) => Marker.Outputs.TryGetValue(name, out var value) ? Path.Combine(Directory, value) : null;
}
