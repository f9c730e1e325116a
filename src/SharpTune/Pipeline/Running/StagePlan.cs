using SharpTune.Pipeline.Cache;

namespace SharpTune.Pipeline.Running;

/// <summary>
/// A stage ready to be looked up or run: its key (from its settings and its inputs' artifacts) and those inputs.
/// </summary>
public sealed record StagePlan(IPipelineStage Stage, ArtifactKey Key, System.Text.Json.Nodes.JsonObject Settings, IReadOnlyDictionary<string, Artifact> Inputs);
