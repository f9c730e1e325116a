namespace SharpTune.Pipeline.Config;

/// <summary>
/// A validated pipeline: every stage's settings with defaults filled in. Relative paths in it are relative to the
/// directory the pipeline runs in (the repository root for <c>./build.sh</c>).
/// </summary>
/// <param name="Name">Names the run's output folder and its manifests.</param>
/// <param name="Source">The file it was read from, or <see cref="PipelineLoader.EmbeddedDefaultName"/>.</param>
/// <param name="SourceSha256">SHA-256 of the file's text, recorded in run manifests.</param>
/// <param name="OutputDirectory">Where runs write their manifests (default <c>out/&lt;name&gt;</c>).</param>
/// <param name="CacheDirectory">The artifact cache, or null for the default (<c>$SHARPTUNE_CACHE</c>, else <c>.sharptune/cache</c>).</param>
public sealed record PipelineDefinition(
    string Name,
    string Source,
    string SourceSha256,
    ModelSettings Model,
    DatasetSettings Dataset,
    PromptSettings Prompt,
    QuantizeSettings Quantize,
    LoraSettings Lora,
    TrainingSettings Training,
    EvaluateSettings Evaluate,
    ExportSettings Export,
    PublishSettings Publish,
    string OutputDirectory,
    string? CacheDirectory);
