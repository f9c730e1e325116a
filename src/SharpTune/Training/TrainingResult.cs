namespace SharpTune.Training;

/// <summary>What a training run did: the steps' metrics (including those before a resume), where the adapter is.</summary>
public sealed record TrainingResult(IReadOnlyList<TrainingStepMetrics> Steps, string AdapterDirectory, int ResumedFromStep, long? PeakGpuMemoryBytes, int? CheckpointLayers = null);
