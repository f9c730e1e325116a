namespace SharpTune.Pipeline.Manifest;

/// <summary>
/// What one run of a pipeline did: the pipeline (file and hash), the tool versions, and a record per stage in the
/// order they finished. Stages run in separate processes add their records to the same manifest.
/// </summary>
public sealed record RunManifest(
    int Schema,
    string RunId,
    string Pipeline,
    string PipelineSource,
    string PipelineSha256,
    string CacheDirectory,
    DateTimeOffset Started,
    DateTimeOffset Updated,
    IReadOnlyDictionary<string, string> Versions,
    IReadOnlyList<StageRecord> Stages)
{
    public const int CurrentSchema = 1;
    public const string FileName = "manifest.json";
}
