using SharpTune.Pipeline.Cache;
using SharpTune.Pipeline.Config;

namespace SharpTune.Pipeline.Running;

/// <summary>
/// A stage whose work also lands outside the cache (a published folder). Its cached artifact counts as a hit only
/// while that outside copy is still intact; otherwise the stage runs again.
/// </summary>
public interface IExternalOutputStage : IPipelineStage
{
    /// <summary>Whether what <paramref name="artifact"/> recorded is still in place; a reason when it is not.</summary>
    bool IsStillInPlace(Artifact artifact, PipelineDefinition pipeline, out string? reason);
}
