namespace SharpTune.Training;

/// <summary>What a training run did: the steps' metrics (including those before a resume), where the adapter is.</summary>
/// <param name="OffloadedBytes">
/// With <c>offload_mlp_layers</c>: the bytes the last micro-batch's forward sent to host memory (0: nothing was
/// offloaded); null when it was off.
/// </param>
public sealed record TrainingResult(IReadOnlyList<TrainingStepMetrics> Steps, string AdapterDirectory, int ResumedFromStep, long? PeakGpuMemoryBytes, int? CheckpointLayers = null,
    long? OffloadedBytes = null);
