using System.Text.Json.Serialization;

namespace SharpTune.Training;

/// <summary>One optimizer step's numbers, as written to the JSONL log (one object per line).</summary>
public sealed record TrainingStepMetrics(
    [property: JsonPropertyName("step")] int Step,
    [property: JsonPropertyName("loss")] double Loss,
    [property: JsonPropertyName("lr")] double LearningRate,
    [property: JsonPropertyName("grad_norm")] double GradNorm,
    [property: JsonPropertyName("tokens")] long Tokens,
    [property: JsonPropertyName("tokens_per_s")] double TokensPerSecond,
    [property: JsonPropertyName("step_s")] double StepSeconds,
    [property: JsonPropertyName("peak_gpu_memory_bytes")] long? PeakGpuMemoryBytes,
    [property: JsonPropertyName("skipped")] bool Skipped = false);
