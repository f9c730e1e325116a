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
    [property: JsonPropertyName("skipped")] bool Skipped = false)
{
    /// <summary>
    /// Where the step's time went, in seconds, split at the points where the trainer waits for the GPU anyway: data
    /// (building the micro-batches on the host), compute (forward, loss and backward of every micro-batch),
    /// sync (gradient all-reduce and loss sum over ranks; 0 alone), optimizer (unscale, clipping, AdamW). A single
    /// process without loss scaling does not wait for the GPU before the update, so there compute is the host's time
    /// to queue the work and the GPU's remaining backward lands in optimizer.
    /// </summary>
    [JsonPropertyName("phases_s")]
    public StepPhases? Phases { get; init; }
}

/// <summary>Seconds of one step's phases (see <see cref="TrainingStepMetrics.Phases"/>).</summary>
public sealed record StepPhases(
    [property: JsonPropertyName("data")] double Data,
    [property: JsonPropertyName("compute")] double Compute,
    [property: JsonPropertyName("sync")] double Sync,
    [property: JsonPropertyName("optimizer")] double Optimizer);
