using System.Text.Json.Nodes;
using SharpTune.Pipeline.Config;

namespace SharpTune.Pipeline.Running;

/// <summary>
/// One stage of a pipeline. Its output is an artifact keyed by <see cref="ResolveSettings"/> (everything that
/// decides the output, local files by content), its inputs' artifacts and the tool's version.
/// </summary>
public interface IPipelineStage
{
    /// <summary>The stage's name, also its Cake task and its folder in the cache ("TrainLoRA").</summary>
    string Name { get; }

    /// <summary>One line for listings and --help.</summary>
    string Description { get; }

    /// <summary>The stages whose artifacts this one reads.</summary>
    IReadOnlyList<string> Inputs { get; }

    /// <summary>
    /// The settings that decide this stage's output, resolved (defaults filled in, local files by SHA-256 rather
    /// than by path alone), as JSON for the cache key. Never secrets.
    /// </summary>
    JsonObject ResolveSettings(PipelineDefinition pipeline);

    /// <summary>Writes the stage's output into <see cref="StageContext.OutputDirectory"/>.</summary>
    Task RunAsync(StageContext context, CancellationToken cancellationToken);
}
